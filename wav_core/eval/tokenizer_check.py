"""Does the frozen tokenizer keep the small things a grasp needs?

Every later stage reads the tokenizer's latents, never the pixels. A tokenizer trained on plain MSE
can reach a low error over the frame while blurring away an object of a few pixels (at 48x48 the
drawer task's block is 2-3 pixels wide), and then no amount of world, value or action training can
say where that object is. The overall error hides this, so the error is also reported on each
frame's most detailed pixels (highest contrast with their 5x5 neighbourhood): objects, edges,
handles. A detail error many times the overall one means the latents have dropped them.
"""

from __future__ import annotations

import numpy as np
import torch

from ..model.tokenizer import local_contrast

DETAIL_FRACTION = 0.05


def reconstruction_errors(images: torch.Tensor, recon: torch.Tensor, fraction: float = DETAIL_FRACTION) -> dict:
    """MSE over every pixel and over each frame's `fraction` most detailed pixels of `images`."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction: got {fraction}, expected 0 < fraction <= 1")
    err = (recon - images).pow(2).mean(1).flatten(1)  # [N, H*W]
    contrast = local_contrast(images).flatten(1)
    k = max(1, int(round(fraction * contrast.shape[1])))
    top = contrast.topk(k, dim=1).indices
    mse, detail = float(err.mean()), float(err.gather(1, top).mean())
    return {"mse": mse, "detail_mse": detail, "detail_fraction": fraction,
            "detail_ratio": detail / mse if mse > 0 else None}


@torch.no_grad()
def tokenizer_check(model, frames: list[np.ndarray]) -> dict:
    """`frames`: uint8 [..., H, W, 3] arrays at the model's resolution (e.g. an observation's history)."""
    if not frames:
        raise ValueError("frames: none given")
    dev = next(model.parameters()).device
    x = torch.from_numpy(np.concatenate([np.asarray(f).reshape(-1, *f.shape[-3:]) for f in frames]))
    x = x.to(dev).permute(0, 3, 1, 2).float() / 255.0
    recon = model.tokenizer.decode(model.tokenizer.latents(x)).clamp(0, 1)
    return {"frames": int(x.shape[0]), **reconstruction_errors(x, recon)}
