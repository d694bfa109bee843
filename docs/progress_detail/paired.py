"""Seed-by-seed K = 0 -> K = 3 comparison of `wav eval --sweep` results: how many seeds came closer
to each target at K = 3, with a two-sided sign test, and the openings per cell."""
import json
import math
import sys


def sign_test(k: int, n: int) -> float:
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def compare(path: str) -> dict:
    cells = {c["K"]: c for c in json.load(open(path))["sweep"]}
    a, b = cells[0], cells[3]
    ea = {e["seed"]: e for e in a["episodes"]}
    eb = {e["seed"]: e for e in b["episodes"]}
    seeds = sorted(set(ea) & set(eb))
    out = {"seeds": len(seeds),
           "opened": {f"K{k}": sum(e["subgoals"]["opened"] for e in c["episodes"]) for k, c in cells.items()},
           "success": {f"K{k}": c["success_rate"] for k, c in cells.items()},
           "closest_median_m": {f"K{k}": c["closest_median_m"] for k, c in cells.items()},
           "closer_at_K3": {}}
    for target in a["closest_median_m"]:
        closer = sum(eb[s]["closest_m"][target] < ea[s]["closest_m"][target] for s in seeds)
        out["closer_at_K3"][target] = {"seeds": closer, "sign_test_p": round(sign_test(closer, len(seeds)), 3)}
    return out


if __name__ == "__main__":
    print(json.dumps({p: compare(p) for p in sys.argv[1:]}, indent=1))
