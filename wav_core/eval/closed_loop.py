"""Closed-loop episodes in the MuJoCo twin, in-process (no ROS), through the robot's control loop.

The simulator is stepped under the same ControlLoop the policy node runs (observation history,
replan rule, chunk executor with blending, safety filter, watchdog), at the executor rate in sim
time; cameras are rendered at the decision rate and at the rig's resolution, so the policy sees in
evaluation what it sees on the robot. `mode` "async" (default) is the robot's behaviour: the arm
keeps executing while the planner works, and a plan that took L seconds of wall time arrives L
seconds of sim time later (or `plan_latency_s`, fixed, for reproducible runs); "sync" is the paper's
"plan, then execute the whole chunk", with the world paused while planning.

Episodes are independent and mostly CPU rendering, so `run_episodes` can spread them over worker
processes. Each worker loads the policy from its model directory and builds its own simulator once;
only seeds, settings and results cross process boundaries. With a fixed `plan_latency_s` (or in
sync mode) an episode's result depends only on its seed and settings, so a parallel run gives the
same episodes as a serial one.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ..config.robot import RobotConfig
from ..parallel import job_results
from ..planning.config import PlannerConfig
from ..planning.policy import WAVPolicy
from ..runtime.config import ExecutorConfig, PolicyConfig, SafetyConfig


@dataclass
class EvalConfig:
    task: str = "drawer"
    episodes: int = 10
    seed: int = 1000
    max_seconds: float = 40.0
    replan_after: int = 0
    """Executed steps of a chunk before replanning (0 = the whole chunk, the paper's setting)."""
    mode: Literal["async", "sync"] = "async"
    """async: plan while the arm moves (the robot); sync: plan, then execute the whole chunk (the paper)."""
    plan_latency_s: float | None = None
    """async: sim seconds a plan takes to arrive (None: its measured wall time)."""
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    safety: SafetyConfig = field(default_factory=SafetyConfig)

    def policy_config(self, episode_seed: int) -> PolicyConfig:
        """The control loop's settings for one episode; decision k draws seed episode_seed * 100003 + k."""
        if self.mode not in ("async", "sync"):
            raise ValueError(f"mode: got {self.mode!r}, expected 'async' or 'sync'")
        executor = dataclasses.replace(self.executor, mode=self.mode, replan_after=self.replan_after)
        return PolicyConfig(seed=episode_seed * 100_003, executor=executor, safety=self.safety)


@dataclass
class EpisodeResult:
    seed: int
    success: bool
    subgoals: dict[str, bool]
    ticks: int
    plan_ms: list[float] = field(default_factory=list)
    snr: list[float] = field(default_factory=list)
    value_total: list[float] = field(default_factory=list)
    holds: dict[str, int] = field(default_factory=dict)
    """Executor steps held, by reason (plan_late: a chunk ran out before the next plan arrived)."""
    stopped: str = ""
    """Why the control loop switched the output off mid-episode (e.g. a tracking error), if it did."""


@dataclass(frozen=True)
class PolicySource:
    """Where a policy comes from, small enough to send to worker processes, which load it themselves
    (a model directory plus the arguments of `WAVPolicy.load`)."""

    model_dir: str | Path
    device: str = "cpu"
    backend: str = "torch"
    backend_options: dict = field(default_factory=dict)

    def load(self, planner: PlannerConfig | None = None) -> WAVPolicy:
        return WAVPolicy.load(self.model_dir, planner, device=self.device, backend=self.backend,
                              **self.backend_options)


def run_episode(policy: WAVPolicy, env, seed: int, cfg: EvalConfig, frames: list | None = None,
                on_request=None) -> EpisodeResult:
    """One episode from `env.reset(seed)` under a fresh ControlLoop (the planner's warm-start memory
    is cleared), stepped at the executor rate in sim time. `frames` collects the top camera's images;
    `on_request(PlanRequest)` sees every decision's observation before it is planned."""
    from ..runtime.control_loop import ControlLoop
    from ..runtime.control_loop_planner import InlinePlanner

    loop = ControlLoop(cfg.policy_config(seed), env.robot, policy, instruction=env.instruction)
    loop.reset()
    planner = InlinePlanner(loop, cfg.plan_latency_s, on_request)
    per_tick = cfg.executor.rate_hz / env.robot.tick_hz
    if abs(per_tick - round(per_tick)) > 1e-9 or per_tick < 1:
        raise ValueError(f"executor rate_hz {cfg.executor.rate_hz} must be a whole multiple of the tick rate "
                         f"{env.robot.tick_hz} Hz")
    per_tick = int(round(per_tick))
    obs = env.reset(seed)
    res = EpisodeResult(seed, False, {}, 0)
    info: dict = {}
    max_steps = int(round(cfg.max_seconds * env.robot.tick_hz)) * per_tick
    for step in range(max_steps):
        now = step * loop.dt
        if step % per_tick == 0:
            if step:
                obs = env.observe()
            loop.observe(obs["images"], obs["state"], now)
            if frames is not None:
                frames.append(obs["images"][env.robot.camera_names[0]])
            if step == 0:
                ok, why = loop.enable(now)
                if not ok:
                    raise RuntimeError(f"episode {seed}: the control loop refused to start: {why}")
        else:
            loop.feedback(env.joint_state(), now)
        for plan_info, chunk in planner.step(now):
            res.plan_ms.append(chunk.latency_ms)
            res.snr.append(plan_info["snr"])
            res.value_total.append(plan_info["value_total"])
        out = loop.execute(now)
        if out.command is None:
            res.stopped = out.hold or "output off"
            break
        env.set_targets(out.command)
        env.advance(loop.dt)
        if (step + 1) % per_tick == 0:
            info = env.info()
            res.ticks = (step + 1) // per_tick
            if info["success"]:
                break
    info = env.info()
    res.success = bool(info.get("success", False))
    res.subgoals = {k: bool(v) for k, v in info.items() if k not in ("success", "clipped", "n_clipped")}
    res.holds = dict(loop.holds)
    return res


def episode_seeds(cfg: EvalConfig) -> list[int]:
    return [cfg.seed + k for k in range(cfg.episodes)]


def _progress_line(planner: PlannerConfig, res: EpisodeResult, done: int, total: int) -> str:
    median = float(np.median(res.plan_ms)) if res.plan_ms else 0.0
    late = res.holds.get("plan_late", 0)
    return (f"[{done}/{total}] K={planner.K} seed={res.seed} success={res.success} ticks={res.ticks} "
            f"plan median {median:.1f} ms, plan_late holds {late}" + (f", stopped: {res.stopped}" if res.stopped else ""))


def run_episodes(policy: WAVPolicy | PolicySource, cfg: EvalConfig, planners: list[PlannerConfig],
                 robot: RobotConfig | None = None, workers: int = 1, threads: int | None = None,
                 progress: bool = True) -> list[list[EpisodeResult]]:
    """The episodes of every seed of `cfg` under each planner setting: one list per planner, in seed
    order.

    workers > 1 runs them in that many "spawn" processes fed from one queue of (planner, seed)
    pairs, which needs `policy` as a PolicySource. threads: torch intra-op threads (each worker's,
    default 1 with workers > 1 so they do not oversubscribe the cores; serial: unchanged if None).
    progress: one line on stderr per finished episode. Plan latencies measured with workers > 1 are
    taken while the workers share the CPU (and GPU), so they are higher than a single planner's.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: got {workers!r}, expected an integer >= 1")
    if threads is not None and threads < 1:
        raise ValueError(f"threads: got {threads!r}, expected an integer >= 1 or None")
    if not planners:
        raise ValueError("planners: got an empty list, expected at least one PlannerConfig")
    if workers > 1 and not isinstance(policy, PolicySource):
        raise ValueError(f"policy: got a {type(policy).__name__} with workers={workers}, expected a PolicySource "
                         "(each worker process loads the model from its directory)")
    for p in planners:
        p.validate()
    seeds = episode_seeds(cfg)
    total = len(planners) * len(seeds)
    if workers > 1 and threads is None:
        threads = 1
    if workers > 1 and total > 1:
        done = _run_parallel(policy, cfg, planners, robot, seeds, min(workers, total), threads, progress)
    else:
        done = _run_serial(policy, cfg, planners, robot, seeds, threads, progress)
    return [[done[(k, seed)] for seed in seeds] for k in range(len(planners))]


def _run_serial(policy, cfg, planners, robot, seeds, threads, progress) -> dict:
    import torch

    from ..sim.env import SimEnv

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        if isinstance(policy, PolicySource):
            policy = policy.load(planners[0])
        done = {}
        with SimEnv(cfg.task, robot or RobotConfig()) as env:
            for k, planner in enumerate(planners):
                if policy.planner.cfg != planner:
                    policy.set_planner(planner)
                for seed in seeds:
                    done[(k, seed)] = res = run_episode(policy, env, seed, cfg)
                    if progress:
                        print(_progress_line(planner, res, len(done), len(planners) * len(seeds)),
                              file=sys.stderr, flush=True)
        return done
    finally:
        torch.set_num_threads(previous_threads)


def _run_parallel(source: PolicySource, cfg, planners, robot, seeds, workers, threads, progress) -> dict:
    from ..model.files import load_card

    load_card(source.model_dir)  # a missing or malformed model directory fails here, not in every worker
    if source.backend in ("onnxruntime", "tensorrt"):
        # Build any missing export here, once, instead of in every worker at the same time.
        policy = source.load(planners[0])
        for p in planners[1:]:
            policy.set_planner(p)
        del policy
    tasks = [(k, planner, seed) for k, planner in enumerate(planners) for seed in seeds]
    done = {}
    with job_results(_worker_episode, tasks, workers, ordered=False, initializer=_worker_init,
                     initargs=(source, cfg, robot, planners[0], threads)) as results:
        for k, res in results:
            done[(k, res.seed)] = res
            if progress:
                print(_progress_line(planners[k], res, len(done), len(tasks)), file=sys.stderr, flush=True)
    return done


_WORKER: dict = {}
"""A worker process's policy, simulator and settings."""


def _worker_init(source: PolicySource, cfg: EvalConfig, robot: RobotConfig | None, planner: PlannerConfig,
                 threads: int) -> None:
    import atexit

    import torch

    from ..sim.env import SimEnv

    torch.set_num_threads(threads)
    policy = source.load(planner)
    env = SimEnv(cfg.task, robot or RobotConfig())
    atexit.register(env.close)
    _WORKER.update(policy=policy, env=env, cfg=cfg, planner=planner)


def _worker_episode(task: tuple[int, PlannerConfig, int]) -> tuple[int, EpisodeResult]:
    k, planner, seed = task
    if planner != _WORKER["planner"]:
        _WORKER["policy"].set_planner(planner)
        _WORKER["planner"] = planner
    return k, run_episode(_WORKER["policy"], _WORKER["env"], seed, _WORKER["cfg"])


def summarize(episodes: list[EpisodeResult], cfg: EvalConfig, planner: PlannerConfig) -> dict:
    """The aggregate metrics of one planner setting's episodes (the JSON `wav eval` writes)."""
    plan_ms = np.concatenate([e.plan_ms for e in episodes]) if episodes else np.zeros(0)
    subgoal_names = sorted({k for e in episodes for k in e.subgoals})
    return {
        "task": cfg.task, "K": planner.K, "M": planner.M, "N": planner.N, "S": planner.S,
        "warm_start": planner.warm_start,
        "seeds": [e.seed for e in episodes],
        "success_rate": float(np.mean([e.success for e in episodes])) if episodes else 0.0,
        "subgoal_rates": {k: float(np.mean([e.subgoals.get(k, False) for e in episodes])) for k in subgoal_names},
        "mean_episode_ticks": float(np.mean([e.ticks for e in episodes])) if episodes else 0.0,
        "mode": cfg.mode,
        "holds": {k: int(sum(e.holds.get(k, 0) for e in episodes)) for k in sorted({k for e in episodes for k in e.holds})},
        "stopped_episodes": sum(bool(e.stopped) for e in episodes),
        "plan_latency_ms": {"median": float(np.median(plan_ms)) if plan_ms.size else 0.0,
                            "p90": float(np.percentile(plan_ms, 90)) if plan_ms.size else 0.0},
        "episodes": [{"seed": e.seed, "success": e.success, "subgoals": e.subgoals, "ticks": e.ticks,
                      "mean_snr": float(np.mean(e.snr)) if e.snr else 0.0,
                      "plans": len(e.plan_ms), "holds": e.holds, "stopped": e.stopped} for e in episodes],
    }


def _planner_or_default(policy: WAVPolicy | PolicySource, planner: PlannerConfig | None) -> PlannerConfig:
    if planner is not None:
        return planner
    return policy.planner.cfg if isinstance(policy, WAVPolicy) else PlannerConfig()


def evaluate_sweep(policy: WAVPolicy | PolicySource, cfg: EvalConfig, planners: list[PlannerConfig],
                   robot: RobotConfig | None = None, progress: bool = True, workers: int = 1,
                   threads: int | None = None) -> list[dict]:
    """`summarize` of each planner setting over the same seeds; with workers > 1 all (planner, seed)
    pairs share one pool so no worker idles between settings. See `run_episodes`."""
    runs = run_episodes(policy, cfg, planners, robot, workers, threads, progress)
    return [summarize(eps, cfg, p) for eps, p in zip(runs, planners)]


def evaluate(policy: WAVPolicy | PolicySource, cfg: EvalConfig, planner: PlannerConfig | None = None,
             robot: RobotConfig | None = None, progress: bool = True, workers: int = 1,
             threads: int | None = None) -> dict:
    """`summarize` of the episodes of every seed of `cfg` (planner None: the policy's own settings).
    A WAVPolicy is switched to `planner`; with workers > 1 pass a PolicySource (see `run_episodes`)."""
    planner = _planner_or_default(policy, planner)
    return evaluate_sweep(policy, cfg, [planner], robot, progress, workers, threads)[0]
