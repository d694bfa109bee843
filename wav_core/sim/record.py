"""Expert demonstrations recorded as rosbag2 files, on the same topics and clocks as the real rig.

Physics advances one step at a time and each stream fires on its own schedule (joints 200 Hz,
cameras 30 Hz, decisions 20 Hz by default), so the bags exercise the same alignment logic the
real recordings need.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from wav_core.config.robot import RobotConfig

from .bag import RigBagWriter
from .env import SimEnv
from .experts import make_expert


@dataclass
class EpisodeResult:
    seed: int
    expert_success: bool
    subgoals: dict[str, bool]
    duration_s: float
    bag: str
    timeouts: list[str]


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
                   settle_s: float = 0.5) -> EpisodeResult:
    """Run the expert from `seed` and write one bag; stops `settle_s` after the script ends or at the limit."""
    robot = env.robot
    env.reset(seed)
    expert = make_expert(env.task.name, env, seed=seed, noise=noise)
    half = env.model.opt.timestep / 2
    joints = _Schedule(robot.joint_hz, half)
    cams = _Schedule(robot.camera_hz, half)
    ticks = _Schedule(robot.tick_hz, half)
    arms = [a.name for a in robot.arms]
    end_time = None
    with RigBagWriter(bag_path, robot) as bag:
        bag.write_instruction(0.0, env.instruction)
        while True:
            t = env.time
            if joints.due(t):
                q, v = env.joint_state(), env.joint_velocity()
                for k, arm in enumerate(arms):
                    bag.write_feedback(arm, t, q[7 * k:7 * k + 7], v[7 * k:7 * k + 7])
            if cams.due(t):
                for name, img in env.render().items():
                    bag.write_image(name, t, img)
            if ticks.due(t):
                info = env.info()
                if end_time is None and expert.done:
                    end_time = t + settle_s
                if t >= max_duration_s - half or (end_time is not None and t >= end_time - half):
                    break
                env.set_targets(expert.act(None))
                command = env.targets  # what the servos got: the action after clipping to the limits
                for k, arm in enumerate(arms):
                    bag.write_command(arm, t, command[7 * k:7 * k + 7])
            env.step_physics(1)
    subgoals = {k: bool(info[k]) for k in env.task.subgoals}
    return EpisodeResult(seed, bool(info["success"]), subgoals, round(env.time, 4), str(bag_path), expert.timeouts)


def record_dataset(task: str, episodes: int, seed: int, out: Path, robot: RobotConfig | None = None,
                   noise: float = 0.0, max_duration_s: float = 45.0, instruction: str | None = None,
                   progress: Callable[[str], None] = print) -> dict:
    """Episodes `seed .. seed+episodes-1`, one bag each under `out`, plus `out/summary.json`."""
    if episodes < 1:
        raise ValueError(f"episodes: got {episodes}, expected >= 1")
    if max_duration_s <= 0:
        raise ValueError(f"max_duration_s: got {max_duration_s}, expected > 0")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env = SimEnv(task, robot=robot, render=False, instruction=instruction)
    results = []
    try:
        for i in range(episodes):
            s = seed + i
            bag_path = out / f"episode_{i:04d}"
            if bag_path.exists():
                raise ValueError(f"out: {bag_path} already exists; choose an empty output directory")
            t0 = time.perf_counter()
            res = record_episode(env, s, bag_path, noise=noise, max_duration_s=max_duration_s)
            results.append(res)
            ok = sum(r.expert_success for r in results)
            progress(f"[{i + 1}/{episodes}] seed {s}: {'success' if res.expert_success else 'FAIL'} "
                     f"{res.duration_s:.1f}s sim in {time.perf_counter() - t0:.1f}s wall; {ok}/{i + 1} successful")
    finally:
        env.close()
    summary = {
        "task": task,
        "instruction": env.instruction,
        "episodes": episodes,
        "seeds": [r.seed for r in results],
        "noise": noise,
        "max_duration_s": max_duration_s,
        "success_rate": sum(r.expert_success for r in results) / len(results),
        "per_episode": [
            {"seed": r.seed, "bag": Path(r.bag).name, "expert_success": r.expert_success, "subgoals": r.subgoals,
             "duration_s": r.duration_s, "phase_timeouts": r.timeouts}
            for r in results
        ],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
