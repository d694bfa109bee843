"""The exported networks, as thin modules over the eager reference backend, so an exported graph is
by construction the computation the torch backend runs."""

from __future__ import annotations

import torch
from torch import nn

from ..model.wav import Context, WAVModel
from ..planning.backend.base import Backend
from ..planning.config import PlannerConfig


class WorldGraph(nn.Module):
    """(memory, text, text_mask, z_vid [B, ...]) -> per-block world states stacked [depth, B, V*L, D]."""

    def __init__(self, model: WAVModel, cfg: PlannerConfig):
        super().__init__()
        self.model, self.ref = model, Backend(model, cfg)

    def forward(self, memory, text, text_mask, z_vid):
        return torch.stack(self.ref.features(Context(memory, text, text_mask), z_vid), 0)


class ValueGraph(nn.Module):
    """(states [depth, B, V*L, D], z_val [B*n, H, C]) -> value chunks after the full S-step solve."""

    def __init__(self, model: WAVModel, cfg: PlannerConfig):
        super().__init__()
        self.model, self.ref = model, Backend(model, cfg)

    def forward(self, states, z_val):
        return self.ref.values(list(states.unbind(0)), z_val)


class ActionGraph(nn.Module):
    """(states [depth, 1, V*L, D], z_val [1, H, C], state [1, S], noise [1, H, A]) -> action chunk."""

    def __init__(self, model: WAVModel, cfg: PlannerConfig):
        super().__init__()
        self.model, self.ref = model, Backend(model, cfg)

    def forward(self, states, z_val, state, noise):
        return self.ref.actions(list(states.unbind(0)), z_val, state, noise)


# Step-wise graphs: the planner runs the Euler loop and calls one flow step per session run; the
# cached key/value projections of the world (and value) states are computed once per solve.

def _stack_kv(kv: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    return torch.stack([torch.stack(pair, 0) for pair in kv], 0)  # [depth, 2, B, heads, L, dh]


def _unstack_kv(kv: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [tuple(block.unbind(0)) for block in kv.unbind(0)]


class ValueKVGraph(nn.Module):
    """states [depth, B, V*L, D] -> the value expert's projected keys/values of them."""

    def __init__(self, model: WAVModel, cfg: PlannerConfig):
        super().__init__()
        self.model = model

    def forward(self, states):
        return _stack_kv(self.model.value.video_kv(list(states.unbind(0))))


class ValueStepGraph(nn.Module):
    """(kv, x [B*n, H, C], t [B*n]) -> value velocity."""

    def __init__(self, model: WAVModel, cfg: PlannerConfig):
        super().__init__()
        self.model = model

    def forward(self, kv, x, t):
        return self.model.value(x, t, _unstack_kv(kv))


class ActionKVGraph(nn.Module):
    """(states, z_val) -> the action expert's keys/values of the world states and of the value
    expert's states on the chosen value noise."""

    def __init__(self, model: WAVModel, cfg: PlannerConfig):
        super().__init__()
        self.model = model

    def forward(self, states, z_val):
        m = self.model
        s = list(states.unbind(0))
        value_states = m.value_states(m.value.video_kv(s), z_val)
        return _stack_kv(m.action.video_kv(s)), _stack_kv(m.action.value_kv(value_states))


class ActionStepGraph(nn.Module):
    """(video_kv, value_kv, x [1, H, A], t [1], state [1, S]) -> action velocity."""

    def __init__(self, model: WAVModel, cfg: PlannerConfig):
        super().__init__()
        self.model = model

    def forward(self, video_kv, value_kv, x, t, state):
        return self.model.action(x, t, state, _unstack_kv(video_kv), _unstack_kv(value_kv))


GRAPH_MODULES = {"world": WorldGraph, "value": ValueGraph, "action": ActionGraph, "value_kv": ValueKVGraph,
                 "value_step": ValueStepGraph, "action_kv": ActionKVGraph, "action_step": ActionStepGraph}
