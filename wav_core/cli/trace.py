"""`wav trace`: a policy and the scripted expert from the same seed, and where the policy falls behind."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trace", help="run a policy and the expert from one seed in the simulator and show where "
                                     "the policy falls behind")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--task", default="drawer", choices=["drawer", "bowl"])
    p.add_argument("--seed", type=int, default=1000)
    p.add_argument("--max-seconds", type=float, default=20.0)
    p.add_argument("--K", type=int, default=0)
    p.add_argument("--M", type=int, default=8)
    p.add_argument("--N", type=int, default=2)
    p.add_argument("--S", type=int, default=5)
    p.add_argument("--action-temperature", type=float, default=1.0,
                   help="scale of the action's flow noise, as in `wav eval` (the same seed and settings trace "
                        "the same episode)")
    p.add_argument("--action-noise-gated", action="store_true", help="as in `wav eval`")
    p.add_argument("--final", default="draw", choices=["draw", "best"], help="as in `wav eval`")
    p.add_argument("--value-noise", default="own", choices=["own", "shared"], help="as in `wav eval`")
    p.add_argument("--video-score", default="best", choices=["best", "mean"], help="as in `wav eval`")
    p.add_argument("--mode", default="sync", choices=["async", "sync"], help="as in `wav eval`")
    p.add_argument("--plan-latency", type=float, default=None, help="async: sim seconds every plan takes")
    p.add_argument("--config", help="YAML with a robot: section and optionally a policy: section, as in `wav eval`")
    p.add_argument("--diverge-cm", type=float, default=3.0,
                   help="the policy counts as behind where a distance is this much above the expert's")
    p.add_argument("--out", required=True, help="folder for trace.json and trace.png")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config.loader import load
    from ..config.robot import RobotConfig
    from ..runtime.config import policy_section
    from ..eval.closed_loop import EvalConfig
    from ..eval.trace import compare, expert_trace, plot, policy_trace, report_lines
    from ..planning import PlannerConfig, WAVPolicy
    from ..sim import SimEnv

    if args.max_seconds <= 0:
        raise ValueError(f"--max-seconds: got {args.max_seconds}, expected sim seconds > 0")
    if args.diverge_cm <= 0:
        raise ValueError(f"--diverge-cm: got {args.diverge_cm}, expected > 0")
    if not Path(args.model).is_dir():
        raise FileNotFoundError(f"--model: {args.model} is not a model directory")
    robot = load(RobotConfig, args.config, section="robot") if args.config else None
    cfg = EvalConfig(task=args.task, episodes=1, seed=args.seed, max_seconds=args.max_seconds, mode=args.mode,
                     plan_latency_s=args.plan_latency)
    policy_cfg = policy_section(args.config)
    if policy_cfg is not None:
        cfg.executor, cfg.safety = policy_cfg.executor, policy_cfg.safety
    planner = PlannerConfig(K=args.K, M=args.M, N=args.N, S=args.S, action_temperature=args.action_temperature,
                            action_noise_gated=args.action_noise_gated, final=args.final,
                            value_noise=args.value_noise, video_score=args.video_score)
    planner.validate()
    policy = WAVPolicy.load(args.model, planner, device=args.device)
    with SimEnv(args.task, robot=robot, render=False) as env:
        expert = expert_trace(env, args.seed, args.max_seconds)
    with SimEnv(args.task, robot=robot) as env:
        policy_run = policy_trace(policy, env, args.seed, cfg)
    diverge_m = args.diverge_cm / 100
    comparison = compare(expert, policy_run, diverge_m)
    for line in report_lines(comparison, expert, policy_run, diverge_m):
        print(line)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"model": str(args.model), "task": args.task, "seed": args.seed, "K": args.K, "M": args.M, "N": args.N,
              "S": args.S, "action_temperature": args.action_temperature,
              "action_noise_gated": args.action_noise_gated, "mode": args.mode, "diverge_m": diverge_m,
              "comparison": comparison,
              "expert": expert.to_dict(), "policy": policy_run.to_dict()}
    tmp = out / ".trace.json.tmp"
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, out / "trace.json")
    plot(expert, policy_run, out / "trace.png")
    print(f"wrote {out / 'trace.json'} and {out / 'trace.png'}")
    return 0
