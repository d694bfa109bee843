"""Expert demonstrations recorded as rosbag2 files, on the same topics and clocks as the real rig.

Physics advances one step at a time and each stream fires on its own schedule (joints 200 Hz,
cameras 30 Hz, decisions 20 Hz by default), so the bags exercise the same alignment logic the
real recordings need. With a `QualityConfig` (`--quality mixed`) each episode's expert errs as its
seed says (see `quality.py`); every episode is kept, and summary.json reports what the simulator
measured at its end.
"""

from __future__ import annotations

import atexit
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from wav_core.config.loader import to_dict
from wav_core.config.robot import RobotConfig
from wav_core.parallel import job_results
from wav_core.robot import piper

from .bag import RigBagWriter, check_jpeg_quality
from .env import SimEnv
from .experts import make_expert
from .experts.degraded import servo_targets
from .lead import PolicyLead, lead_episode
from .quality import EpisodeQuality, QualityConfig, choose_quality
from .rollout import quality_record
from .tasks import make_task


@dataclass
class EpisodeResult:
    seed: int
    success: bool
    """The task's success condition on the final state, as the simulator evaluates it."""
    subgoals: dict[str, bool]
    """Sub-goals reached at any time during the episode (the simulator's latched flags at the end)."""
    duration_s: float
    bag: str
    timeouts: list[str]
    quality: dict[str, Any]
    """Quality mode, its parameters and when its mistake happened (see `quality.py`)."""
    lead_s: float = 0.0
    """Sim seconds a policy drove before the expert took over (`lead.py`); the bag starts there."""
    lead_progress: dict[str, float] | None = None
    """The task's progress distances (m, `Task.progress`) where the policy handed over."""


class _Schedule:
    """Fires at k / hz for k = 0, 1, ...; tolerant of rates that are not whole numbers of physics steps."""

    def __init__(self, hz: float, half_step: float):
        self.period = 1.0 / hz
        self.half_step = half_step
        self.k = 0

    def due(self, t: float) -> bool:
        if t + self.half_step >= self.k * self.period:
            self.k += 1
            return True
        return False


def record_episode(env: SimEnv, seed: int, bag_path: Path, noise: float = 0.0, max_duration_s: float = 45.0,
                   settle_s: float = 0.5, jpeg_quality: int | None = None,
                   quality: EpisodeQuality | None = None, policy=None, lead_s: float = 0.0) -> EpisodeResult:
    """Run the expert from `seed` and write one bag; stops `settle_s` after the script ends or at the limit.

    `quality`: how the expert errs in this episode (None: the clean expert). `policy`: drives the
    first `lead_s` sim seconds unrecorded, then the expert takes over from that state; the bag's
    clock starts at the takeover and `max_duration_s` still counts from the reset."""
    robot = env.robot
    handed_over = None
    if policy is None:
        env.reset(seed)
    else:
        lead_episode(env, policy, seed, lead_s)
        handed_over = {k: round(float(v), 4) for k, v in env.task.progress(env.model, env.data).items()}
    start = env.time
    expert = make_expert(env.task.name, env, seed=seed, noise=noise, quality=quality)
    half = env.model.opt.timestep / 2
    joints = _Schedule(robot.joint_hz, half)
    cams = _Schedule(robot.camera_hz, half)
    ticks = _Schedule(robot.tick_hz, half)
    arms = [a.name for a in robot.arms]
    end_time = None
    with RigBagWriter(bag_path, robot, jpeg_quality) as bag:
        bag.write_instruction(0.0, env.instruction)
        while True:
            t = env.time - start
            if joints.due(t):
                q, v = env.joint_state(), env.joint_velocity()
                for k, arm in enumerate(arms):
                    bag.write_feedback(arm, t, q[7 * k:7 * k + 7], v[7 * k:7 * k + 7])
            if cams.due(t):
                for name, img in env.render().items():
                    bag.write_image(name, t, img)
            if ticks.due(t):
                env.info()  # latches the sub-goals reached by now (physics steps alone do not)
                if end_time is None and expert.done:
                    end_time = t + settle_s
                if env.time >= max_duration_s - half or (end_time is not None and t >= end_time - half):
                    break
                command = piper.clip_dual(expert.act(None))  # the action after clipping to the limits
                env.set_targets(servo_targets(expert, command))
                for k, arm in enumerate(arms):
                    bag.write_command(arm, t, command[7 * k:7 * k + 7])
            env.step_physics(1)
    info = env.info()  # the final state, whatever the script meant to achieve
    subgoals = {k: bool(info[k]) for k in env.task.subgoals}
    return EpisodeResult(seed, bool(info["success"]), subgoals, round(env.time, 4), str(bag_path),
                         list(expert.timeouts), quality_record(quality, expert), round(start, 4), handed_over)


