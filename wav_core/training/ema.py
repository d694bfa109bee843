"""An exponential moving average of a stage's weights.

A flow-matching step at a small batch moves the weights by a noisy estimate; the average over the
last thousand or so steps sits nearer the minimum than any one step's weights. The stage's
checkpoint holds the average as the model (what the next stage, `wav export` and every planner
read) and the raw weights in its state, from which a resumed run continues exactly (`restore_raw`).
"""

from __future__ import annotations

import torch
from torch import nn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.params = {name: p for name, p in model.named_parameters() if p.requires_grad}
        self.average = {name: p.detach().clone() for name, p in self.params.items()}

    @torch.no_grad()
    def update(self, step: int) -> None:
        """After optimiser step `step` (0-based). The decay ramps up over the first steps so that the
        average does not hold on to the weights the stage started from."""
        d = min(self.decay, (1.0 + step) / (10.0 + step))
        names = list(self.params)
        torch._foreach_lerp_([self.average[n] for n in names], [self.params[n].detach() for n in names], 1.0 - d)

    def model_state(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The model's state dict with the averaged weights in place of the raw ones."""
        state = model.state_dict()
        state.update(self.average)
        return state

    def raw_state(self) -> dict[str, torch.Tensor]:
        return {name: p.detach().clone() for name, p in self.params.items()}

    @torch.no_grad()
    def apply(self) -> None:
        """Put the averaged weights into the model (at the end of the stage)."""
        for name, p in self.params.items():
            p.copy_(self.average[name])


@torch.no_grad()
def restore_raw(model: nn.Module, raw: dict[str, torch.Tensor]) -> None:
    """Put a checkpoint's raw weights back into the stage's parameters, so a resumed run continues
    from where the optimiser left them rather than from their average."""
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    missing = sorted(set(params) - set(raw))
    if missing:
        raise ValueError(f"checkpoint: raw weights missing for {missing[:3]}")
    for name, p in params.items():
        p.copy_(raw[name])
