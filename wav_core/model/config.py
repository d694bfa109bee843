"""Typed model configuration: the shapes every part of the World-Value-Action stack agrees on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..config.loader import ConfigError
from ..robot.units import ARM_DOF


@dataclass
class TokenizerConfig:
    """Per-frame convolutional VAE: image [3, H, W] -> latent [C, H/2^len(channels), W/2^len(channels)]."""

    channels: list[int] = field(default_factory=lambda: [32, 64, 64])
    latent_channels: int = 8
    kl_weight: float = 1e-4
    detail_weight: float = 0.0
    """Extra reconstruction weight on pixels that differ from their 5x5 neighbourhood (edges and small
    objects), relative to the frame's mean contrast. With plain MSE (0) a few-pixel object, such as
    the drawer task's block at 48x48, costs almost nothing to blur away, and the latents that every
    later stage reads then do not hold where it is."""

    @property
    def downsample(self) -> int:
        return 2 ** len(self.channels)


@dataclass
class TextConfig:
    """Instruction features. `embedding`: a small trainable embedding over hashed words; `t5`: frozen
    T5 encoder loaded from a local directory (never downloaded)."""

    backend: Literal["embedding", "t5"] = "embedding"
    dim: int = 64
    vocab_size: int = 2048
    max_len: int = 16
    t5_path: str = ""


@dataclass
class WorldConfig:
    """DiT over the latent tokens of every view: memory frames are clean context, the future chunk is
    the flow-matching variable."""

    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    patch: int = 1
    cross_view_every: int = 3
    """Attention spans all views in every `cross_view_every`-th block, stays inside each view otherwise."""
    detail_weight: float = 0.0
    """Stage 1 weighs each latent position by 1 + detail_weight x (how far it is from the batch's mean
    scene / the frame's mean such distance): objects placed at random and the arms, not the fixed
    background. A small object fills one latent position; with a uniform loss (0) the world can
    leave it out of its futures."""


@dataclass
class ExpertConfig:
    """Width of the value and action experts; their depth always equals the world depth."""

    dim: int = 64
    heads: int = 4
    mlp_ratio: float = 4.0


@dataclass
class ModelConfig:
    views: list[str] = field(default_factory=lambda: ["cam_high", "cam_left_wrist", "cam_right_wrist"])
    image_size: tuple[int, int] = (32, 32)
    n_history: int = 2
    history_stride: int = 4
    n_future: int = 2
    future_stride: int = 8
    action_dim: int = 14
    state_dim: int = 14
    action_horizon: int = 16
    value_channels: int = 17
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    text: TextConfig = field(default_factory=TextConfig)
    world: WorldConfig = field(default_factory=WorldConfig)
    expert: ExpertConfig = field(default_factory=ExpertConfig)
    caption_dropout: float = 0.06
    conditioning: Literal["paper", "future"] = "paper"
    """What the value and action experts read. `paper`: world features of pure noise at t = 1 and,
    for the action expert, the value expert's states on pure noise (the paper's training recipe).
    `future`: world features of the sample's true future noised to a feature time t_f (training) or of
    a planned candidate denoised to t_f (inference), and the value expert's states on a denoised value
    chunk, so the planned noises reach the decoded action."""
    feature_time: float = 0.5
    """`future`: the flow time at which the planner takes world features when its `feature_steps`
    is 0 (must lie in `feature_time_range`)."""
    feature_time_range: tuple[float, float] = (0.3, 0.8)
    """`future`: feature times drawn uniformly from this range while training the value and action
    experts, so the planner's feature time can be chosen after training."""
    value_clean_prob: float = 0.5
    """`future`: probability that the action expert trains on the clean value chunk (what the planner
    gives it); otherwise on the value noised to a uniform random flow time."""
    action_space: Literal["absolute", "delta"] = "absolute"
    """What the action expert generates: joint set-points (`absolute`, the paper's) or their offsets
    from the state at the tick (`delta`), so that holding the current pose is the zero chunk and the
    expert spends its capacity on the motion rather than on reproducing the state it was given."""
    value_reads: Literal["all", "future"] = "all"
    """Which world states the value expert attends to: every token (`all`, the paper's), or only the
    future frames' tokens (`future`). A value that sees the history tokens can score the phase it
    reads there and ignore the candidate future, so the planner's candidates all score alike; the
    future tokens still carry the history the world mixed into them, but no longer on their own."""
    action_reads: Literal["world", "observation"] = "world"
    """What the action expert attends to besides the value expert: the world's per-block states
    (`world`, the paper's), or those and the current frame's tokenizer latents (`observation`). A
    small world trained only to predict latents washes a small object out of its states (`wav
    probe`); with the frame's latents the action expert can read the object where the tokenizer
    keeps it. The latents ride on the world's states as extra tokens, so every planner backend
    carries them; the value expert does not read them."""
    action_readout: int = 0
    """`action_reads: observation`: tokens of a learned dense readout of the current frame's latents
    (every view, flattened, through a two-layer MLP) that the action expert attends to besides the
    per-patch latents; 0 for none. From ~100 demonstrations, attention over hundreds of patch tokens
    learns slowly to find a small object, while a dense map of the whole frame turns where it sits
    straight into features. On the drawer four readout tokens brought the left tool from 3.6 to
    1.3 cm of the handle (README, run 19)."""
    action_frame_norm: bool = False
    """`action_reads: observation`: standardise the current frame's latents per feature (every view,
    patch and channel; mean and spread of the training set's frames, set once at the start of the
    action stage and kept with the weights) before the action expert's tokens, readout, prior and
    keyframe head read them. A frame network reading the latents unscaled stopped 3.7 cm from the
    drawer's block, standardised 1.7 cm, and every WAV expert, which read them unscaled, 3.5-4.1 cm
    (README, run 37); an expert continued 4000 steps with them standardised still stopped 3.9-4.0 cm
    (run 38)."""
    action_prior: bool = False
    """`action_reads: observation`: the action expert decodes a residual around a dense regression of
    the chunk (an MLP of the current frame's latents, every view flattened, and the state), which the
    action stage fits by squared error on the successful episodes' chunks; the flow then generates
    what the regression leaves: the choice among the plan's futures and the demonstrations' spread.
    On the drawer (README, run 36) it brought the right tool nearer the block on 34 of 40 seeds, but
    its mean chunk blurred the left arm's gripper timing (the drawer opened in 4 of 40): off by default."""
    action_prior_joints: list[int] = field(default_factory=list)
    """Action dimensions the prior predicts (empty: all); the flow alone generates the others. Run 36's
    prior over every dimension blurred the gripper's timing; one over an arm's joints leaves the
    grippers and the other arm to the flow. On the drawer (README, run 40) one over the right arm's
    joints, reading standardised latents, brought its tool within 2-3 cm of the block (4 cm before),
    while the left arm beside it opened fewer drawers and completed nothing."""
    action_prior_gate: bool = False
    """The prior steers an arm only while the arm approaches its next grasp (its next gripper change
    closes it, wav_core.data.keyframes.approaching_grasp): the regression learns the reach there
    alone, a gate it predicts from the same input (one logit per arm, cross-entropy against that
    label) scales its chunk, and the flow generates the arm's whole chunk elsewhere. Run 40's prior
    over the right arm reached the block but then carried it, released it and retreated worse than
    the flow (no drawer closed after 11 placements); this hands the arm back to the flow once it holds."""
    action_prior_window: int | list[int] = 0
    """With `action_prior_gate`: the ticks before each grasp the prior steers (0: the whole approach),
    one number for every arm or one per arm (left first). A left arm that waits by the open drawer for
    the other arm to finish is approaching its regrasp of the handle all that time; a window keeps the
    prior to the final reach (run 44), which the right arm's reach to the block did not need (run 45)."""
    action_prior_hidden: int = 512
    action_prior_weight: float = 1.0
    """Weight of the prior's squared error (normalised action units) beside the flow loss."""
    keyframe_weight: float = 0.0
    """Weight of an auxiliary loss of the action stage: a head predicts each arm's state at its next
    gripper change (wav_core.data.keyframes) from the current frame's latents, in normalised state
    units, squared error. 0: no head. The flow loss of a chunk rewards the motion of the
    demonstration more than its goal; this loss asks for where the goal is (for the drawer's right
    arm, where the block lies)."""
    keyframe_reads: Literal["readout", "frame"] = "frame"
    """What the keyframe head reads: the `action_readout` tokens through one linear layer
    (`readout`, shared with the flow loss), or the frame's latents through its own two-layer MLP
    (`frame`). On the drawer the shared readout explained half the spread of the right arm's grasp
    pose (README, run 27); a separate MLP of the latents explains nine tenths on held-out episodes."""
    keyframe_episodes: Literal["success", "all"] = "success"
    """Whose keyframes the head learns: successful episodes' only (`success`), or every episode's
    (`all`). A failure's next grasp can be anywhere (a noisy or late grasp), and frames that look
    alike then ask for different keyframes; the goal a policy should head for is a success's."""
    keyframe_goal: bool = False
    """The action expert reads the keyframe as its goal in its video cross-attention
    (`keyframe_goal_entry`): in training the true one, perturbed by `keyframe_goal_noise`
    (normalised units), or the head's (`keyframe_goal_source`), at inference the head's prediction. The chunk is then decoded towards a named goal, as in keyframe-then-motion
    policies, and the goal's error is the head's."""
    keyframe_goal_noise: float = 0.05
    keyframe_goal_entry: Literal["token", "context"] = "token"
    """How the goal enters the action expert: one more key of its video cross-attention (`token`),
    or added to every key and value of it through a zero-initialised projection (`context`). Given
    the exact grasp joints as a `token` goal, run 29's expert ended 40 of 40 episodes as before: one
    key among hundreds is easily ignored (README, "The exact goal")."""
    keyframe_goal_source: Literal["recorded", "head"] = "recorded"
    """The goal the action expert reads in training: the recorded keyframe perturbed by
    `keyframe_goal_noise` (`recorded`), or the head's own prediction, detached (`head`), which is
    what it reads at inference. Trained on recorded goals the expert trusts them fully and follows
    the head's error at inference (README, runs 28-29); trained on the head's it learns how far to
    trust them."""
    action_futures: Literal["true", "imagined"] = "true"
    """`future`: the futures stage 3 trains the action expert on. `true`: the sample's true future
    noised to a feature time, with its true value chunk. `imagined`: a future the world imagines from
    noise, denoised to `feature_time` in the planner's Euler steps for `imagined_flow_steps`, and the
    value chunk the value expert denoises for it: what a plan hands the action expert, so training
    and inference inputs match. On the drawer (README, run 16) `imagined` reached the block worse
    than `true`: the true futures teach the reach that the imagined ones still roughly carry."""
    action_value: Literal["chunk", "total"] = "chunk"
    """`future`: what the action expert reads of the value chunk it is to reach. `chunk`: all of it,
    every reward component at every step, which tells the expert much of the motion itself (given the
    tick's true chunk its error drops by a third, README run 21) but is drawn no better by the value
    than the motion is. `total`: only the total-value channel (the other channels held at their mean,
    0 in normalised space), a return to reach: what the planner's score ranks, so a higher-scored
    plan asks the expert for the actions that reached higher values in the data."""
    imagined_flow_steps: int = 5
    """`action_futures: imagined`: the planner's S (flow steps) the imagined futures are made with."""
    time_sampling: Literal["logit_normal", "uniform", "beta"] = "logit_normal"
    """Flow-time distribution of every flow-matching loss: logit-normal (mass in the middle), uniform,
    or Beta(1.5, 1) (mass near t = 1, where every solve starts)."""

    def validate(self) -> None:
        h, w = self.image_size
        step = self.tokenizer.downsample * self.world.patch
        if h % step or w % step:
            raise ConfigError(f"image_size: got {h}x{w}, expected multiples of {step} (tokenizer downsample x patch)")
        for key in ("n_history", "n_future", "action_horizon", "value_channels", "action_dim", "state_dim"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: got {getattr(self, key)}, expected >= 1")
        if self.world.dim % self.world.heads:
            raise ConfigError(f"world.dim: {self.world.dim} is not divisible by world.heads {self.world.heads}")
        if self.expert.dim % self.expert.heads:
            raise ConfigError(f"expert.dim: {self.expert.dim} is not divisible by expert.heads {self.expert.heads}")
        if not self.views:
            raise ConfigError("views: expected at least one camera")
        lo, hi = self.feature_time_range
        if not 0.0 <= lo <= hi < 1.0:
            raise ConfigError(f"feature_time_range: got [{lo}, {hi}], expected 0 <= low <= high < 1")
        if self.conditioning == "future" and not lo <= self.feature_time <= hi:
            raise ConfigError(f"feature_time: got {self.feature_time}, expected a time inside "
                              f"feature_time_range [{lo}, {hi}] (conditioning future)")
        for key, weight in (("tokenizer", self.tokenizer.detail_weight), ("world", self.world.detail_weight)):
            if not weight >= 0.0:
                raise ConfigError(f"{key}.detail_weight: got {weight}, expected a number >= 0")
        if self.action_reads == "observation" and self.world.dim < self.tokenizer.latent_channels * self.world.patch ** 2:
            raise ConfigError(f"action_reads: observation needs world.dim >= latent_channels x patch^2 "
                              f"({self.tokenizer.latent_channels * self.world.patch ** 2}), got {self.world.dim}")
        if self.action_readout < 0:
            raise ConfigError(f"action_readout: got {self.action_readout}, expected >= 0 tokens")
        if self.action_readout and self.action_reads != "observation":
            raise ConfigError(f"action_readout: {self.action_readout} tokens need action_reads: observation, "
                              f"got action_reads {self.action_reads!r}")
        if self.action_frame_norm and self.action_reads != "observation":
            raise ConfigError(f"action_frame_norm: true needs action_reads: observation (it standardises the "
                              f"frame's latents the expert reads), got {self.action_reads!r}")
        if self.action_prior and self.action_reads != "observation":
            raise ConfigError(f"action_prior: true needs action_reads: observation (the prior reads the frame's "
                              f"latents), got {self.action_reads!r}")
        joints = self.action_prior_joints
        if any(not 0 <= j < self.action_dim for j in joints) or len(set(joints)) != len(joints):
            raise ConfigError(f"action_prior_joints: got {joints}, expected distinct indices in [0, {self.action_dim})")
        if joints and not self.action_prior:
            raise ConfigError(f"action_prior_joints: {joints} needs action_prior: true")
        if self.action_prior_gate and not self.action_prior:
            raise ConfigError("action_prior_gate: true needs action_prior: true")
        if self.action_prior_gate and self.action_dim % ARM_DOF:
            raise ConfigError(f"action_prior_gate: true needs whole arms of {ARM_DOF} action channels (one gate "
                              f"per arm), got action_dim {self.action_dim}")
        windows = self.action_prior_window
        arms = self.action_dim // ARM_DOF
        if isinstance(windows, list) and len(windows) != arms:
            raise ConfigError(f"action_prior_window: got {windows}, expected one number or {arms} (one per arm)")
        if min(self.approach_windows, default=0) < 0:
            raise ConfigError(f"action_prior_window: got {windows}, expected ticks >= 0")
        if any(self.approach_windows) and not self.action_prior_gate:
            raise ConfigError(f"action_prior_window: {self.action_prior_window} needs action_prior_gate: true")
        if self.action_prior_hidden < 1:
            raise ConfigError(f"action_prior_hidden: got {self.action_prior_hidden}, expected >= 1")
        if not self.action_prior_weight > 0.0:
            raise ConfigError(f"action_prior_weight: got {self.action_prior_weight}, expected a number > 0")
        if not self.keyframe_weight >= 0.0:
            raise ConfigError(f"keyframe_weight: got {self.keyframe_weight}, expected a number >= 0")
        if self.keyframe_weight > 0 and self.action_reads != "observation":
            raise ConfigError(f"keyframe_weight: {self.keyframe_weight} needs action_reads: observation "
                              f"(the keyframe is read from the frame's latents), got {self.action_reads!r}")
        if self.keyframe_weight > 0 and self.keyframe_reads == "readout" and not self.action_readout:
            raise ConfigError(f"keyframe_reads: readout needs action_readout > 0 tokens, got {self.action_readout}")
        if self.keyframe_goal and not self.keyframe_weight > 0:
            raise ConfigError("keyframe_goal: true needs keyframe_weight > 0 (a trained head predicts the goal)")
        if self.keyframe_goal_source == "head" and not self.keyframe_goal:
            raise ConfigError("keyframe_goal_source: head needs keyframe_goal: true (the expert reads no goal)")
        if not self.keyframe_goal_noise >= 0.0:
            raise ConfigError(f"keyframe_goal_noise: got {self.keyframe_goal_noise}, expected a number >= 0")
        if not 0.0 <= self.value_clean_prob <= 1.0:
            raise ConfigError(f"value_clean_prob: got {self.value_clean_prob}, expected a number in [0, 1]")
        for key, allowed in (("conditioning", ("paper", "future")), ("action_space", ("absolute", "delta")),
                             ("value_reads", ("all", "future")), ("action_reads", ("world", "observation")),
                             ("action_futures", ("true", "imagined")), ("action_value", ("chunk", "total")),
                             ("time_sampling", ("logit_normal", "uniform", "beta")),
                             ("keyframe_reads", ("readout", "frame")), ("keyframe_episodes", ("success", "all")),
                             ("keyframe_goal_source", ("recorded", "head")),
                             ("keyframe_goal_entry", ("token", "context"))):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key}: got {getattr(self, key)!r}, expected one of {list(allowed)}")

        if self.action_futures == "imagined" and self.conditioning != "future":
            raise ConfigError(f"action_futures: imagined needs conditioning: future, got conditioning "
                              f"{self.conditioning!r} (under paper the action expert reads no future)")
        if self.action_value == "total" and self.conditioning != "future":
            raise ConfigError(f"action_value: total needs conditioning: future, got conditioning "
                              f"{self.conditioning!r} (under paper the action expert reads the value noise)")
        if self.imagined_flow_steps < 1:
            raise ConfigError(f"imagined_flow_steps: got {self.imagined_flow_steps}, expected >= 1")

    @property
    def approach_windows(self) -> list[int]:
        """`action_prior_window` per arm."""
        windows = self.action_prior_window
        return list(windows) if isinstance(windows, list) else [windows] * (self.action_dim // ARM_DOF)

    @property
    def latent_hw(self) -> tuple[int, int]:
        d = self.tokenizer.downsample
        return self.image_size[0] // d, self.image_size[1] // d

    @property
    def world_tokens(self) -> int:
        """Tokens of the world's own states per block: every view's history and future frames."""
        return len(self.views) * (self.n_history + self.n_future) * self.tokens_per_frame

    @property
    def value_tokens(self) -> int:
        """Tokens of those states the value expert attends to (`value_reads`)."""
        frames = self.n_future if self.value_reads == "future" else self.n_history + self.n_future
        return len(self.views) * frames * self.tokens_per_frame

    @property
    def state_tokens(self) -> int:
        """Tokens of the cached states the experts read: the world's, then under `action_reads:
        observation` the current frame's latents (one token per view and latent patch)."""
        extra = len(self.views) * self.tokens_per_frame if self.action_reads == "observation" else 0
        return self.world_tokens + extra

    @property
    def action_kv_tokens(self) -> int:
        """Tokens the action expert's video cross-attention reads: the states, then `action_readout`,
        then the keyframe goal (`keyframe_goal`)."""
        return self.state_tokens + self.action_readout + int(self.keyframe_goal and self.keyframe_goal_entry == "token")

    @property
    def tokens_per_frame(self) -> int:
        h, w = self.latent_hw
        return (h // self.world.patch) * (w // self.world.patch)

    @property
    def future_latent_shape(self) -> tuple[int, ...]:
        """Shape of one candidate's video noise: [V, n_future, C, h, w]."""
        h, w = self.latent_hw
        return (len(self.views), self.n_future, self.tokenizer.latent_channels, h, w)

    @property
    def value_shape(self) -> tuple[int, int]:
        return (self.action_horizon, self.value_channels)
