"""FLOPs of one plan, counted by running it on the meta device.

The plan runs through the real planner (LatentPlanner, the eager torch backend) on meta tensors:
shapes propagate, nothing is allocated or computed, so the 2.3 B-parameter `paper` preset is counted
in seconds on a CPU. torch.utils.flop_counter counts the matrix products, convolutions and attention
(2 FLOPs per multiply-add); elementwise work, norms and softmax are not counted, which is what
bounds a tensor-core GPU from below. Stages follow the planner's network hooks, as its stopwatch
splits them:

- context: the observation's memory latents (tokenizer) and prompt features, once per decision;
- world: K batched world forwards of M candidates, plus the chosen candidate's in the decode;
- value: per iteration the M candidates' world states projected once, then S flow steps of M*N value
  chunks; plus the chosen one's solve in the decode;
- action: the value expert's states on the chosen value and S flow steps of the action chunk;
- other: anything between the hooks (scoring, elite updates; zero today, as they hold no products).
"""

from __future__ import annotations

import dataclasses

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..model.config import ModelConfig
from ..model.normalize import Normalizer
from ..model.wav import WAVModel
from ..planning.config import PlannerConfig
from ..planning.noise import PlanNoise
from ..planning.planner import LatentPlanner
from .bf16_model import without_t5

STAGES = ("context", "world", "value", "action")


class _StagedPlanner(LatentPlanner):
    """The eager planner, with the FLOPs counted so far attributed to the stage each hook runs."""

    def __init__(self, model, normalizer, cfg, counter: FlopCounterMode):
        super().__init__(model, normalizer, cfg)
        self.counter = counter
        self.flops = dict.fromkeys(STAGES, 0)

    def stage(self, name: str, fn, *args):
        before = self.counter.get_total_flops()
        out = fn(*args)
        self.flops[name] += self.counter.get_total_flops() - before
        return out

    def _features(self, ctx, z_vid):
        return self.stage("world", super()._features, ctx, z_vid)

    def _values(self, states, z_val):
        return self.stage("value", super()._values, states, z_val)

    def _actions(self, states, value, state, noise):
        return self.stage("action", super()._actions, states, value, state, noise)


def plan_flops(cfg: ModelConfig, planner_cfg: PlannerConfig) -> dict[str, int]:
    """FLOPs of one plan of a `cfg` model under `planner_cfg` (all K iterations: a deadline is
    ignored), from the observation to the action chunk: {"total", "context", "world", "value",
    "action", "other"}, total = the sum of the others. A T5 prompt encoder is not counted (see
    bf16_model.without_t5)."""
    planner_cfg = dataclasses.replace(planner_cfg, deadline_ms=0.0)
    planner_cfg.validate()
    cfg = without_t5(cfg)
    with torch.device("meta"):
        model = WAVModel(cfg).eval()
    h, w = cfg.image_size
    history = torch.zeros(1, len(cfg.views), cfg.n_history, 3, h, w, device="meta")
    state = torch.zeros(1, cfg.state_dim, device="meta")
    noise = PlanNoise.sample(cfg, planner_cfg, None, "meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        planner = _StagedPlanner(model, Normalizer(), planner_cfg, counter)
        ctx = planner.stage("context", model.context, history, [""])
        planner.plan(ctx, state, noise)
    total = int(counter.get_total_flops())
    out = {"total": total, **{k: int(v) for k, v in planner.flops.items()}}
    out["other"] = total - sum(planner.flops.values())
    return out


def floor_ms(flops: float, peak_tflops: float) -> float:
    """The arithmetic floor: the time the counted FLOPs take at the device's peak rate."""
    return flops / (peak_tflops * 1e12) * 1e3
