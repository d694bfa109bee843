"""Plan latency: the batched eager planner against the naive one-candidate-at-a-time reference and
against another backend, all on the same noise and in the same run.

Planners being compared are timed interleaved (plan i of each, then plan i + 1 of each), so load
from other processes on a shared machine hits all of them alike and the ratios stay meaningful.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import torch

from ..planning import PlannerConfig, WAVPolicy
from ..planning.naive import NaivePlanner
from ..planning.planner import LatentPlanner
from .stats import summarize

PARTS = ("world", "value", "action")


def time_interleaved(policy: WAVPolicy, planners: dict, images, state, repeats: int, warmup: int) -> dict:
    """Plan i uses seed i for every planner, so they all see the same noise plan by plan.
    name -> {"times": [...], "breakdown": {...median ms, "iterations": [...]}, "actions": [...],
    "first_ms": the first plan, which holds compilation and capture}. The first plan's time is also
    printed (flushed) as it ends, so a bench stopped by a time limit still tells how far it got."""
    out = {name: {"times": [], "parts": {k: [] for k in PARTS}, "actions": [], "iterations": set()} for name in planners}
    kept = policy.planner
    try:
        for i in range(warmup + repeats):
            for name, planner in planners.items():
                policy.planner = planner
                t = time.perf_counter()
                res = policy.plan(images, state, seed=i)
                dt = (time.perf_counter() - t) * 1000
                if i == 0:
                    out[name]["first_ms"] = dt
                    print(f"first plan ({getattr(getattr(planner, 'backend', None), 'name', name)}): {dt / 1000:.1f} s", flush=True)
                if i >= warmup:
                    rec = out[name]
                    rec["times"].append(dt)
                    rec["actions"].append(res.actions)
                    rec["iterations"].add(res.iterations)
                    for k in PARTS:
                        rec["parts"][k].append(res.timings_ms.get(k, float("nan")))
    finally:
        policy.planner = kept
    for rec in out.values():
        rec["breakdown"] = {k: float(np.median(v)) for k, v in rec.pop("parts").items()}
        rec["breakdown"]["iterations"] = sorted(rec.pop("iterations"))
    return out


def max_relative_difference(results: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """max |a - b| / max |b| over paired plans: scale-free, and not blown up by near-zero entries."""
    return max(float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)) for a, b in zip(results, reference))


def plan_inputs(policy: WAVPolicy, seed: int):
    """A random observation (images, mid-range joint state) of the policy's shapes."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=policy.image_shape, dtype=np.uint8)
    norm = policy.card.normalization
    state = np.asarray(norm.state_min) * 0.5 + np.asarray(norm.state_max) * 0.5
    return images, state


def planner_on(policy: WAVPolicy, cfg: PlannerConfig, backend: str, options: dict | None) -> LatentPlanner:
    """The policy's planner rebuilt for `cfg` on `backend`, to time beside others (time_interleaved)."""
    policy.set_backend(backend, **(options or {}))
    policy.set_planner(cfg)
    return policy.planner


def bench_planner(policy: WAVPolicy, cfg: PlannerConfig, repeats: int = 10, warmup: int = 2,
                  naive: bool = True, seed: int = 0, backend: str = "torch",
                  backend_options: dict | None = None) -> dict:
    """Eager batched plans ("batched"), `backend` on the same seeds ("backend": its latency, ratio to
    eager and max relative action difference), and the naive loop. Leaves the policy on `backend`."""
    images, state = plan_inputs(policy, seed)
    planners = {"batched": planner_on(policy, cfg, "torch", None)}
    if backend != "torch":
        planners["backend"] = planner_on(policy, cfg, backend, backend_options)
    runs = time_interleaved(policy, planners, images, state, repeats, warmup)
    eager = runs["batched"]
    out = {"K": cfg.K, "M": cfg.M, "N": cfg.N, "S": cfg.S, "value_steps": cfg.value_solve_steps,
           "threads": torch.get_num_threads(),
           "batched": summarize(eager["times"]), "breakdown_median_ms": eager["breakdown"]}
    if "backend" in runs:
        r = runs["backend"]
        out["backend"] = {"requested": backend, "used": planners["backend"].backend.name, **summarize(r["times"]),
                          "first_ms": r["first_ms"],
                          "breakdown_median_ms": r["breakdown"],
                          "ratio_to_eager": out["batched"]["median_ms"] / float(np.median(r["times"])),
                          "max_rel_diff_actions": max_relative_difference(r["actions"], eager["actions"])}
    if naive:
        ref = time_interleaved(policy, {"naive": NaivePlanner(policy.model, policy.card.normalization, cfg)},
                                images, state, max(3, repeats // 2), 1)["naive"]
        out["naive"] = summarize(ref["times"])
        out["speedup"] = out["naive"]["median_ms"] / out["batched"]["median_ms"]
    return out


def bench_k_sweep(policy: WAVPolicy, cfg: PlannerConfig, ks: list[int], repeats: int = 5, warmup: int = 1,
                  backend: str = "torch", backend_options: dict | None = None, seed: int = 0) -> dict:
    """Median plan latency at each K (other settings from cfg, all K timed interleaved) and a
    least-squares line through them: per-iteration cost (slope), fixed cost (intercept) and R^2."""
    images, state = plan_inputs(policy, seed)
    planners = {k: planner_on(policy, replace(cfg, K=k), backend, backend_options) for k in ks}
    runs = time_interleaved(policy, planners, images, state, repeats, warmup)
    rows = [{"K": k, "iterations": runs[k]["breakdown"]["iterations"], **summarize(runs[k]["times"])} for k in ks]
    x = np.array(ks, dtype=np.float64)
    y = np.array([r["median_ms"] for r in rows])
    slope, intercept = np.polyfit(x, y, 1) if len(rows) > 1 else (float("nan"), float(y[0]))
    resid = y - (slope * x + intercept)
    r2 = 1 - float(resid @ resid) / max(float(((y - y.mean()) ** 2).sum()), 1e-12)
    return {"backend": planners[ks[0]].backend.name, "rows": rows, "ms_per_iteration": float(slope),
            "fixed_ms": float(intercept), "r2": r2}
