"""`wav replay`: a recorded run through the policy offline (metrics, plots, predictions bag), or
played live over ROS 2 (`--live`) for a running policy node."""

from __future__ import annotations

import argparse
import importlib
import json


def register(sub: argparse._SubParsersAction) -> None:
    from ..replay.live import add_live_arguments

    parser = sub.add_parser("replay", help="replay a rosbag through the policy offline, or play it over ROS 2 (--live)")
    live = parser.add_argument_group("live replay (--live; also the bag_player command)")
    live.add_argument("--live", action="store_true", help="play the bag over ROS 2 instead of replaying offline")
    add_live_arguments(live)
    p = parser.add_argument_group("offline replay")
    p.add_argument("--model", help="model directory (offline)")
    p.add_argument("--preset", help="random weights of a preset instead of --model (timing runs): tiny, sim, paper")
    p.add_argument("--out", help="output directory (offline)")
    p.add_argument("--config", help="YAML with a robot: section; default: the built-in rig")
    p.add_argument("--K", type=int, default=3)
    p.add_argument("--M", type=int, default=8)
    p.add_argument("--N", type=int, default=4)
    p.add_argument("--S", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--replan-after", type=int, default=0, help="ticks between decisions (0: the model's action horizon)")
    p.add_argument("--gripper-threshold", type=float, default=None, help="open/closed threshold in m (default 0.035)")
    p.add_argument("--lookahead", type=float, default=0.5, help="bag seconds a tick waits for late messages")
    p.add_argument("--backend", default="torch", help="network backend passed to WAVPolicy.load")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--bench", action="store_true", help="timing only: no plots, no predictions bag")
    p.add_argument("--progress", action="store_true")
    parser.set_defaults(func=run)


def _require(args: argparse.Namespace, *names: str) -> None:
    missing = [f"--{n.replace('_', '-')}" for n in names if not getattr(args, n)]
    if missing:
        raise ValueError(f"replay: {', '.join(missing)} required{' (offline mode)' if not args.live else ''}")


def run(args: argparse.Namespace) -> int:
    if args.live:
        return run_live(args)
    return run_offline(args)


def run_live(args: argparse.Namespace) -> int:
    from ..replay.live import live_config

    _require(args, "bag")
    cfg = live_config(args)
    # The ROS side lives in wav_ros and is loaded by name only here, as `wav` loads its ROS commands.
    summary = importlib.import_module("wav_ros.bag_player").run_live(cfg)
    print(json.dumps(summary, indent=2))
    return 0


def run_offline(args: argparse.Namespace) -> int:
    import torch

    from ..config.loader import load
    from ..config.robot import RobotConfig
    from ..planning import PlannerConfig, WAVPolicy, random_policy
    from ..replay import ReplayConfig, replay_bag

    _require(args, "bag", "out")
    if bool(args.model) == bool(args.preset):
        raise ValueError("replay: give exactly one of --model (a model directory) or --preset (random weights)")
    if args.threads:
        torch.set_num_threads(args.threads)
    robot = load(RobotConfig, args.config, section="robot") if args.config else RobotConfig()
    planner = PlannerConfig(K=args.K, M=args.M, N=args.N, S=args.S)
    if args.model:
        policy = WAVPolicy.load(args.model, planner, backend=args.backend)
    else:
        policy = random_policy(args.preset, planner, backend=args.backend)
    cfg = ReplayConfig(seed=args.seed, replan_after=args.replan_after, lookahead_s=args.lookahead,
                       typestore=args.typestore, write_predictions=not args.bench, write_report=not args.bench)
    if args.gripper_threshold is not None:
        cfg.gripper_threshold_m = args.gripper_threshold
    result = replay_bag(args.bag, args.out, robot, policy, cfg, progress=args.progress)
    m, t = result.metrics, result.timing
    arm = [v for v in m["mae_by_horizon"] if v is not None]
    print(f"decisions {m['decisions']}  compared steps {m['compared_steps']}  "
          f"arm MAE {sum(arm) / len(arm) if arm else float('nan'):.4f} rad  gripper agreement "
          + ", ".join(f"{n} {'not scored (held half open)' if v is None else f'{v:.3f}'}"
                      for n, v in m["gripper_agreement"].items() if n != "all"))
    print(f"wall {t['wall_s']:.2f} s for {t['bag_s']:.2f} s of bag: {t['decisions_per_s']:.2f} decisions/s "
          f"(real time needs {t['realtime_decisions_per_s']:.2f}), real-time factor {t['real_time_factor']:.2f}, "
          f"plan latency median {m['plan_latency_ms']['median']:.1f} ms p90 {m['plan_latency_ms']['p90']:.1f} ms; "
          f"bag streaming and observing took {t['stream_s']:.2f} s ({t['bag_s'] / max(t['stream_s'], 1e-9):.1f}x real time)")
    print(f"outputs: {result.out}")
    return 0
