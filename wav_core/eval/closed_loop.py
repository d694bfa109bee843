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
same episodes as a serial one. In sync mode, `batch` episodes per process can also be stepped in
lockstep with their plans made in one batched call (`batched.py`), which gives the same episodes up
to the float round-off of batched matrix products.
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
from .following import target_following


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
    closest: dict[str, float] = field(default_factory=dict)
    """The smallest value each of the task's progress distances reached (m, see `Task.progress`):
    how near a failed episode came, a finer measure than success over a few seeds."""
    closest_points: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    """For each of the task's reaches (`Task.reaches`), the tool and target points (m, world frame) at
    that closest approach: over episodes, whether the tool follows the target (`target_following`)."""


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


class EpisodeRun:
    """One episode from `env.reset(seed)` under a fresh ControlLoop, stepped by its driver one
    executor step at a time: `sense` (this step's cameras or joint feedback), the driver's planning
    (`record` what it delivered), then `act` (the loop's set-point to the simulator, physics), until
    `done`; `finish` gives the result. `run_episode` drives one with an InlinePlanner;
    `batched.run_episode_batch` drives several in lockstep and plans them together.
    `frames` collects the top camera's images, `commands` every executed set-point [14]."""

    def __init__(self, policy, env, seed: int, cfg: EvalConfig, frames: list | None = None,
                 commands: list | None = None):
        from ..runtime.control_loop import ControlLoop

        self.policy, self.env, self.seed, self.cfg = policy, env, seed, cfg
        self.frames, self.commands = frames, commands
        self.loop = ControlLoop(cfg.policy_config(seed), env.robot, policy, instruction=env.instruction)
        self.loop.reset()
        per_tick = cfg.executor.rate_hz / env.robot.tick_hz
        if abs(per_tick - round(per_tick)) > 1e-9 or per_tick < 1:
            raise ValueError(f"executor rate_hz {cfg.executor.rate_hz} must be a whole multiple of the tick rate "
                             f"{env.robot.tick_hz} Hz")
        self.per_tick = int(round(per_tick))
        self.obs = env.reset(seed)
        self.result = EpisodeResult(seed, False, {}, 0)
        self.max_steps = int(round(cfg.max_seconds * env.robot.tick_hz)) * self.per_tick
        self.step = 0
        self.done = self.max_steps <= 0

    @property
    def now(self) -> float:
        """Sim time of the current step, seconds."""
        return self.step * self.loop.dt

    def sense(self) -> None:
        loop, env, now = self.loop, self.env, self.now
        if self.step % self.per_tick == 0:
            if self.step:
                self.obs = env.observe()
            loop.observe(self.obs["images"], self.obs["state"], now)
            if self.frames is not None:
                self.frames.append(self.obs["images"][env.robot.camera_names[0]])
            if self.step == 0:
                ok, why = loop.enable(now)
                if not ok:
                    raise RuntimeError(f"episode {self.seed}: the control loop refused to start: {why}")
        else:
            loop.feedback(env.joint_state(), now)

    def record(self, delivered: list) -> None:
        """The plans (plan_info, chunk) delivered at this step."""
        for plan_info, chunk in delivered:
            self.result.plan_ms.append(chunk.latency_ms)
            self.result.snr.append(plan_info["snr"])
            self.result.value_total.append(plan_info["value_total"])

    def act(self) -> None:
        out = self.loop.execute(self.now)
        if out.command is None:
            self.result.stopped = out.hold or "output off"
            self.done = True
            return
        if self.commands is not None:
            self.commands.append(np.array(out.command, dtype=np.float64))
        self.env.set_targets(out.command)
        self.env.advance(self.loop.dt)
        self.step += 1
        if self.step % self.per_tick == 0:
            self.result.ticks = self.step // self.per_tick
            self._note_closest()
            if self.env.info()["success"]:
                self.done = True
        if self.step >= self.max_steps:
            self.done = True

    def _note_closest(self) -> None:
        task, model, data = self.env.task, self.env.model, self.env.data
        closest, points = self.result.closest, self.result.closest_points
        nearer = {name: float(value) for name, value in task.progress(model, data).items()
                  if value < closest.get(name, np.inf)}
        closest.update(nearer)
        reaches = task.reaches(model, data) if nearer else {}  # points are kept at a new closest approach only
        for name in nearer.keys() & reaches.keys():
            tool, target = reaches[name]
            points[name] = {"tool": [round(float(v), 5) for v in tool], "target": [round(float(v), 5) for v in target]}

    def finish(self) -> EpisodeResult:
        info = self.env.info()
        res = self.result
        res.success = bool(info.get("success", False))
        res.subgoals = {k: bool(v) for k, v in info.items() if k not in ("success", "clipped", "n_clipped")}
        res.holds = dict(self.loop.holds)
        return res


