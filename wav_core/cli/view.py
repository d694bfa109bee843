"""`wav view`: what the policy planned in a recorded run, as a PNG (one plan) or a GIF (every Nth)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("view", help="draw the plan view (cameras, planned tool paths by value, measured and "
                                    "commanded arms) from a recorded run")
    p.add_argument("--bag", required=True, help="rosbag2 directory recorded by `wav run --record` or record:=true")
    p.add_argument("--out", required=True, help="PNG to write: the plan at --time, else the last plan")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--time", type=float, help="seconds after the bag's start: the last plan at or before it")
    when.add_argument("--every", type=int, help="with --gif: every Nth plan as one GIF frame")
    p.add_argument("--gif", help="GIF to write with --every")
    p.add_argument("--config", help="YAML with a robot: section (camera and joint topics); default: the built-in rig")
    p.add_argument("--node", default="wav_policy", help="the policy node's name (its topics are /NODE/...)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config.loader import load
    from ..config.robot import RobotConfig
    from ..viz.render import render_gif, render_png

    if (args.every is None) != (args.gif is None):
        raise ValueError("--every and --gif: give both (a GIF of every Nth plan) or neither")
    if args.every is not None and args.every < 1:
        raise ValueError(f"--every: got {args.every}, expected >= 1")
    if args.time is not None and args.time < 0:
        raise ValueError(f"--time: got {args.time}, expected seconds >= 0 after the bag's start")
    robot = load(RobotConfig, args.config, section="robot") if args.config else RobotConfig()
    frame = render_png(args.bag, args.out, time_s=args.time, robot=robot, node=args.node)
    print(f"{args.out}: plan {frame.index} at t = {frame.time_s:.2f} s of {args.bag} ({frame.path_source}; "
          f"images from {', '.join(frame.image_topics.values())})")
    if args.gif:
        n = render_gif(args.bag, args.gif, every=args.every, robot=robot, node=args.node)
        print(f"{args.gif}: {n} plans (every {args.every})")
    return 0
