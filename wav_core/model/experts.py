"""Value expert V and action expert A: one block per world block, each cross-attending to the cached
hidden states of the world block at the same depth (the fast feature mode's per-block features)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..robot.units import ARM_DOF
from .config import ModelConfig
from .layers import Attention, FeedForward, TimeEmbedding, modulate, norm

KV = tuple[torch.Tensor, torch.Tensor]


class ExpertBlock(nn.Module):
    """adaLN(flow time) self-attention -> cross-attention(s) -> adaLN FFN.

    The action block has a second cross-attention to the value expert's states, added in parallel
    with the video one: h = h + attn_video(h) + attn_value(h).
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float, video_dim: int, with_value: bool):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = norm(dim), norm(dim), norm(dim)
        self.mod_offset = nn.Parameter(torch.zeros(6, dim))
        self.attn = Attention(dim, heads)
        self.video_attn = Attention(dim, heads, kv_dim=video_dim)
        self.value_attn = Attention(dim, heads) if with_value else None
        self.mlp = FeedForward(dim, mlp_ratio)

    def forward(self, x: torch.Tensor, mod: torch.Tensor, video_kv: KV, value_kv: KV | None = None) -> torch.Tensor:
        # mod [B, 6, D]: the expert's shared adaLN projection of the flow time (adaLN-single).
        sh1, sc1, g1, sh2, sc2, g2 = (mod + self.mod_offset)[:, :, None].unbind(1)
        x = x + g1 * self.attn(modulate(self.norm1(x), sh1, sc1))
        h = self.norm2(x)
        x = x + self.video_attn(h, kv=video_kv)
        if self.value_attn is not None and value_kv is not None:
            x = x + self.value_attn(h, kv=value_kv)
        return x + g2 * self.mlp(modulate(self.norm3(x), sh2, sc2))


class _Expert(nn.Module):
    def __init__(self, cfg: ModelConfig, n_tokens: int, with_value: bool):
        super().__init__()
        e = cfg.expert
        self.time = TimeEmbedding(e.dim)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(e.dim, 6 * e.dim))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)
        self.pos = nn.Parameter(torch.randn(n_tokens, e.dim) * 0.02)
        self.blocks = nn.ModuleList(
            ExpertBlock(e.dim, e.heads, e.mlp_ratio, cfg.world.dim, with_value) for _ in range(cfg.world.depth)
        )
        self.norm_out = norm(e.dim)

    def modulation(self, t: torch.Tensor) -> torch.Tensor:
        """Flow times [B] -> the shared adaLN modulation [B, 6, D]. A solve computes it once for all
        its steps and passes each step's row as `mod` (every sample of a step shares its time)."""
        return self.ada(self.time(t)).unflatten(-1, (6, -1))

    def video_kv(self, states: list[torch.Tensor]) -> list[KV]:
        """Project the cached world states once; every flow step of this expert reuses them."""
        return [blk.video_attn.project_kv(s) for blk, s in zip(self.blocks, states)]


