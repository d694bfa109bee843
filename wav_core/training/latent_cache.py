"""Tokenizer latents of every frame, computed once for the world, value and action stages.

The tokenizer is frozen after its own stage, so encoding the same frames again at every step of the
later stages only repeats work (about half of a world step on a CPU). The cache holds each
episode's latents at the model resolution; a batch then gathers its history and future latents by
(episode, tick) and the loader no longer reads images at all.
"""

from __future__ import annotations

import torch

from ..data.torch_dataset import WavDataset


class LatentCache:
    def __init__(self, latents: dict[int, torch.Tensor]):
        self.latents = latents
        """episode -> [V, T, C, h, w]"""

    @classmethod
    @torch.no_grad()
    def build(cls, tokenizer, ds: WavDataset, device: torch.device | str = "cpu", chunk: int = 256) -> "LatentCache":
        was_training = tokenizer.training
        tokenizer.eval()
        out = {}
        try:
            for ep in ds.data.episodes:
                ticks = list(range(ep.ticks))
                per_cam = []
                for cam in ds.cameras:
                    frames = ds.frames(ep.index, cam, ticks)
                    per_cam.append(torch.cat([tokenizer.latents(frames[i:i + chunk].to(device))
                                              for i in range(0, len(ticks), chunk)]))
                out[ep.index] = torch.stack(per_cam)
        finally:
            tokenizer.train(was_training)
        return cls(out)

    def at(self, ds: WavDataset, episode: int, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """History [V, Fh, C, h, w] and future [V, Ff, C, h, w] latents of the sample at tick t."""
        h, f = ds.frame_ticks(int(episode), int(t))
        lat = self.latents[int(episode)]
        return lat[:, h], lat[:, f]

    def gather(self, ds: WavDataset, episodes, ticks) -> tuple[torch.Tensor, torch.Tensor]:
        """History [B, V, Fh, C, h, w] and future [B, V, Ff, C, h, w] latents of a batch's samples."""
        hist, fut = zip(*(self.at(ds, ep, t) for ep, t in zip(episodes, ticks)))
        return torch.stack(hist), torch.stack(fut)

    @torch.no_grad()
    def frame_statistics(self, world) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-feature mean and spread [tokens, features] over every cached frame, arranged as the
        world appends the current frame to its states (`action_frame_norm`)."""
        total, sq, n = 0.0, 0.0, 0
        for lat in self.latents.values():
            tokens = world.frame_tokens(lat.transpose(0, 1).float()).double()  # [T, tokens, features]
            total, sq, n = total + tokens.sum(0), sq + tokens.pow(2).sum(0), n + len(tokens)
        if n < 2:
            raise ValueError(f"frame statistics need at least 2 cached frames, got {n}")
        mean = total / n
        std = ((sq - n * mean.pow(2)) / (n - 1)).clamp_min(0).sqrt()
        return mean.float(), (std + 1e-4).float()
