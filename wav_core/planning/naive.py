"""A deliberately naive planner: the same algorithm, one candidate at a time.

It is the reference the benchmark measures the batched planner against, and, fed the same noise,
must produce the same plan (a test checks it)."""

from __future__ import annotations

import torch

from ..model.wav import Context
from .planner import LatentPlanner


class NaivePlanner(LatentPlanner):
    def _features(self, ctx: Context, z_vid: torch.Tensor) -> list[torch.Tensor]:
        per = [self.model.world_features(ctx, z_vid[m:m + 1], self.cfg.feature_steps, self.cfg.S)
               for m in range(z_vid.shape[0])]
        return [torch.cat(block, 0) for block in zip(*per)]

    def _values(self, states: list[torch.Tensor], z_val: torch.Tensor) -> torch.Tensor:
        n = z_val.shape[0] // states[0].shape[0]
        out = []
        for i in range(z_val.shape[0]):
            kv = self.model.value.video_kv([s[i // n:i // n + 1] for s in states])
            out.append(self.model.solve_value(kv, z_val[i:i + 1], self.cfg.value_solve_steps))
        return torch.cat(out, 0)
