"""`wav sim`: record expert demonstrations as rosbag2, view the cameras, measure experts and speed."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

TASK_NAMES = ("drawer", "bowl")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="MuJoCo twin of the Piper dual-arm: record, view, expert, bench")
    ss = p.add_subparsers(dest="sim_command", required=True)

    r = ss.add_parser("record", help="record scripted-expert episodes, one rosbag2 (MCAP) per episode")
    _common(r)
    r.add_argument("--episodes", type=int, default=1)
    r.add_argument("--out", required=True, help="output directory (bags + summary.json)")
    r.add_argument("--noise", type=float, default=0.0, help="action-noise std (rad) injected by the expert")
    r.add_argument("--max-duration", type=float, default=45.0, help="episode limit in sim seconds")
    r.add_argument("--instruction", help="instruction to publish instead of the task's own")
    r.add_argument("--workers", type=int, default=1,
                   help="episodes recorded in parallel, one process and simulator each (same bags as 1 worker)")
    r.add_argument("--jpeg", type=int, metavar="QUALITY",
                   help="write cameras as JPEG sensor_msgs/CompressedImage on <topic>/compressed at this quality "
                        "(1-100) instead of raw rgb8 Image; `wav data import` reads either")
    r.set_defaults(func=_record)

    v = ss.add_parser("view", help="save the three camera views side by side as a PNG")
    _common(v)
    v.add_argument("--out", required=True, help="PNG file")
    v.add_argument("--after", type=float, default=0.0, help="run the expert this many sim seconds first")
    v.set_defaults(func=_view)

    e = ss.add_parser("expert", help="scripted-expert success rate over consecutive seeds (no cameras)")
    _common(e)
    e.add_argument("--episodes", type=int, default=100)
    e.add_argument("--noise", type=float, default=0.0)
    e.add_argument("--max-duration", type=float, default=45.0)
    e.add_argument("--json", help="also write per-episode results to this JSON file")
    e.set_defaults(func=_expert)

    b = ss.add_parser("bench", help="env steps/s with cameras at full size and 96x96, physics steps/s")
    b.add_argument("--task", choices=TASK_NAMES, default="drawer")
    b.add_argument("--steps", type=int, default=20)
    b.add_argument("--repeats", type=int, default=5)
    b.add_argument("--json", help="also write the results to this JSON file")
    b.set_defaults(func=_bench)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", choices=TASK_NAMES, default="drawer")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", help="YAML with a `robot:` section (topics, cameras, rates); default: built-in rig")


def _robot(path: str | None):
    from wav_core.config.loader import load
    from wav_core.config.robot import RobotConfig

    return load(RobotConfig, path, section="robot") if path else None


def _record(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")
    if args.workers < 1:
        raise ValueError(f"--workers: got {args.workers}, expected >= 1")
    if args.jpeg is not None and not 1 <= args.jpeg <= 100:
        raise ValueError(f"--jpeg: got {args.jpeg}, expected a JPEG quality 1..100")
    from wav_core.sim.record import record_dataset

    summary = record_dataset(args.task, args.episodes, args.seed, Path(args.out), robot=_robot(args.config),
                             noise=args.noise, max_duration_s=args.max_duration, instruction=args.instruction,
                             workers=args.workers, jpeg_quality=args.jpeg)
    print(f"wrote {args.episodes} bags to {args.out}; expert success {summary['success_rate']:.1%}")
    return 0


def _view(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")
    if Path(args.out).suffix.lower() != ".png":
        raise ValueError(f"--out: got {args.out}, expected a .png file")
    from wav_core.sim import SimEnv, make_expert
    from wav_core.sim.view import save_view

    with SimEnv(args.task, robot=_robot(args.config), render=False) as env:
        obs = env.reset(args.seed)
        expert = make_expert(args.task, env, seed=args.seed)
        while env.time < args.after - 1e-9:
            obs, _ = env.step(expert.act(obs))
        save_view(env.render(), Path(args.out))
    print(f"saved {args.out}")
    return 0


def _expert(args: argparse.Namespace) -> int:
    from wav_core.sim import SimEnv
    from wav_core.sim.rollout import run_expert

    if args.episodes < 1:
        raise ValueError(f"--episodes: got {args.episodes}, expected >= 1")
    results = []
    with SimEnv(args.task, robot=_robot(args.config), render=False) as env:
        for i in range(args.episodes):
            res = run_expert(env, args.seed + i, noise=args.noise, max_duration_s=args.max_duration)
            results.append(res)
            ok = sum(r.success for r in results)
            print(f"[{i + 1}/{args.episodes}] seed {res.seed}: {'success' if res.success else 'FAIL'} "
                  f"{res.duration_s:.1f}s {res.subgoals}{' timeouts ' + str(res.timeouts) if res.timeouts else ''}"
                  f"  ({ok}/{i + 1})", flush=True)
    rate = sum(r.success for r in results) / len(results)
    print(f"{args.task}: expert success {sum(r.success for r in results)}/{len(results)} = {rate:.1%} "
          f"(seeds {args.seed}..{args.seed + args.episodes - 1}, noise {args.noise})")
    if args.json:
        Path(args.json).write_text(json.dumps({"task": args.task, "noise": args.noise, "success_rate": rate,
                                               "episodes": [r.__dict__ for r in results]}, indent=2))
    return 0


def _bench(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")
    import platform

    from wav_core.sim.bench import bench_sim

    res = bench_sim(args.task, steps=args.steps, repeats=args.repeats)
    res["machine"] = f"{platform.machine()} {os.cpu_count()} cpus"
    sizes = ", ".join(f"{k} {h}x{w}" for k, (h, w) in res["camera_sizes"].items())
    print(f"task {res['task']}: {res['physics_per_step']} physics steps per decision; medians of {res['repeats']}")
    print(f"env.step + 3 cameras full size ({sizes}): {res['env_steps_per_s_full']:8.1f} steps/s")
    print(f"env.step + 3 cameras 96x96:                   {res['env_steps_per_s_small']:8.1f} steps/s")
    print(f"env.step, no cameras:                        {res['env_steps_per_s_no_camera']:8.1f} steps/s")
    print(f"render only, full / 96x96:                   {res['render_sets_per_s_full']:8.1f} / "
          f"{res['render_sets_per_s_small']:.1f} camera sets/s")
    print(f"physics only (mj_step):                      {res['physics_steps_per_s']:8.0f} steps/s "
          f"({res['realtime_factor_physics']:.1f}x real time)")
    print(f"ratio 96x96 / full-size env steps: {res['env_steps_per_s_small'] / res['env_steps_per_s_full']:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0