def run_episode(policy: WAVPolicy, env, seed: int, cfg: EvalConfig, frames: list | None = None,
                on_request=None, commands: list | None = None, on_tick=None, on_start=None) -> EpisodeResult:
    """One episode from `env.reset(seed)` under a fresh ControlLoop (the planner's warm-start memory
    is cleared), stepped at the executor rate in sim time. `frames` collects the top camera's images,
    `commands` the executed set-points; `on_request(PlanRequest)` sees every decision's observation
    before it is planned; `on_tick(sim_seconds)` is called at the start of every tick;
    `on_start(EpisodeRun)` once the episode is set up, before its first step."""
    from ..runtime.control_loop_planner import InlinePlanner

    run = EpisodeRun(policy, env, seed, cfg, frames, commands)
    if on_start is not None:
        on_start(run)
    planner = InlinePlanner(run.loop, cfg.plan_latency_s, on_request)
    while not run.done:
        if on_tick is not None and run.step % run.per_tick == 0:
            on_tick(run.now)
        run.sense()
        run.record(planner.step(run.now))
        run.act()
    return run.finish()


def episode_seeds(cfg: EvalConfig) -> list[int]:
    return [cfg.seed + k for k in range(cfg.episodes)]


def _progress_line(planner: PlannerConfig, res: EpisodeResult, done: int, total: int) -> str:
    median = float(np.median(res.plan_ms)) if res.plan_ms else 0.0
    late = res.holds.get("plan_late", 0)
    return (f"[{done}/{total}] K={planner.K} seed={res.seed} success={res.success} ticks={res.ticks} "
            f"plan median {median:.1f} ms, plan_late holds {late}" + (f", stopped: {res.stopped}" if res.stopped else ""))


def run_episodes(policy: WAVPolicy | PolicySource, cfg: EvalConfig, planners: list[PlannerConfig],
                 robot: RobotConfig | None = None, workers: int = 1, threads: int | None = None,
                 progress: bool = True, batch: int = 1, journal=None) -> list[list[EpisodeResult]]:
    """The episodes of every seed of `cfg` under each planner setting: one list per planner, in seed
    order.

    workers > 1 runs them in that many "spawn" processes fed from one queue of (planner, seeds)
    jobs, which needs `policy` as a PolicySource. threads: torch intra-op threads (each worker's,
    default 1 with workers > 1 so they do not oversubscribe the cores; serial: unchanged if None).
    batch > 1 (sync mode only): each job is up to `batch` consecutive seeds, stepped in lockstep in
    one process (one simulator each) with their plans made in one batched call (see `batched`).
    progress: one line on stderr per finished episode. Plan latencies measured with workers > 1 are
    taken while the workers share the CPU (and GPU), so they are higher than a single planner's;
    with batch > 1 they are the batched calls' wall times.
    journal: an EpisodeJournal (see journal.py); episodes it already holds are not run again, and
    each finished episode is appended to it.
    """
    from .batched import check_batch

    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: got {workers!r}, expected an integer >= 1")
    if threads is not None and threads < 1:
        raise ValueError(f"threads: got {threads!r}, expected an integer >= 1 or None")
    if not planners:
        raise ValueError("planners: got an empty list, expected at least one PlannerConfig")
    if workers > 1 and not isinstance(policy, PolicySource):
        raise ValueError(f"policy: got a {type(policy).__name__} with workers={workers}, expected a PolicySource "
                         "(each worker process loads the model from its directory)")
    check_batch(batch, cfg, policy.backend if isinstance(policy, PolicySource) else policy.backend.name)
    for p in planners:
        p.validate()
    seeds = episode_seeds(cfg)
    done = journal.load(planners) if journal is not None else {}
    done = {key: res for key, res in done.items() if key[1] in seeds}
    jobs = []
    for k, planner in enumerate(planners):
        todo = [s for s in seeds if (k, s) not in done]
        jobs += [(k, planner, tuple(todo[i:i + batch]), batch > 1) for i in range(0, len(todo), batch)]
    total = len(seeds) * len(planners)
    if progress and done:
        print(f"{len(done)} of {total} episodes taken from the journal {journal.path}", file=sys.stderr, flush=True)

    def report(k: int, res: EpisodeResult) -> None:
        done[(k, res.seed)] = res
        if journal is not None:
            journal.append(planners[k], res)
        if progress:
            print(_progress_line(planners[k], res, len(done), total), file=sys.stderr, flush=True)

    if workers > 1 and threads is None:
        threads = 1
    if workers > 1 and len(jobs) > 1:
        _run_parallel(policy, cfg, planners, robot, jobs, min(workers, len(jobs)), threads, report)
    elif jobs:
        _run_serial(policy, cfg, planners, robot, jobs, threads, report)
    return [[done[(k, seed)] for seed in seeds] for k in range(len(planners))]