@dataclass
class _Settings:
    """What every episode of one `record_dataset` call shares; sent once to each worker process."""

    task: str
    robot: RobotConfig | None
    instruction: str | None
    noise: float
    max_duration_s: float
    jpeg_quality: int | None
    quality: QualityConfig | None
    lead: PolicyLead | None = None


_worker_env: SimEnv | None = None
_worker_settings: _Settings | None = None
_worker_policy = None
_kept_threads: int | None = None


def _start_worker(settings: _Settings) -> None:
    """One SimEnv per process, reused for all its episodes (building the scene costs more than a
    reset); closed (renderer released) when the process exits or the run ends."""
    global _worker_env, _worker_settings, _worker_policy, _kept_threads
    _worker_settings = settings
    # A leading policy sees the cameras every tick, as in evaluation.
    _worker_env = SimEnv(settings.task, robot=settings.robot, render=settings.lead is not None,
                         instruction=settings.instruction)
    if settings.lead is not None:
        import torch

        _kept_threads = torch.get_num_threads()  # restored when a run in this process ends
        torch.set_num_threads(settings.lead.threads)
        _worker_policy = settings.lead.load()
    atexit.register(_stop_worker)


def _stop_worker() -> None:
    global _worker_env, _worker_settings, _worker_policy, _kept_threads
    if _worker_env is not None:
        _worker_env.close()
    if _kept_threads is not None:
        import torch

        torch.set_num_threads(_kept_threads)
    _worker_env = _worker_settings = _worker_policy = _kept_threads = None
    atexit.unregister(_stop_worker)


def _record_job(job: tuple[int, int, Path]) -> tuple[int, EpisodeResult, float]:
    """Episode `index` from `seed` into `bag_path` with this process's env; returns its wall time too."""
    index, seed, bag_path = job
    assert _worker_env is not None and _worker_settings is not None, "_start_worker runs first"
    s = _worker_settings
    t0 = time.perf_counter()
    quality = None if s.quality is None else choose_quality(seed, s.task, s.quality)
    lead_s = 0.0 if s.lead is None else s.lead.lead_seconds(seed)
    res = record_episode(_worker_env, seed, bag_path, noise=s.noise, max_duration_s=s.max_duration_s,
                         jpeg_quality=s.jpeg_quality, quality=quality, policy=_worker_policy, lead_s=lead_s)
    return index, res, time.perf_counter() - t0


def _print_line(line: str) -> None:
    print(line, flush=True)


