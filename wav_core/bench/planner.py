"""Batched planner vs the naive one-candidate-at-a-time reference, on the same noise."""

from __future__ import annotations

import time

import numpy as np
import torch

from ..planning import PlannerConfig, WAVPolicy
from ..planning.naive import NaivePlanner
from ..planning.planner import LatentPlanner
from .stats import summarize


def _time_plans(policy: WAVPolicy, images, state, repeats: int, warmup: int) -> tuple[list[float], dict]:
    times, parts = [], {"world": [], "value": [], "action": []}
    for i in range(warmup + repeats):
        t = time.perf_counter()
        res = policy.plan(images, state, seed=i)
        dt = (time.perf_counter() - t) * 1000
        if i >= warmup:
            times.append(dt)
            for k in parts:
                parts[k].append(res.timings_ms[k])
    return times, {k: float(np.median(v)) for k, v in parts.items()}


def bench_planner(policy: WAVPolicy, cfg: PlannerConfig, repeats: int = 10, warmup: int = 2,
                  naive: bool = True, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=policy.image_shape, dtype=np.uint8)
    state = np.asarray(policy.card.normalization.state_min) * 0.5 + np.asarray(policy.card.normalization.state_max) * 0.5
    policy.planner = LatentPlanner(policy.model, policy.card.normalization, cfg)
    batched, parts = _time_plans(policy, images, state, repeats, warmup)
    out = {"K": cfg.K, "M": cfg.M, "N": cfg.N, "S": cfg.S, "threads": torch.get_num_threads(),
           "batched": summarize(batched), "breakdown_median_ms": parts}
    if naive:
        policy.planner = NaivePlanner(policy.model, policy.card.normalization, cfg)
        ref, _ = _time_plans(policy, images, state, max(3, repeats // 2), 1)
        policy.planner = LatentPlanner(policy.model, policy.card.normalization, cfg)
        out["naive"] = summarize(ref)
        out["speedup"] = out["naive"]["median_ms"] / out["batched"]["median_ms"]
    return out
