"""The three networks compiled by torch.compile (inductor: fused kernels instead of thousands of
small ones), optionally in bf16, and on a GPU the whole plan over them captured as one CUDA graph.

Compiling each network's forward rather than the whole plan keeps the compiled graphs small and
shared by every iteration and flow step (the plan's Python loops are unrolled only by the capture).
Compilation is what a first plan waits for, so each network is compiled into as few graphs as the
planner's calls allow (`OneGraph`). The policy's model is left as it is: the backend works on a
shallow copy whose world, value and action modules are the compiled wrappers of the same weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ...model.wav import WAVModel
from ..config import PlannerConfig
from .base import Backend
from .cudagraph import GraphPlanMixin
from .factory import BackendUnavailable

_NETWORKS = ("world", "value", "action")
PRECISIONS = {
    "fp32": dict.fromkeys(_NETWORKS, torch.float32),
    "bf16": dict.fromkeys(_NETWORKS, torch.bfloat16),
    # The value expert's rounding moves the plan most (its scores choose the elites, its states
    # steer the action), the world's hardly at all: docs/bf16_parts/parts.py.
    "bf16-world": {"world": torch.bfloat16, "value": torch.float32, "action": torch.float32},
}
"""Per network, the dtype it runs in under autocast."""


# Per network: the forward's keyword flags fixed to "return everything", the positional arguments
# that carry the batch (candidates, or value samples) and how to pick what the caller asked for.
_WORLD_FLAGS = {"return_states": True, "return_velocity": True}


def _world_pick(out, return_states: bool = False, return_velocity: bool = True):
    vel, states = out
    return (vel if return_velocity else None, states) if return_states else vel


def _value_pick(out, return_states: bool = False):
    return out if return_states else out[0]


_PICK_FLAGS = ("return_states", "return_velocity")
"""Keyword arguments that choose among the outputs; any other keyword (the experts' precomputed
`mod`) is an input of the graph."""

SIGNATURES = {  # name: (fixed flags, batch argument positions (the first one's rows decide), pick)
    "world": (_WORLD_FLAGS, (1, 2), _world_pick),
    "value": ({"return_states": True}, (0, 1, 2), _value_pick),
    "action": ({}, (0, 1, 2, 3, 4), lambda out: out),
}


def _rows(x, fn):
    """Apply fn to every tensor in a nested argument (the experts take lists of (key, value) pairs)."""
    if isinstance(x, torch.Tensor):
        return fn(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_rows(v, fn) for v in x)
    return x


def _batch(x: torch.Tensor, pad: bool) -> torch.Tensor:
    """A batch argument in the one layout the graph was compiled for: contiguous (the experts'
    key/value projections arrive as permuted views, a padded batch as a new tensor), two rows when
    `pad`, and a dynamic first dimension."""
    x = x.contiguous()
    if pad:
        x = torch.cat([x, x])
    if x.shape[0] > 1:
        torch._dynamo.mark_dynamic(x, 0)
    return x


class OneGraph(nn.Module):
    """A network compiled into one graph for the calls a plan makes, instead of one per call shape.

    A plan calls each network with several batch sizes (M candidates, M x N value samples, one
    chosen future) and with different output flags; static compilation makes a graph for each, and
    each graph costs seconds to minutes of compilation. Here every call asks for all outputs, the
    batch dimension is dynamic, and with `pad_single` a batch of one (which a dynamic dimension
    cannot cover) is run as two identical rows. The world's memory (one observation for all
    candidates) stays one row. Attribute reads fall through to the network (the
    experts' key/value projections run outside the compiled forward)."""

    def __init__(self, net: nn.Module, name: str, pad_single: bool):
        super().__init__()
        self.net = net
        self.flags, self.batch_args, self.pick = SIGNATURES[name]
        self.pad_single = pad_single
        self.compiled = torch.compile(net, dynamic=None if pad_single else False)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["net"], name)

    def forward(self, *args, **kwargs):
        flags = {k: kwargs.pop(k) for k in _PICK_FLAGS if k in kwargs}
        args = list(args)
        single = args[self.batch_args[0]].shape[0] == 1
        if self.pad_single:
            for i in self.batch_args:
                args[i] = _rows(args[i], lambda x: _batch(x, single and x.shape[0] == 1))
            if self.flags is _WORLD_FLAGS:  # one observation broadcast over the candidates: the world expands it
                memory = args[0]
                args[0] = (memory[:1] if memory.shape[0] > 1 and memory.stride(0) == 0 else memory).contiguous()
        out = self.pick(self.compiled(*args, **self.flags, **kwargs), **flags)
        if self.pad_single and single:
            out = _rows(out, lambda x: x[:1])
        return out


def compiled_copy(model: WAVModel, pad_single: bool = False) -> WAVModel:
    """The same model (same parameters) with its world, value and action modules compiled;
    `pad_single`: one graph per network (see OneGraph), for a GPU where a doubled batch of one costs
    nothing against a compilation."""
    if not hasattr(torch, "compile"):
        raise BackendUnavailable(f"torch {torch.__version__} has no torch.compile")
    twin = copy.copy(model)
    twin._modules = dict(model._modules)
    for name in SIGNATURES:
        setattr(twin, name, OneGraph(getattr(model, name), name, pad_single))
    return twin


class NetworkPrecision:
    """Each network's calls under autocast in its dtype (`dtypes`, one of PRECISIONS); what the
    planner computes from them (scores, elites, Gaussians, executed actions) stays fp32. A mixin
    over a Backend."""

    dtypes = PRECISIONS["fp32"]

    def _autocast(self, network: str):
        dtype = self.dtypes[network]
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype != torch.float32)

    def features(self, ctx, z_vid):
        with self._autocast("world"):
            states = super().features(ctx, z_vid)
        if self.dtypes["world"] != self.dtypes["value"]:  # experts outside autocast read fp32 states
            states = [s.float() for s in states]
        return states

    def values(self, states, z_val):
        with self._autocast("value"):
            return super().values(states, z_val).float()

    def actions(self, states, value, state, noise):
        with self._autocast("action"):
            return super().actions(states, value, state, noise).float()


class CompiledBackend(GraphPlanMixin, NetworkPrecision, Backend):
    """On CUDA a whole-plan backend (capture on the first decision, replay afterwards); on the CPU
    the planner drives the compiled networks step by step, so its deadline still applies there."""

    name = "torch-compile"

    def __init__(self, model: WAVModel, cfg: PlannerConfig, precision: str = "fp32", pad_single: bool | None = None):
        if precision not in PRECISIONS:
            raise ValueError(f"backend 'torch-compile': precision got {precision!r}, expected one of {list(PRECISIONS)}")
        device = next(model.parameters()).device
        if precision != "fp32" and device.type != "cuda":
            raise BackendUnavailable(f"precision {precision}: bf16 planning is for CUDA devices, the model is on {device}")
        super().__init__(compiled_copy(model, device.type == "cuda" if pad_single is None else pad_single), cfg)
        self.precision = precision
        self.dtypes = PRECISIONS[precision]
        self.captures_plan = self.device.type == "cuda"
