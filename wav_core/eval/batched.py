"""Sync-mode episodes stepped in lockstep, their plans made in one batched call.

In sync mode ("plan, then execute the whole chunk") the world waits for the planner, so episodes
can share sim time: every episode runs its own ControlLoop over its own simulator, and whenever
several of them request a plan at the same executor step, `WAVPolicy.plan_batch` plans them
together (episodes x candidates in every network batch). Each episode keeps its decision seeds, its
noise draws, its Gaussians and elites and its warm-start memory (`EpisodePolicy`), so it is the
episode `run_episode` gives for its seed, up to the float round-off of larger matrix products.
Async episodes plan on their own wall-clock latency and are not batched.
"""

from __future__ import annotations

import time

from ..planning.planner import BATCH_BACKENDS
from ..planning.policy import EpisodePolicy, WAVPolicy
from .closed_loop import EpisodeResult, EpisodeRun, EvalConfig


def check_batch(batch: int, cfg: EvalConfig, backend: str) -> None:
    """Whether `batch` episodes per process can run under `cfg` with `backend` (raises ValueError)."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch: got {batch!r}, expected an integer >= 1")
    if batch == 1:
        return
    if cfg.mode != "sync":
        raise ValueError(f"batch: got {batch} with mode {cfg.mode!r}; batched episodes need mode 'sync' (the world "
                         "waits for each plan, so episodes share sim time); async episodes run one at a time")
    if backend not in BATCH_BACKENDS:
        raise ValueError(f"batch: got {batch} with backend {backend!r}, whose exported graphs have a fixed batch "
                         f"size; batched episodes need one of {list(BATCH_BACKENDS)}")


def run_episode_batch(policy: WAVPolicy, envs: list, seeds: list[int], cfg: EvalConfig,
                      commands: list[list] | None = None) -> list[EpisodeResult]:
    """The sync episodes of `seeds`, episode b in envs[b], stepped together at the executor rate in
    sim time; an episode that ends (success, time limit, output off) drops out and the rest go on.
    Every plan's latency is the wall time of the batched call it was made in. `commands[b]` collects
    episode b's executed set-points."""
    if not seeds:
        return []
    if cfg.mode != "sync":
        raise ValueError(f"mode: got {cfg.mode!r}, expected 'sync' for episodes stepped in lockstep (async episodes "
                         "plan on their own clock; run them with run_episode)")
    check_batch(len(seeds), cfg, policy.backend.name)
    if len(envs) < len(seeds):
        raise ValueError(f"envs: got {len(envs)} simulators for {len(seeds)} episodes, expected one per episode")
    if commands is not None and len(commands) != len(seeds):
        raise ValueError(f"commands: got {len(commands)} lists for {len(seeds)} episodes, expected one per episode")
    runs = [EpisodeRun(EpisodePolicy(policy), env, seed, cfg, commands=None if commands is None else commands[b])
            for b, (env, seed) in enumerate(zip(envs, seeds))]
    while active := [run for run in runs if not run.done]:
        for run in active:
            run.sense()
        requests = [(run, req) for run in active if (req := run.loop.request_plan(run.now)) is not None]
        if requests:
            _plan_together(policy, requests)
        for run in active:
            run.act()
    return [run.finish() for run in runs]


def _plan_together(policy: WAVPolicy, requests: list) -> None:
    """One batched plan for the requests (run, PlanRequest) of one step, delivered at once (sync)."""
    from ..runtime.policy_runtime import Chunk

    started = time.perf_counter()
    planned = policy.plan_batch([(req.snapshot[0], req.snapshot[1], run.loop.runtime.instruction)
                                 for run, req in requests],
                                [req.seed for _, req in requests],
                                [run.policy.last for run, _ in requests], warm=True)
    latency_ms = (time.perf_counter() - started) * 1000
    for (run, req), (result, gaussians) in zip(requests, planned):
        run.policy.last = gaussians
        chunk = Chunk(result.actions, req.snapshot[2], result, latency_ms)
        info = run.loop.deliver(req, chunk, run.now)
        if info is not None:
            run.record([(info, chunk)])