class ValueExpert(_Expert):
    """Flow-matching generator of the value chunk [H, C] (symlog-normalised reward-to-go)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg, cfg.action_horizon, with_value=False)
        self.world_tokens = cfg.world_tokens
        # value_reads 'future': (views, tokens per view, first future token) of the world's states.
        self.future_tokens = None
        if cfg.value_reads == "future":
            n = cfg.tokens_per_frame
            self.future_tokens = (len(cfg.views), (cfg.n_history + cfg.n_future) * n, cfg.n_history * n)
        self.inp = nn.Linear(cfg.value_channels, cfg.expert.dim)
        self.out = nn.Linear(cfg.expert.dim, cfg.value_channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def video_kv(self, states: list[torch.Tensor]) -> list[KV]:
        states = [s[:, :self.world_tokens] for s in states]
        if self.future_tokens is not None:
            v, per_view, first = self.future_tokens
            states = [s.unflatten(1, (v, per_view))[:, :, first:].flatten(1, 2) for s in states]
        return super().video_kv(states)

    def forward(self, x: torch.Tensor, t: torch.Tensor | None, video_kv: list[KV], return_states: bool = False,
                mod: torch.Tensor | None = None):
        """x [B, H, C] at flow time t [B] -> velocity [B, H, C] (and per-block states [B, H, D]);
        `mod` [1 or B, 6, D]: `modulation` computed by the caller, in place of t."""
        h = self.inp(x) + self.pos
        temb = self.modulation(t) if mod is None else mod
        states = []
        for blk, kv in zip(self.blocks, video_kv):
            h = blk(h, temb, kv)
            states.append(h)
        vel = self.out(self.norm_out(h))
        return (vel, states) if return_states else vel


class ActionExpert(_Expert):
    """Flow-matching generator of the action chunk; the proprio state is a prefix token."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg, cfg.action_horizon + 1, with_value=True)
        self.state_in = nn.Linear(cfg.state_dim, cfg.expert.dim)
        self.inp = nn.Linear(cfg.action_dim, cfg.expert.dim)
        self.out = nn.Linear(cfg.expert.dim, cfg.action_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        # action_reads 'observation': the current frame's latent tokens that follow the world's states.
        self.world_tokens, self.obs_in = cfg.world_tokens, None
        if cfg.action_reads == "observation":
            self.obs_in = nn.Linear(cfg.tokenizer.latent_channels * cfg.world.patch ** 2, cfg.world.dim)
            self.obs_pos = nn.Parameter(torch.randn(cfg.state_tokens - cfg.world_tokens, cfg.world.dim) * 0.02)
        self.frame_norm = cfg.action_frame_norm
        if cfg.action_frame_norm:
            shape = (cfg.state_tokens - cfg.world_tokens, self.obs_in.in_features)
            self.register_buffer("frame_mean", torch.zeros(shape))
            self.register_buffer("frame_std", torch.ones(shape))
            self.register_buffer("frame_norm_set", torch.zeros(()))
        self.readout = None
        if cfg.action_readout:
            flat = (cfg.state_tokens - cfg.world_tokens) * self.obs_in.in_features
            d = cfg.world.dim
            self.readout = nn.Sequential(nn.Linear(flat, 2 * d), nn.GELU(), nn.Linear(2 * d, cfg.action_readout * d))
        # keyframe_weight > 0: a head that training supervises (keyframe_reads); keyframe_goal: its goal's projection.
        self.keyframe, self.keyframe_reads, self.goal_in = None, cfg.keyframe_reads, None
        if cfg.keyframe_weight > 0:
            d = cfg.world.dim
            if cfg.keyframe_reads == "readout":
                self.keyframe = nn.Linear(cfg.action_readout * d, cfg.state_dim)
            else:
                flat = (cfg.state_tokens - cfg.world_tokens) * self.obs_in.in_features
                self.keyframe = nn.Sequential(nn.Linear(flat, 2 * d), nn.GELU(), nn.Linear(2 * d, 2 * d), nn.GELU(),
                                              nn.Linear(2 * d, cfg.state_dim))
        self.goal_entry = cfg.keyframe_goal_entry
        if cfg.keyframe_goal:
            self.goal_in = nn.Linear(cfg.state_dim, cfg.world.dim)
            if self.goal_entry == "context":  # a model trained without a goal starts out unchanged
                nn.init.zeros_(self.goal_in.weight)
                nn.init.zeros_(self.goal_in.bias)

        # action_prior: a dense regression of the chunk that the flow's residual is added to.
        # action_prior_gate: one more output per arm, the logit of "this arm approaches a grasp".
        self.prior, self.chunk_shape = None, (cfg.action_horizon, cfg.action_dim)
        self.prior_gate = cfg.action_prior_gate
        if cfg.action_prior:
            n_in = (cfg.state_tokens - cfg.world_tokens) * self.obs_in.in_features + cfg.state_dim
            h, n_out = cfg.action_prior_hidden, cfg.action_horizon * cfg.action_dim
            if self.prior_gate:
                n_out += cfg.action_dim // ARM_DOF
            self.prior = nn.Sequential(nn.Linear(n_in, h), nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, h),
                                       nn.GELU(), nn.Linear(h, n_out))
            mask = torch.zeros(cfg.action_dim) if cfg.action_prior_joints else torch.ones(cfg.action_dim)
            mask[list(cfg.action_prior_joints)] = 1.0
            self.register_buffer("prior_mask", mask, persistent=False)

    def _readout(self, obs: torch.Tensor) -> torch.Tensor:
        return self.readout(obs.flatten(1)).unflatten(-1, (-1, self.obs_pos.shape[-1]))

    def prior_input(self, states: list[torch.Tensor], state: torch.Tensor) -> torch.Tensor:
        """[B, n_in] what the prior reads: the current frame's latents that ride on `states`, every view
        flattened, and the normalised state [B, S]."""
        obs = self._frame(states).flatten(1)
        if state.shape[0] != obs.shape[0]:
            state = state.expand(obs.shape[0], -1)
        return torch.cat([obs, state], 1)

    def prior_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The prior on its input [B, n_in]: its chunk [B, H, A] (normalised actions, 0 outside
        `action_prior_joints`, before any gate) and, under `action_prior_gate`, each arm's gate
        logit [B, arms] (None otherwise)."""
        out = self.prior(x)
        n = self.chunk_shape[0] * self.chunk_shape[1]
        chunk = out[:, :n].unflatten(-1, self.chunk_shape) * self.prior_mask
        return chunk, (out[:, n:] if self.prior_gate else None)

    def gated(self, chunk: torch.Tensor, gate: torch.Tensor | None) -> torch.Tensor:
        """The chunk a plan adds: each arm's columns scaled by its gate's probability."""
        if gate is None:
            return chunk
        return chunk * self.gate_columns(gate)

    @staticmethod
    def gate_columns(gate: torch.Tensor) -> torch.Tensor:
        """[B, 1, A] each arm's gate probability on each of its action columns (gate: logits [B, arms])."""
        return torch.sigmoid(gate).repeat_interleave(ARM_DOF, -1)[:, None]

    def hushed_noise(self, noise: torch.Tensor, states: list[torch.Tensor], state: torch.Tensor) -> torch.Tensor:
        """The flow noise [B, H, A] scaled per arm by 1 - its gate's probability: an arm the prior
        steers to a grasp is decoded at the flow's noise-free solve, the others from the drawn noise
        (`PlannerConfig.action_noise_gated`). Unchanged without a gate."""
        if self.prior is None or not self.prior_gate:
            return noise
        _, gate = self.prior_outputs(self.prior_input(states, state))
        gate = gate.masked_fill(~self.steered_arms, float("-inf"))  # an arm outside the prior has an untrained gate
        return noise * (1.0 - self.gate_columns(gate)).to(noise.device, noise.dtype)

    @property
    def steered_arms(self) -> torch.Tensor:
        """[arms] bool: the arms with a column in `action_prior_joints`, whose gates the prior learns."""
        return self.prior_mask.unflatten(0, (-1, ARM_DOF)).amax(1) > 0

    def prior_chunk(self, states: list[torch.Tensor], state: torch.Tensor) -> torch.Tensor | None:
        """[B, H, A] the chunk the prior adds to the flow's (normalised actions), gated under
        `action_prior_gate`; None without `action_prior`."""
        if self.prior is None:
            return None
        return self.gated(*self.prior_outputs(self.prior_input(states, state)))

    def prior_error(self, prior: torch.Tensor, target: torch.Tensor, gate: torch.Tensor | None = None,
                    approach: torch.Tensor | None = None) -> torch.Tensor:
        """[B] the prior's squared error on the chunk [B, H, A], averaged over `action_prior_joints`.
        Under `action_prior_gate` the error counts only the arms that approach a grasp (`approach`
        [B, arms], the dataset's labels), and the gate's cross-entropy against those labels is added
        for every arm the prior steers."""
        mask = self.prior_mask
        if gate is None:
            return ((prior - target) * mask).pow(2).sum(-1).mean(1) / mask.sum()
        if approach is None:
            raise ValueError("action_prior_gate: the batch has no 'approach' labels (wav_core.data.torch_dataset)")
        cols = approach.repeat_interleave(ARM_DOF, -1)[:, None]
        err = ((prior - target) * mask * cols).pow(2).sum(-1).mean(1) / mask.sum()
        arms = self.steered_arms
        bce = F.binary_cross_entropy_with_logits(gate[:, arms], approach[:, arms], reduction="none").mean(-1)
        return err + bce

    def _frame(self, states: list[torch.Tensor]) -> torch.Tensor:
        """The current frame's latents that ride on every block's states (standardised under
        `action_frame_norm`)."""
        frame = states[0][:, self.world_tokens:, :self.obs_in.in_features]
        return (frame - self.frame_mean) / self.frame_std if self.frame_norm else frame

    @property
    def frame_norm_pending(self) -> bool:
        """`action_frame_norm` whose statistics have not been set yet (`set_frame_norm`)."""
        return self.frame_norm and not bool(self.frame_norm_set)

    @torch.no_grad()
    def set_frame_norm(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-feature mean and spread [tokens, features] of the training set's current-frame latents
        as they ride on the states (`LatentCache.frame_statistics`)."""
        for name, v in (("mean", mean), ("std", std)):
            if v.shape != self.frame_mean.shape or not torch.isfinite(v).all():
                raise ValueError(f"set_frame_norm: {name} of shape {tuple(v.shape)}, expected finite values of "
                                 f"shape {tuple(self.frame_mean.shape)}")
        if not (std > 0).all():
            raise ValueError("set_frame_norm: std must be > 0 for every feature")
        self.frame_mean.copy_(mean)
        self.frame_std.copy_(std)
        self.frame_norm_set.fill_(1.0)

    def predict_keyframe(self, states: list[torch.Tensor]) -> torch.Tensor:
        """[B, state_dim] each arm's normalised state at its next gripper change, read from the
        current frame's latents that ride on `states`."""
        if self.keyframe is None:
            raise ValueError("predict_keyframe: the model has no keyframe head (keyframe_weight is 0)")
        obs = self._frame(states)
        return self.keyframe(self._readout(obs).flatten(1) if self.keyframe_reads == "readout" else obs.flatten(1))

    def video_kv(self, states: list[torch.Tensor], goal: torch.Tensor | None = None) -> list[KV]:
        """`goal` [B, state_dim]: the keyframe the chunk heads for (`keyframe_goal`; training passes
        the true one); by default the head's prediction."""
        if self.obs_in is not None:
            n = self.world_tokens
            obs = self._frame(states)
            extra = [self.obs_in(obs) + self.obs_pos]
            if self.readout is not None:
                extra.append(self._readout(obs))
            shift = None
            if self.goal_in is not None:
                shift = self.goal_in(self.predict_keyframe(states) if goal is None else goal)[:, None]
                if self.goal_entry == "token":
                    extra.append(shift)
                    shift = None
            extra = torch.cat(extra, 1)
            states = [torch.cat([s[:, :n], extra], 1) for s in states]
            if shift is not None:
                states = [s + shift for s in states]
        return super().video_kv(states)

    def value_kv(self, value_states: list[torch.Tensor]) -> list[KV]:
        return [blk.value_attn.project_kv(s) for blk, s in zip(self.blocks, value_states)]

    def forward(self, x: torch.Tensor, t: torch.Tensor | None, state: torch.Tensor,
                video_kv: list[KV], value_kv: list[KV], mod: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, H, A] at flow time t [B], state [B, S] -> velocity [B, H, A]; `mod` as the value
        expert's."""
        h = torch.cat([self.state_in(state)[:, None], self.inp(x)], 1) + self.pos
        temb = self.modulation(t) if mod is None else mod
        for blk, vkv, ukv in zip(self.blocks, video_kv, value_kv):
            h = blk(h, temb, vkv, ukv)
        return self.out(self.norm_out(h[:, 1:]))
