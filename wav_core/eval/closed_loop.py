"""Closed-loop episodes in the MuJoCo twin, in-process (no ROS).

Cameras are rendered at the rig's resolution and resized by the shared runtime path, exactly like
recorded demonstrations, so the policy sees in evaluation what it saw in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config.robot import RobotConfig
from ..planning.config import PlannerConfig
from ..planning.policy import WAVPolicy
from ..runtime.policy_runtime import PolicyRuntime


@dataclass
class EvalConfig:
    task: str = "drawer"
    episodes: int = 10
    seed: int = 1000
    max_seconds: float = 40.0
    replan_after: int = 0
    """Executed steps of a chunk before replanning (0 = the whole chunk, the paper's setting)."""
    warm_start: bool = False


@dataclass
class EpisodeResult:
    seed: int
    success: bool
    subgoals: dict[str, bool]
    ticks: int
    plan_ms: list[float] = field(default_factory=list)
    snr: list[float] = field(default_factory=list)
    value_total: list[float] = field(default_factory=list)


def run_episode(policy: WAVPolicy, env, seed: int, cfg: EvalConfig, frames: list | None = None) -> EpisodeResult:
    runtime = PolicyRuntime(policy, env.instruction)
    obs = env.reset(seed)
    runtime.observe(obs["images"], obs["state"])
    max_ticks = int(round(cfg.max_seconds * env.robot.tick_hz))
    horizon = policy.cfg.action_horizon
    execute = cfg.replan_after if 0 < cfg.replan_after <= horizon else horizon
    res = EpisodeResult(seed, False, {}, 0)
    chunk, i = None, execute
    info: dict = {}
    for tick in range(max_ticks):
        if i >= execute:
            chunk = runtime.plan(seed=seed * 100_003 + tick, warm=cfg.warm_start)
            res.plan_ms.append(chunk.latency_ms)
            res.snr.append(chunk.plan.snr)
            res.value_total.append(float(chunk.plan.values[0, -1]))
            i = 0
        obs, info = env.step(chunk.actions[i])
        i += 1
        runtime.observe(obs["images"], obs["state"])
        if frames is not None:
            frames.append(obs["images"][env.robot.camera_names[0]])
        res.ticks = tick + 1
        if info["success"]:
            break
    res.success = bool(info.get("success", False))
    res.subgoals = {k: bool(v) for k, v in info.items() if k not in ("success", "clipped", "n_clipped")}
    return res


def evaluate(policy: WAVPolicy, cfg: EvalConfig, planner: PlannerConfig | None = None,
             robot: RobotConfig | None = None, progress: bool = True) -> dict:
    from ..sim.env import SimEnv

    if planner is not None:
        policy.set_planner(planner)
    seeds = [cfg.seed + k for k in range(cfg.episodes)]
    episodes = []
    with SimEnv(cfg.task, robot or RobotConfig()) as env:
        it = seeds
        if progress:
            from tqdm import tqdm
            it = tqdm(seeds, desc=f"eval {cfg.task} K={policy.planner.cfg.K}", unit="episode")
        for seed in it:
            episodes.append(run_episode(policy, env, seed, cfg))
    plan_ms = np.concatenate([e.plan_ms for e in episodes]) if episodes else np.zeros(0)
    subgoal_names = sorted({k for e in episodes for k in e.subgoals})
    pc = policy.planner.cfg
    return {
        "task": cfg.task, "K": pc.K, "M": pc.M, "N": pc.N, "S": pc.S, "seeds": seeds,
        "success_rate": float(np.mean([e.success for e in episodes])) if episodes else 0.0,
        "subgoal_rates": {k: float(np.mean([e.subgoals.get(k, False) for e in episodes])) for k in subgoal_names},
        "mean_episode_ticks": float(np.mean([e.ticks for e in episodes])) if episodes else 0.0,
        "plan_latency_ms": {"median": float(np.median(plan_ms)) if plan_ms.size else 0.0,
                            "p90": float(np.percentile(plan_ms, 90)) if plan_ms.size else 0.0},
        "episodes": [{"seed": e.seed, "success": e.success, "subgoals": e.subgoals, "ticks": e.ticks,
                      "mean_snr": float(np.mean(e.snr)) if e.snr else 0.0,
                      "plans": len(e.plan_ms)} for e in episodes],
    }