def _run_job(policy: WAVPolicy, envs: list, cfg: EvalConfig, seeds: tuple[int, ...], lockstep: bool,
             make_env) -> list[EpisodeResult]:
    """One job's episodes: one after another in envs[0], or stepped in lockstep in one simulator each
    (`make_env` adds the ones missing)."""
    if not lockstep:
        return [run_episode(policy, envs[0], seed, cfg) for seed in seeds]
    from .batched import run_episode_batch

    while len(envs) < len(seeds):
        envs.append(make_env())
    return run_episode_batch(policy, envs, list(seeds), cfg)


def _run_serial(policy, cfg, planners, robot, jobs, threads, report) -> None:
    import torch

    from ..sim.env import SimEnv

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    envs = []
    try:
        if isinstance(policy, PolicySource):
            policy = policy.load(planners[0])
        envs.append(SimEnv(cfg.task, robot or RobotConfig()))
        for k, planner, seeds, lockstep in jobs:
            if policy.planner.cfg != planner:
                policy.set_planner(planner)
            for res in _run_job(policy, envs, cfg, seeds, lockstep, lambda: SimEnv(cfg.task, robot or RobotConfig())):
                report(k, res)
    finally:
        for env in envs:
            env.close()
        torch.set_num_threads(previous_threads)


def _run_parallel(source: PolicySource, cfg, planners, robot, jobs, workers, threads, report) -> None:
    from ..model.files import load_card

    load_card(source.model_dir)  # a missing or malformed model directory fails here, not in every worker
    if source.backend in ("onnxruntime", "tensorrt"):
        # Build any missing export here, once, instead of in every worker at the same time.
        policy = source.load(planners[0])
        for p in planners[1:]:
            policy.set_planner(p)
        del policy
    with job_results(_worker_job, jobs, workers, ordered=False, initializer=_worker_init,
                     initargs=(source, cfg, robot, planners[0], threads)) as results:
        for k, episodes in results:
            for res in episodes:
                report(k, res)


_WORKER: dict = {}
"""A worker process's policy, simulators and settings."""


def _worker_init(source: PolicySource, cfg: EvalConfig, robot: RobotConfig | None, planner: PlannerConfig,
                 threads: int) -> None:
    import atexit

    import torch

    torch.set_num_threads(threads)
    policy = source.load(planner)
    envs: list = []
    _WORKER.update(policy=policy, envs=envs, cfg=cfg, planner=planner, make_env=lambda: _worker_env(cfg, robot))
    envs.append(_WORKER["make_env"]())
    atexit.register(lambda: [env.close() for env in envs])


def _worker_env(cfg: EvalConfig, robot: RobotConfig | None):
    from ..sim.env import SimEnv

    return SimEnv(cfg.task, robot or RobotConfig())


