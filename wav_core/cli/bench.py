"""`wav bench`: planner latency, batched vs naive, with a world/value/action breakdown."""

from __future__ import annotations

import argparse
import json
import platform


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure plan latency (batched planner vs a naive loop)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", choices=["tiny", "sim"], default=None, help="randomly initialised model of a preset")
    src.add_argument("--model", help="model directory (model.yaml + weights.safetensors)")
    p.add_argument("--K", type=int, default=3)
    p.add_argument("--M", type=int, default=8)
    p.add_argument("--N", type=int, default=4)
    p.add_argument("--S", type=int, default=10)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--no-naive", action="store_true", help="skip the naive reference")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..bench.planner import bench_planner
    from ..planning import PlannerConfig, WAVPolicy, random_policy

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = PlannerConfig(K=args.K, M=args.M, N=args.N, S=args.S)
    policy = WAVPolicy.load(args.model, cfg) if args.model else random_policy(args.preset or "tiny", cfg)
    res = bench_planner(policy, cfg, args.repeats, args.warmup, naive=not args.no_naive)
    res["model"] = args.model or f"preset:{args.preset or 'tiny'}"
    res["machine"] = f"{platform.machine()} {platform.processor() or ''} {torch.get_num_threads()} threads".strip()
    b = res["batched"]
    print(f"model {res['model']}  K={cfg.K} M={cfg.M} N={cfg.N} S={cfg.S}  torch threads {res['threads']}")
    print(f"batched plan   median {b['median_ms']:8.1f} ms   p90 {b['p90_ms']:8.1f} ms   (n={b['n']})")
    bd = res["breakdown_median_ms"]
    print(f"  breakdown    world {bd['world']:.1f} ms   value {bd['value']:.1f} ms   action {bd['action']:.1f} ms")
    if "naive" in res:
        n = res["naive"]
        print(f"naive loop     median {n['median_ms']:8.1f} ms   p90 {n['p90_ms']:8.1f} ms   (n={n['n']})")
        print(f"speed-up (naive / batched median): {res['speedup']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0
