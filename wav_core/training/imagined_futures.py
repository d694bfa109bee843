"""The futures a plan hands the action expert, for stage 3 under `action_futures: imagined`.

At K = 0 the planner draws a video noise, lets the world denoise it to the feature time, and has the
value expert denoise a value chunk against the world's states of that future; the action expert
reads both. `imagine` makes exactly that for training samples (the model's own
`imagine`/`solve_value`, with the planner's flow steps), so the action expert is fitted to the
inputs it will be given rather than to true futures no plan reproduces.

The world and the value expert are frozen in stage 3, so one sample's imagined future depends only
on its noise: `ImaginedFutures` draws that noise from the sample's (episode, tick) and keeps the
result, and each tick costs the world's solve once per stage instead of at every visit.
"""

from __future__ import annotations

import torch

from ..model.wav import Context, WAVModel


def sample_generator(seed: int, episode: int, tick: int) -> torch.Generator:
    """The noise of one training sample's imagined future: a function of the sample alone, so a
    batch's composition, the device and a resumed run draw the same futures."""
    return torch.Generator().manual_seed((seed * 1_000_003 + episode) * 1_000_033 + tick)


@torch.no_grad()
def imagine(model: WAVModel, ctx: Context, z_vid: torch.Tensor, z_val: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Futures denoised to the model's feature time from `z_vid` [B, *future_latent_shape] and the
    value chunks (normalised) the value expert denoises from `z_val` [B, *value_shape] against them,
    both in `imagined_flow_steps` as the planner's decode makes them at K = 0."""
    steps = model.cfg.imagined_flow_steps
    x, t_feat = model.imagine(ctx, z_vid, 0, steps)
    states = model.world_states(ctx.memory, x, t_feat, ctx)
    values = model.solve_value(model.value.video_kv(states), z_val, steps)
    return x, values


class ImaginedFutures:
    """Imagined futures and value chunks of training samples, computed on first use."""

    def __init__(self, seed: int):
        self.seed = seed
        self.kept: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.kept)

    def noises(self, model: WAVModel, keys: list[tuple[int, int]], device) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = model.cfg
        z_vid, z_val = [], []
        for ep, t in keys:
            g = sample_generator(self.seed, ep, t)
            z_vid.append(torch.randn(cfg.future_latent_shape, generator=g))
            z_val.append(torch.randn(cfg.value_shape, generator=g))
        return torch.stack(z_vid).to(device), torch.stack(z_val).to(device)

    def fill(self, model: WAVModel, batch: dict, ctx: Context) -> None:
        """Add `imagined_future` and `imagined_value` to `batch` (one row per sample, in its order),
        imagining the samples not seen before in one batch. `ctx`: the batch's context."""
        keys = [(int(e), int(t)) for e, t in zip(batch["episode"], batch["tick"])]
        new = [i for i, k in enumerate(keys) if k not in self.kept]
        if new:
            index = torch.tensor(new, device=ctx.memory.device)
            sub = Context(ctx.memory[index], ctx.text[index], ctx.text_mask[index])
            z_vid, z_val = self.noises(model, [keys[i] for i in new], ctx.memory.device)
            was_training = model.training
            model.eval()
            try:
                x, values = imagine(model, sub, z_vid, z_val)
            finally:
                model.train(was_training)
            for row, i in enumerate(new):
                self.kept[keys[i]] = (x[row].cpu(), values[row].cpu())
        device = ctx.memory.device
        batch["imagined_future"] = torch.stack([self.kept[k][0] for k in keys]).to(device)
        batch["imagined_value"] = torch.stack([self.kept[k][1] for k in keys]).to(device)