def _worker_job(job: tuple[int, PlannerConfig, tuple[int, ...], bool]) -> tuple[int, list[EpisodeResult]]:
    k, planner, seeds, lockstep = job
    if planner != _WORKER["planner"]:
        _WORKER["policy"].set_planner(planner)
        _WORKER["planner"] = planner
    return k, _run_job(_WORKER["policy"], _WORKER["envs"], _WORKER["cfg"], seeds, lockstep, _WORKER["make_env"])


def summarize(episodes: list[EpisodeResult], cfg: EvalConfig, planner: PlannerConfig) -> dict:
    """The aggregate metrics of one planner setting's episodes (the JSON `wav eval` writes)."""
    plan_ms = np.concatenate([e.plan_ms for e in episodes]) if episodes else np.zeros(0)
    subgoal_names = sorted({k for e in episodes for k in e.subgoals})
    return {
        "task": cfg.task, "K": planner.K, "M": planner.M, "N": planner.N, "S": planner.S,
        "value_steps": planner.value_solve_steps, "feature_steps": planner.feature_steps,
        "warm_start": planner.warm_start, "action_temperature": planner.action_temperature,
        "action_noise_gated": planner.action_noise_gated,
        "plan_temperature": planner.plan_temperature,
        "blind_scores": planner.blind_scores, "final": planner.final,
        "value_noise": planner.value_noise, "video_score": planner.video_score,
        "seeds": [e.seed for e in episodes],
        "success_rate": float(np.mean([e.success for e in episodes])) if episodes else 0.0,
        "subgoal_rates": {k: float(np.mean([e.subgoals.get(k, False) for e in episodes])) for k in subgoal_names},
        "mean_episode_ticks": float(np.mean([e.ticks for e in episodes])) if episodes else 0.0,
        "mode": cfg.mode,
        "holds": {k: int(sum(e.holds.get(k, 0) for e in episodes)) for k in sorted({k for e in episodes for k in e.holds})},
        "stopped_episodes": sum(bool(e.stopped) for e in episodes),
        "plan_latency_ms": {"median": float(np.median(plan_ms)) if plan_ms.size else 0.0,
                            "p90": float(np.percentile(plan_ms, 90)) if plan_ms.size else 0.0},
        "closest_median_m": {k: float(np.median([e.closest[k] for e in episodes if k in e.closest]))
                             for k in sorted({k for e in episodes for k in e.closest})},
        "target_following": target_following(episodes),
        "episodes": [{"seed": e.seed, "success": e.success, "subgoals": e.subgoals, "ticks": e.ticks,
                      "mean_snr": float(np.mean(e.snr)) if e.snr else 0.0,
                      "plans": len(e.plan_ms), "holds": e.holds, "stopped": e.stopped,
                      "closest_m": {k: round(v, 5) for k, v in e.closest.items()},
                      "closest_points": e.closest_points} for e in episodes],
    }


def _planner_or_default(policy: WAVPolicy | PolicySource, planner: PlannerConfig | None) -> PlannerConfig:
    if planner is not None:
        return planner
    return policy.planner.cfg if isinstance(policy, WAVPolicy) else PlannerConfig()


def evaluate_sweep(policy: WAVPolicy | PolicySource, cfg: EvalConfig, planners: list[PlannerConfig],
                   robot: RobotConfig | None = None, progress: bool = True, workers: int = 1,
                   threads: int | None = None, batch: int = 1, journal=None) -> list[dict]:
    """`summarize` of each planner setting over the same seeds; with workers > 1 all (planner, seeds)
    jobs share one pool so no worker idles between settings. See `run_episodes`."""
    runs = run_episodes(policy, cfg, planners, robot, workers, threads, progress, batch, journal)
    return [summarize(eps, cfg, p) for eps, p in zip(runs, planners)]


def evaluate(policy: WAVPolicy | PolicySource, cfg: EvalConfig, planner: PlannerConfig | None = None,
             robot: RobotConfig | None = None, progress: bool = True, workers: int = 1,
             threads: int | None = None, batch: int = 1) -> dict:
    """`summarize` of the episodes of every seed of `cfg` (planner None: the policy's own settings).
    A WAVPolicy is switched to `planner`; with workers > 1 pass a PolicySource (see `run_episodes`)."""
    planner = _planner_or_default(policy, planner)
    return evaluate_sweep(policy, cfg, [planner], robot, progress, workers, threads, batch)[0]
