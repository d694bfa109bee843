"""`wav diagnose`: does the plan reach the decoded action, and does the value rank futures?"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diagnose", help="how much the decoded action follows the planned video and value noise")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--data", help="imported dataset of held-out episodes: observations at evenly spaced ticks, "
                                  "and the value ranking against their true reward-to-go")
    p.add_argument("--task", default="drawer", help="simulated task for closed-loop observations (without --data)")
    p.add_argument("--episodes", type=int, default=4, help="episodes (held-out or simulated) to diagnose")
    p.add_argument("--ticks-per-episode", type=int, default=5)
    p.add_argument("--variants", type=int, default=8, help="noise draws per source and observation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shift-ticks", type=int, default=32,
                   help="with --data: also score the futures this many ticks before and after each tick's own")
    p.add_argument("--values", type=int, default=16,
                   help="with --data: value samples the chunk is decoded with at ticks of successful episodes")
    p.add_argument("--K", type=int, default=0, help="planner iterations for closed-loop and calibration plans")
    p.add_argument("--plan-K", type=int, default=3,
                   help="also plan with this many iterations at each observation and report what it changes against "
                        "K = 0 (plan_effect: chosen score and chunk, final draw and best candidate); 0: skip")
    p.add_argument("--M", type=int, default=8, help="video candidates of those plans")
    p.add_argument("--N", type=int, default=4, help="value samples per video candidate of those plans")
    p.add_argument("--S", type=int, default=10, help="flow steps of the value and action solves")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", required=True, help="output JSON file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..eval.calibration import value_calibration
    from ..eval.diagnose import check_dataset_matches, dataset_observations, diagnose, report_lines
    from ..planning import PlannerConfig, WAVPolicy

    for key in ("episodes", "ticks_per_episode", "variants", "shift_ticks"):
        if getattr(args, key) < 1:
            raise ValueError(f"--{key.replace('_', '-')}: got {getattr(args, key)}, expected >= 1")
    if args.values < 2:
        raise ValueError(f"--values: got {args.values}, expected >= 2")
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.json)
    if args.plan_K < 0:
        raise ValueError(f"--plan-K: got {args.plan_K}, expected >= 0 (0: no plan_effect)")
    policy = WAVPolicy.load(args.model, PlannerConfig(K=args.K, M=args.M, N=args.N, S=args.S))
    calibration = None
    if args.data is not None:
        check_dataset_matches(policy, args.data)
        observations = dataset_observations(policy, args.data, args.ticks_per_episode, args.episodes)
        calibration = value_calibration(policy, args.data, args.ticks_per_episode, args.seed, progress=False)
        source = {"data": str(args.data)}
    else:
        from ..eval.diagnose_sim import sim_observations

        observations = sim_observations(policy, args.task, args.seed, args.episodes, args.ticks_per_episode)
        source = {"task": args.task, "seeds": [args.seed + i for i in range(args.episodes)]}
    result = {"model": str(args.model), **source, **diagnose(policy, observations, args.variants, args.seed, calibration,
                                                                  args.plan_K)}
    if args.data is not None:
        from ..eval.value_readout import value_readout

        readout = value_readout(policy, args.data, args.ticks_per_episode, args.variants, args.seed, args.episodes,
                                args.shift_ticks)
        result["value_readout"] = {k: v for k, v in readout.items() if k not in ("dataset", "points")}  # episodes kept
        result["value_readout"]["points"] = len(readout["points"])
        from ..eval import value_choice

        result["value_choice"] = value_choice.value_choice(policy, args.data, args.ticks_per_episode, args.values,
                                                           args.seed, args.episodes)
    lines = report_lines(result)
    if args.data is not None:
        lines += value_choice.report_lines(result["value_choice"])
    for line in lines:
        print(line)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0
