"""Value samples whose future is not the one that followed their history.

On true (history, future) pairs the value target is predictable from the history alone, so a value
can rank ticks well and still give every imagined future of one tick the same score. Two kinds of
counterfactual sample make the score follow what the future shows:
- shifted: the future of tick t' (|t' - t| <= shift_ticks) after the history of tick t, with tick
  t''s value chunk as the target: a future further along the task scores higher;
- still: the last history frame held over the future, with the value of tick t held over the chunk
  as the target. In demonstrations a motionless future appears only at the episode's end, where the
  value is highest, so without these a value learns that an arm which stops is done.
"""

from __future__ import annotations

import torch

from ..data.torch_dataset import WavDataset
from .latent_cache import LatentCache


def shift_futures(batch: dict, ds: WavDataset, latents: LatentCache, shifted: float, shift_ticks: int,
                  generator: torch.Generator, still: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace `future_latents` and `values` of about `shifted` + `still` of the batch in place.

    Returns the tick whose future each sample now shows ([B]; its own tick where nothing moved or
    the future is still) and which samples got a still future ([B] bool). `generator` is a CPU
    generator, so the draw is the same on every device."""
    episodes = [int(e) for e in batch["episode"]]
    ticks = [int(t) for t in batch["tick"]]
    b = len(ticks)
    u = torch.rand(b, generator=generator)
    is_still = u < still
    is_shifted = (u >= still) & (u < still + shifted)
    offsets = torch.randint(1, shift_ticks + 1, (b,), generator=generator)
    signs = torch.where(torch.rand(b, generator=generator) < 0.5, -1, 1)
    future, values = batch["future_latents"], batch["values"]
    shown = []
    for i, (ep, t) in enumerate(zip(episodes, ticks)):
        t2 = t
        if is_still[i]:
            future[i] = batch["history_latents"][i][:, -1:].expand_as(future[i])
            values[i] = values[i][:1].expand_as(values[i]).clone()
        elif is_shifted[i]:
            t2 = min(ds.data.episodes[ep].ticks - 1, max(0, t + int(signs[i] * offsets[i])))
            future[i] = latents.at(ds, ep, t2)[1].to(future.device, future.dtype)
            values[i] = ds.chunk(ep, t2, "value").to(values.device)
        shown.append(t2)
    return torch.tensor(shown), is_still
