"""Which network's bf16 rounding moves the plan? Eager plans on the CPU with each network under bf16
autocast or in fp32 (the torch-compile backend's per-network precision, without compiling), against
fp32 plans on the same noise: the max relative action difference, as `wav bench` reports it.

    python docs/bf16_parts/parts.py --preset sim --K 3 --M 16 --N 4 --json parts.json
"""

import argparse
import itertools
import json

import torch

from wav_core.bench.planner import max_relative_difference, plan_inputs
from wav_core.planning import PlannerConfig, random_policy
from wav_core.planning.backend.base import Backend
from wav_core.planning.backend.compiled import NetworkPrecision

NETWORKS = ("world", "value", "action")


class Eager(NetworkPrecision, Backend):
    def __init__(self, model, cfg, bf16: tuple[str, ...]):
        super().__init__(model, cfg)
        self.dtypes = {n: torch.bfloat16 if n in bf16 else torch.float32 for n in NETWORKS}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="sim")
    ap.add_argument("--K", type=int, default=3)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--N", type=int, default=4)
    ap.add_argument("--S", type=int, default=10)
    ap.add_argument("--plans", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = PlannerConfig(K=args.K, M=args.M, N=args.N, S=args.S)
    policy = random_policy(args.preset, cfg)
    images, state = plan_inputs(policy, 0)
    ref = [policy.plan(images, state, seed=i).actions for i in range(args.plans)]
    rows = []
    print(f"preset {args.preset}, K={args.K} M={args.M} N={args.N} S={args.S}, {args.plans} plans, random weights")
    for n in range(len(NETWORKS), 0, -1):
        for bf16 in itertools.combinations(NETWORKS, n):
            policy.planner.backend = Eager(policy.model, cfg, bf16)
            got = [policy.plan(images, state, seed=i).actions for i in range(args.plans)]
            rows.append({"bf16": list(bf16), "max_rel_diff_actions": max_relative_difference(got, ref)})
            print(f"  bf16 {'+'.join(bf16):<20} max relative action difference {rows[-1]['max_rel_diff_actions']:.2e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**vars(args), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