def record_dataset(task: str, episodes: int, seed: int, out: Path, robot: RobotConfig | None = None,
                   noise: float = 0.0, max_duration_s: float = 45.0, instruction: str | None = None,
                   progress: Callable[[str], None] = _print_line, workers: int = 1,
                   jpeg_quality: int | None = None, quality: QualityConfig | None = None,
                   lead: PolicyLead | None = None) -> dict:
    """Episodes `seed .. seed+episodes-1`, one bag each under `out`, plus `out/summary.json`.

    Episode i always uses seed `seed+i` and bag `episode_{i:04d}`, so `workers` > 1 (one process and
    SimEnv each, started with "spawn" so no MuJoCo/EGL state is forked) gives the same bags as a serial
    run, only sooner; progress lines come in the order episodes finish. `jpeg_quality` writes the
    cameras as JPEG CompressedImage on `<topic>/compressed` (see `RigBagWriter`). `quality` records a
    mixed-quality set (None: the clean expert in every episode); an episode's mode depends on its seed only.
    `lead`: a trained policy drives each episode first and the clean expert takes over (`lead.py`).
    """
    if episodes < 1:
        raise ValueError(f"episodes: got {episodes}, expected >= 1")
    if max_duration_s <= 0:
        raise ValueError(f"max_duration_s: got {max_duration_s}, expected > 0")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: got {workers!r}, expected an integer >= 1")
    check_jpeg_quality(jpeg_quality)
    if quality is not None:
        if noise > 0:
            raise ValueError(f"noise: got {noise} with a mixed-quality mix; the mix sets each episode's noise "
                             "(quality.noise_stds), expected 0")
        quality.validate()
        quality.weights(task)
    if lead is not None:
        if quality is not None or noise > 0:
            raise ValueError("lead: the expert that takes over is the clean one; expected no quality mix and noise 0")
        lead.validate()
        if lead.seconds[1] >= max_duration_s:
            raise ValueError(f"lead seconds: got up to {lead.seconds[1]} s, expected less than max_duration_s "
                             f"{max_duration_s} s (the expert needs time to take over)")
    task_instruction = make_task(task).instruction if instruction is None else instruction
    out = Path(out)
    jobs = [(i, seed + i, out / f"episode_{i:04d}") for i in range(episodes)]
    for _, _, bag_path in jobs:
        if bag_path.exists():
            raise ValueError(f"out: {bag_path} already exists; choose an empty output directory")
    out.mkdir(parents=True, exist_ok=True)
    settings = _Settings(task, robot, instruction, noise, max_duration_s, jpeg_quality, quality, lead)
    results: dict[int, EpisodeResult] = {}

    def finished(index: int, res: EpisodeResult, wall_s: float) -> None:
        results[index] = res
        ok = sum(r.success for r in results.values())
        mode = f" ({res.quality['mode']})" if quality is not None else ""
        progress(f"[{len(results)}/{episodes}] seed {res.seed}{mode}: {'success' if res.success else 'FAIL'} "
                 f"{res.duration_s:.1f}s sim in {wall_s:.1f}s wall; {ok}/{len(results)} successful")

    try:
        with job_results(_record_job, jobs, workers, ordered=False, initializer=_start_worker,
                         initargs=(settings,)) as done:
            for res in done:
                finished(*res)
    finally:
        _stop_worker()  # the env of a run in this process; workers close theirs on exit
    ordered = [results[i] for i in range(episodes)]
    summary = {
        "task": task,
        "instruction": task_instruction,
        "episodes": episodes,
        "seeds": [r.seed for r in ordered],
        "noise": noise,
        "max_duration_s": max_duration_s,
        "jpeg_quality": jpeg_quality,
        "quality": "expert" if quality is None else "mixed",
        "quality_config": None if quality is None else to_dict(quality),
        "lead": None if lead is None else to_dict(lead),
        "success_rate": sum(r.success for r in ordered) / len(ordered),
        "by_mode": _by_mode(ordered),
        "per_episode": [
            {"seed": r.seed, "bag": Path(r.bag).name, "success": r.success, "subgoals": r.subgoals,
             "quality": r.quality, "duration_s": r.duration_s, "phase_timeouts": r.timeouts,
             **({"lead_s": r.lead_s, "lead_progress": r.lead_progress} if lead is not None else {})}
            for r in ordered
        ],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _by_mode(results: list[EpisodeResult]) -> dict[str, dict[str, int]]:
    """Episodes and successes per quality mode."""
    out: dict[str, dict[str, int]] = {}
    for r in results:
        row = out.setdefault(r.quality["mode"], {"episodes": 0, "successes": 0})
        row["episodes"] += 1
        row["successes"] += int(r.success)
    return out
