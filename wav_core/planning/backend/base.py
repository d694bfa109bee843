"""The seam between the planner's algorithm and whatever runs the networks.

The planner only ever asks for three things per iteration (world features of a batch of video
noises, the value chunks of a batch of value noises, the action chunk of the chosen future) plus the
observation context once per decision. A backend answers those; eager PyTorch is the reference.
"""

from __future__ import annotations

from typing import Any

import torch

from ...config.loader import ConfigError
from ...model.wav import Context, WAVModel
from ..config import PlannerConfig

States = Any
"""Per-block world states as a backend keeps them (a list of tensors for torch, one stacked tensor
for the exported graphs); only the backend that produced them reads them."""


class Backend:
    """Eager PyTorch: the reference every other backend is compared with."""

    name = "torch"
    captures_plan = False
    """True when the backend runs a whole plan itself (`plan`), e.g. as one captured CUDA graph."""

    def __init__(self, model: WAVModel, cfg: PlannerConfig):
        cfg.validate()
        if cfg.action_noise_gated and not model.cfg.action_prior_gate:
            raise ConfigError("action_noise_gated: true needs a model with a gated action prior "
                              "(action_prior_gate: true); this model has none")
        self.model = model
        self.cfg = cfg
        self.device = next(model.parameters()).device

    def context(self, history: torch.Tensor, instructions: list[str]) -> Context:
        """Memory latents and prompt features of one observation (once per decision, so every
        backend runs it in PyTorch)."""
        return self.model.context(history, instructions)

    def features(self, ctx: Context, z_vid: torch.Tensor) -> States:
        """One batched world forward (fast feature mode) for all candidates in z_vid."""
        return self.model.world_features(ctx, z_vid, self.cfg.feature_steps, self.cfg.S)

    def values(self, states: States, z_val: torch.Tensor) -> torch.Tensor:
        """All value chunks denoised together; each candidate's world states are projected once and
        shared by its N value samples."""
        return self.model.solve_value(self.model.value.video_kv(states), z_val, self.cfg.value_solve_steps)

    def actions(self, states: States, value: torch.Tensor, state: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Decode the chosen future: the action expert attends to the world states and to the value
        expert's states on `value` (the chosen value noise under `paper` conditioning, the chosen
        denoised value chunk under `future`; see WAVModel.value_states)."""
        model = self.model
        noise = self.action_noise(states, state, noise)
        value_states = model.value_states(model.value.video_kv(states), value)
        actions = model.solve_action(model.action.video_kv(states), model.action.value_kv(value_states),
                                     state, noise, self.cfg.S)
        return self.with_prior(actions, states, state)

    def action_noise(self, states: States, state: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """The flow noise the action solve starts from: as drawn, or hushed on the arms the action
        prior steers (`action_noise_gated`); the gate, a small MLP, runs in PyTorch for every backend."""
        if not self.cfg.action_noise_gated:
            return noise
        blocks = states.unbind(0) if isinstance(states, torch.Tensor) else states
        return self.model.action.hushed_noise(noise, [s.to(self.device) for s in blocks],
                                              state.to(self.device)).to(noise.device)

    def with_prior(self, actions: torch.Tensor, states: list[torch.Tensor], state: torch.Tensor) -> torch.Tensor:
        """The executed chunk: the flow's solve plus the action prior's chunk (`action_prior`), which
        every backend adds here; a backend that solves outside PyTorch passes its states as tensors."""
        prior = self.model.action.prior_chunk(states, state)
        return actions if prior is None else actions + prior.to(actions.device, actions.dtype)

    def sync(self) -> None:
        """Wait for queued device work, so per-stage timings measure the work and not its launch."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def plan(self, ctx, state, noise, start, normalizer, started, budget):
        """Whole-plan backends (`captures_plan`) override this; the others are driven by the planner."""
        raise NotImplementedError(f"backend {self.name!r} is driven step by step by the planner")

