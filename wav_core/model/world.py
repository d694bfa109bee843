"""World module W: a DiT over the latent tokens of all views.

Views are folded into the batch; attention stays inside each view except in every
`cross_view_every`-th block, where it spans all views. Memory frames are clean context (flow time 0),
the future chunk is the flow variable. Modulation is adaLN-single: one shared projection of the
(time + view) conditioning plus a learned per-block offset, which keeps the paper-scale model near
its published size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .layers import Attention, FeedForward, TimeEmbedding, modulate, norm


class WorldBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, text_dim: int, cross_view: bool):
        super().__init__()
        self.cross_view = cross_view
        self.norm1, self.norm2, self.norm3 = norm(dim), norm(dim), norm(dim)
        self.attn = Attention(dim, heads)
        self.text_attn = Attention(dim, heads, kv_dim=text_dim)
        self.mlp = FeedForward(dim, mlp_ratio)
        self.mod_offset = nn.Parameter(torch.zeros(6, dim))

    def forward(self, x: torch.Tensor, mod: torch.Tensor, views: int, text_kv, text_mask) -> torch.Tensor:
        # x [B*V, L, D]; mod [B*V, L, 6, D]
        sh1, sc1, g1, sh2, sc2, g2 = (mod + self.mod_offset).unbind(2)
        h = modulate(self.norm1(x), sh1, sc1)
        if self.cross_view:
            bv, n, d = h.shape
            h = self.attn(h.reshape(bv // views, views * n, d)).reshape(bv, n, d)
        else:
            h = self.attn(h)
        x = x + g1 * h
        x = x + self.text_attn(self.norm2(x), kv=text_kv, mask=text_mask)
        return x + g2 * self.mlp(modulate(self.norm3(x), sh2, sc2))


class WorldModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        wc, d = cfg.world, cfg.world.dim
        p, c = wc.patch, cfg.tokenizer.latent_channels
        self.patch_in = nn.Linear(c * p * p, d)
        self.patch_out = nn.Linear(d, c * p * p)
        self.pos = nn.Parameter(torch.randn(cfg.tokens_per_frame, d) * 0.02)
        self.frame_pos = nn.Parameter(torch.randn(cfg.n_history + cfg.n_future, d) * 0.02)
        self.view_embed = nn.Parameter(torch.zeros(len(cfg.views), d))
        self.time = TimeEmbedding(d)
        # Prompt features are projected to the world width once, not in every block.
        self.text_proj = nn.Sequential(nn.Linear(cfg.text.dim, d), nn.GELU(), nn.Linear(d, d))
        self.mod = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        self.blocks = nn.ModuleList(
            WorldBlock(d, wc.heads, wc.mlp_ratio, d, cross_view=(i + 1) % wc.cross_view_every == 0)
            for i in range(wc.depth)
        )
        self.norm_out = norm(d)
        self.out_mod = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        nn.init.zeros_(self.mod[1].weight)
        nn.init.zeros_(self.mod[1].bias)
        nn.init.zeros_(self.patch_out.weight)
        nn.init.zeros_(self.patch_out.bias)

    # [B, V, F, C, h, w] <-> [B*V, F*T, C*p*p]
    def _patchify(self, x: torch.Tensor) -> torch.Tensor:
        b, v, f, c, h, w = x.shape
        p = self.cfg.world.patch
        x = x.reshape(b, v, f, c, h // p, p, w // p, p).permute(0, 1, 2, 4, 6, 3, 5, 7)
        return x.reshape(b * v, f * (h // p) * (w // p), c * p * p)

    def frame_tokens(self, latents: torch.Tensor) -> torch.Tensor:
        """[B, V, C, h, w] one frame's latents -> [B, V * tokens_per_frame, C * patch^2], the order in
        which `action_reads: observation` appends the current frame to the states."""
        b = latents.shape[0]
        return self._patchify(latents[:, :, None]).reshape(b, -1, latents.shape[2] * self.cfg.world.patch ** 2)

    def _unpatchify(self, x: torch.Tensor, b: int, f: int) -> torch.Tensor:
        v = len(self.cfg.views)
        p, c = self.cfg.world.patch, self.cfg.tokenizer.latent_channels
        h, w = self.cfg.latent_hw
        x = x.reshape(b, v, f, h // p, w // p, c, p, p).permute(0, 1, 2, 5, 3, 6, 4, 7)
        return x.reshape(b, v, f, c, h, w)

    def forward(self, memory: torch.Tensor, future: torch.Tensor, t: torch.Tensor,
                text: torch.Tensor, text_mask: torch.Tensor,
                return_states: bool = False, return_velocity: bool = True):
        """memory [B,V,Fh,C,h,w] clean latents; future [B,V,Ff,C,h,w] at flow time t [B].

        Returns the future velocity [B,V,Ff,C,h,w] and, with `return_states`, the hidden states of
        every block as [B, V*L, D] (the cached features the value and action experts attend to).
        """
        b, v = future.shape[:2]
        fh, ff = memory.shape[2], future.shape[2]
        if memory.shape[0] != b:
            memory = memory.expand(b, *memory.shape[1:])
        tokens = self._patchify(torch.cat([memory, future], dim=2))
        n_tok = self.cfg.tokens_per_frame
        pos = (self.frame_pos[:, None, :] + self.pos[None]).reshape(-1, self.pos.shape[-1])
        x = self.patch_in(tokens) + pos
        # Per-token flow time: 0 for memory frames, t for the future chunk.
        t_tok = torch.cat([torch.zeros(b, fh * n_tok, device=t.device), t[:, None].expand(b, ff * n_tok)], 1)
        cond = self.time(t_tok)  # [B, L, D]
        cond = (cond[:, None] + self.view_embed[None, :, None, :]).reshape(b * v, -1, cond.shape[-1])
        mod = self.mod(cond).unflatten(-1, (6, -1))
        text = self.text_proj(text)
        states = []
        for blk in self.blocks:
            kv = blk.text_attn.project_kv(text)
            x = blk(x, mod, v, kv, text_mask)
            if return_states:
                states.append(x.reshape(b, v * x.shape[1], x.shape[2]))
        if return_states and self.cfg.action_reads == "observation":
            current = self.frame_tokens(memory[:, :, -1])
            current = F.pad(current, (0, x.shape[-1] - current.shape[-1]))
            states = [torch.cat([s, current], 1) for s in states]
        vel = None
        if return_velocity:
            sh, sc = self.out_mod(cond).chunk(2, dim=-1)
            out = self.patch_out(modulate(self.norm_out(x), sh, sc))
            vel = self._unpatchify(out[:, fh * n_tok:], b, ff)
        return (vel, states) if return_states else vel
