"""`wav sim`: record expert (or mixed-quality) demonstrations as rosbag2, view the cameras, measure
experts and speed."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

TASK_NAMES = ("drawer", "bowl")
QUALITIES = ("expert", "mixed")


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
    _quality_args(r)
    r.add_argument("--lead-model", metavar="DIR",
                   help="a trained policy drives each episode first (K = 0, the mode of its action flow) and the "
                        "clean expert takes over from the state it reached; the bag holds the expert's part only")
    r.add_argument("--lead-seconds", metavar="MIN,MAX", default="1.5,4.0",
                   help="lead time range in sim seconds, drawn per seed (with --lead-model)")
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
    _quality_args(e)
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


def _quality_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quality", choices=QUALITIES, default="expert",
                   help="expert: the clean scripted expert in every episode; mixed: per episode (from its seed) the "
                        "clean expert, correlated action noise or a scripted mistake, failures kept")
    p.add_argument("--quality-config", metavar="YAML",
                   help="YAML with a `quality:` section (mix, noise_stds, noise_tau_s, mistake ranges) for --quality mixed")
    p.add_argument("--mix", metavar="MODE=FRACTION,...",
                   help="episode fractions per mode for --quality mixed, summing to 1, e.g. expert=0.4,noise=0.3,drop=0.3 "
                        "(modes: expert, noise, late_grasp, drop, half_open, offset, stall, disturb)")
    p.add_argument("--noise-stds", metavar="RAD,...", help="noise levels of `noise` episodes, e.g. 0.02,0.05,0.1")
    p.add_argument("--disturb-stds", metavar="RAD,...",
                   help="servo disturbance levels of `disturb` episodes (the bag keeps the expert's corrective "
                        "commands), e.g. 0.02,0.03")


def _quality(args: argparse.Namespace):
    """The QualityConfig of --quality mixed (file, then flags on top), or None for the clean expert."""
    from wav_core.config.loader import ConfigError, from_dict, load, to_dict
    from wav_core.sim.quality import QualityConfig

    if args.quality == "expert":
        given = [f for f, v in (("--quality-config", args.quality_config), ("--mix", args.mix),
                                ("--noise-stds", args.noise_stds), ("--disturb-stds", args.disturb_stds))
                 if v is not None]
        if given:
            raise ValueError(f"{given[0]}: applies to --quality mixed only (got --quality expert)")
        return None
    cfg = load(QualityConfig, args.quality_config, section="quality") if args.quality_config else QualityConfig()
    data = to_dict(cfg)
    if args.mix is not None:
        data["mix"] = _pairs("--mix", args.mix)
    if args.noise_stds is not None:
        data["noise_stds"] = [_number("--noise-stds", v) for v in args.noise_stds.split(",")]
    if args.disturb_stds is not None:
        data["disturb_stds"] = [_number("--disturb-stds", v) for v in args.disturb_stds.split(",")]
    try:
        return from_dict(QualityConfig, data, "quality")
    except ConfigError as exc:
        raise ValueError(f"--quality mixed: {exc}") from None


def _lead(args: argparse.Namespace):
    if not args.lead_model:
        return None
    from wav_core.sim.lead import PolicyLead

    parts = args.lead_seconds.split(",")
    if len(parts) != 2:
        raise ValueError(f"--lead-seconds: got {args.lead_seconds!r}, expected MIN,MAX (sim seconds)")
    # record_dataset validates it (model directory, range) before anything is written
    return PolicyLead(args.lead_model, (_number("--lead-seconds", parts[0]), _number("--lead-seconds", parts[1])))


def _number(flag: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{flag}: got {text!r}, expected a number") from None


def _pairs(flag: str, text: str) -> dict[str, float]:
    out = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{flag}: got {item!r}, expected MODE=FRACTION")
        out[name.strip()] = _number(flag, value)
    return out


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
    quality = _quality(args)
    if quality is not None and args.noise > 0:
        raise ValueError("--noise: applies to --quality expert; mixed quality sets each episode's noise (--noise-stds)")
    from wav_core.sim.record import record_dataset

    summary = record_dataset(args.task, args.episodes, args.seed, Path(args.out), robot=_robot(args.config),
                             noise=args.noise, max_duration_s=args.max_duration, instruction=args.instruction,
                             workers=args.workers, jpeg_quality=args.jpeg, quality=quality, lead=_lead(args))
    print(f"wrote {args.episodes} bags to {args.out}; success {summary['success_rate']:.1%}")
    if quality is not None:
        for mode, row in summary["by_mode"].items():
            print(f"  {mode:10s} {row['episodes']:4d} episodes, {row['successes']:4d} successful")
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
    from wav_core.sim.quality import choose_quality
    from wav_core.sim.rollout import run_expert

    if args.episodes < 1:
        raise ValueError(f"--episodes: got {args.episodes}, expected >= 1")
    quality = _quality(args)
    if quality is not None and args.noise > 0:
        raise ValueError("--noise: applies to --quality expert; mixed quality sets each episode's noise (--noise-stds)")
    results = []
    with SimEnv(args.task, robot=_robot(args.config), render=False) as env:
        for i in range(args.episodes):
            seed = args.seed + i
            q = None if quality is None else choose_quality(seed, args.task, quality)
            res = run_expert(env, seed, noise=args.noise, max_duration_s=args.max_duration, quality=q)
            results.append(res)
            ok = sum(r.success for r in results)
            mode = f" ({res.quality['mode']})" if q is not None else ""
            print(f"[{i + 1}/{args.episodes}] seed {res.seed}{mode}: {'success' if res.success else 'FAIL'} "
                  f"{res.duration_s:.1f}s {res.subgoals}{' timeouts ' + str(res.timeouts) if res.timeouts else ''}"
                  f"  ({ok}/{i + 1})", flush=True)
    rate = sum(r.success for r in results) / len(results)
    print(f"{args.task}: {'expert ' if quality is None else ''}success {sum(r.success for r in results)}/{len(results)} = {rate:.1%} "
          f"(seeds {args.seed}..{args.seed + args.episodes - 1}, noise {args.noise}, quality {args.quality})")
    if quality is not None:
        for mode in sorted({r.quality["mode"] for r in results}):
            rows = [r for r in results if r.quality["mode"] == mode]
            print(f"  {mode:10s} {len(rows):4d} episodes, {sum(r.success for r in rows):4d} successful")
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
