"""`wav run` starts a launch file's node set in one process (for machines without launch_ros);
`wav demo` runs the simulated drawer task closed-loop through the real nodes and reports."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="start the nodes of a config or launch file in one process")
    p.add_argument("name", help="config or launch name, e.g. sim_drawer, piper_drawer.launch.py, or a YAML path")
    p.add_argument("--enable", action="store_true", help="enable command output once observations arrive")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")
    p.set_defaults(func=_run)
    d = sub.add_parser("demo", help="simulated drawer task, closed-loop through the ROS 2 nodes")
    d.add_argument("--config", default="sim_drawer", help="config with robot/policy/sim sections")
    d.add_argument("--model", default=None, help="model directory (default: the config's policy.model)")
    d.add_argument("--seconds", type=float, default=40.0, help="simulated seconds to run (stops early on success)")
    d.add_argument("--wall-timeout", type=float, default=900.0)
    d.add_argument("--out", default="demo_out", help="folder for the GIF, the joint plot and summary.json")
    d.add_argument("--note", default="", help="printed with the results (e.g. where the model came from)")
    d.set_defaults(func=_demo)


def _run(args: argparse.Namespace) -> int:
    from .session import Session

    with Session(args.name) as s:
        s.start()
        if args.enable:
            s.enable()
        s.spin(args.duration)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.config, args.model, args.seconds, args.out, args.wall_timeout, args.note)
