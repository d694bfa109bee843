"""`wav run` starts a launch file's node set in one process (for machines without launch_ros);
`wav demo` runs a simulated task closed-loop through the real nodes and reports."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="start the nodes of a config or launch file in one process")
    p.add_argument("name", help="config or launch name, e.g. sim_drawer, piper_drawer.launch.py, or a YAML path")
    p.add_argument("--enable", action="store_true", help="enable command output once observations arrive")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")
    p.add_argument("--record", metavar="DIR", help="record cameras, feedback, commands, chunks, plan_info, plan "
                                                  "markers, the commanded pose, the model's input images (with "
                                                  "--debug-images) and /diagnostics into this new MCAP bag directory")
    p.add_argument("--debug-images", action="store_true",
                   help="publish the images the model is fed on /wav_policy/model_input/<camera>")
    p.add_argument("--dry-run", action="store_true",
                   help="run the whole path but publish the set-points on /wav_policy/command_preview, not to the arms")
    p.set_defaults(func=_run)
    d = sub.add_parser("demo", help="a simulated task (the config's sim.task), closed-loop through the ROS 2 nodes")
    d.add_argument("--config", default="sim_drawer", help="config with robot/policy/sim sections")
    d.add_argument("--model", default=None, help="model directory (default: the config's policy.model)")
    d.add_argument("--seconds", type=float, default=40.0, help="simulated seconds to run (stops early on success)")
    d.add_argument("--wall-timeout", type=float, default=900.0)
    d.add_argument("--out", default="demo_out", help="folder for the GIF, the joint plot and summary.json")
    d.add_argument("--note", default="", help="printed with the results (e.g. where the model came from)")
    d.set_defaults(func=_demo)
    b = sub.add_parser("node-bench", help="policy node timing on DDS: executor jitter idle vs planning, camera-to-chunk latency")
    src = b.add_mutually_exclusive_group()
    src.add_argument("--preset", default="tiny", choices=["tiny", "sim"])
    src.add_argument("--model")
    b.add_argument("--seconds", type=float, default=10.0)
    b.add_argument("--K", type=int, default=1)
    b.add_argument("--M", type=int, default=8)
    b.add_argument("--N", type=int, default=4)
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--in-process", action="store_true", help="plan in a thread of the node instead of a child process")
    b.add_argument("--json")
    b.set_defaults(func=_node_bench)


def _run(args: argparse.Namespace) -> int:
    from .session import Session

    with Session(args.name, record=args.record, dry_run=args.dry_run, debug_images=args.debug_images) as s:
        s.start()
        if args.enable:
            s.enable()
        s.spin(args.duration)
        if s.recorder is not None:
            recorded = dict(s.recorder.recorded)
    if args.record:
        print(f"recorded {sum(recorded.values())} messages into {args.record}: {recorded}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.config, args.model, args.seconds, args.out, args.wall_timeout, args.note)


def _node_bench(args: argparse.Namespace) -> int:
    import json

    from wav_core.planning import PlannerConfig

    from .bench_node import run_node_bench

    r = run_node_bench(args.preset, args.model, args.seconds, PlannerConfig(K=args.K, M=args.M, N=args.N), args.threads,
                       planner_process=not args.in_process)
    where = "in-process thread" if args.in_process else "child process"
    print(f"model {r['preset']}  K={r['K']} M={r['M']} N={r['N']}  planner in a {where}  "
          f"{args.seconds:.0f} s per phase, wall clock")
    for phase in ("idle", "planning"):
        p = r[phase]
        print(f"executor command interval, planner {phase:8s}: p50 {p['p50_ms']:.2f} ms  p99 {p['p99_ms']:.2f} ms  (n={p['n']})")
    print(f"p99 ratio planning/idle: {r['p99_ratio_planning_vs_idle']:.2f}")
    c = r["camera_to_chunk_ms"]
    print(f"newest camera stamp -> published chunk: median {c['median']:.0f} ms  p90 {c['p90']:.0f} ms  (n={c['n']})")
    print(f"plan latency: median {r['plan_latency_ms']['median']:.0f} ms  p90 {r['plan_latency_ms']['p90']:.0f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=2)
    return 0
