"""Simulator throughput: decision steps per second with cameras at full and policy resolution, and raw
physics steps per second, measured in one run on the same machine."""

from __future__ import annotations

import statistics
import time

from wav_core.robot import piper

from .env import SimEnv
from .scene import TIMESTEP_S


def _rate(fn, n: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def bench_sim(task: str = "drawer", steps: int = 20, physics_steps: int = 3000, repeats: int = 5,
              small: tuple[int, int] = (96, 96)) -> dict:
    """Medians over `repeats` of: env.step with 3 full-size cameras, env.step at `small`, env.step
    without cameras, bare mj_step, and camera sets rendered per second at both sizes."""
    action = piper.HOME.copy()
    out: dict = {"task": task, "repeats": repeats}
    with SimEnv(task) as env:
        env.reset(0)
        substeps = int(round(env.decision_dt / env.model.opt.timestep))
        out["physics_per_step"] = substeps
        out["camera_sizes"] = {c: list(env.camera_size(c)) for c in env.robot.camera_names}
        out["env_steps_per_s_full"] = _rate(lambda: env.step(action), steps, repeats)
        out["render_sets_per_s_full"] = _rate(env.render, steps, repeats)
    with SimEnv(task, image_size=small) as env:
        env.reset(0)
        out["env_steps_per_s_small"] = _rate(lambda: env.step(action), steps * 3, repeats)
        out["render_sets_per_s_small"] = _rate(env.render, steps * 3, repeats)
    with SimEnv(task, render=False) as env:
        env.reset(0)
        out["env_steps_per_s_no_camera"] = _rate(lambda: env.step(action), steps * 5, repeats)
        out["physics_steps_per_s"] = _rate(lambda: env.step_physics(1), physics_steps, repeats)
    out["small_size"] = list(small)
    out["realtime_factor_physics"] = out["physics_steps_per_s"] * TIMESTEP_S
    return out
