"""Where the world's future latents hold what differs between scenes.

The world's flow loss is a mean over latent positions, and the fixed background fills most of them:
a world that predicts the background and the arms' usual motion, and leaves out an object placed at
random, loses little (`wav probe` found such futures that do not place the drawer task's block at
all). Deviation from the batch's mean scene, position by position, is high where samples differ
(randomly placed objects, the arms) and low on what every scene shares.
"""

from __future__ import annotations

import torch


def scene_detail_weights(latents: torch.Tensor, strength: float) -> torch.Tensor:
    """[B, V, F, C, h, w] -> [B, V, F, 1, h, w]: 1 + strength x (distance of each position's channel
    vector from the batch mean of that view, frame and position) / (its mean over the frame's
    positions). A batch of one, or of identical scenes, weighs every position 1."""
    deviation = (latents - latents.mean(0, keepdim=True)).pow(2).sum(3, keepdim=True).sqrt()
    scale = deviation.mean((-2, -1), keepdim=True).clamp_min(1e-6)
    return 1.0 + strength * deviation / scale
