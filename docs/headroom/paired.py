"""Seed-by-seed comparison of `wav headroom` pick rules against `first` (the policy as it is): how many
seeds each rule brought closer to each target, with a two-sided sign test, and the openings."""
import json
import math
import sys


def sign_test(k: int, n: int) -> float:
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def compare(path: str, base: dict | None = None) -> dict:
    picks = json.load(open(path))["picks"]
    first = base or picks["first"]
    ea = {e["seed"]: e for e in first["episodes"]}
    out = {"first": {"opened": sum(e["subgoals"]["opened"] for e in first["episodes"])}}
    for pick, cell in picks.items():
        if cell is first:
            continue
        eb = {e["seed"]: e for e in cell["episodes"]}
        seeds = sorted(set(ea) & set(eb))
        row = {"opened": sum(e["subgoals"]["opened"] for e in cell["episodes"]), "closer_than_first": {}}
        for target in first["closest_median_m"]:
            closer = sum(eb[s]["closest_m"][target] < ea[s]["closest_m"][target] for s in seeds)
            row["closer_than_first"][target] = {"seeds": f"{closer} of {len(seeds)}",
                                                "sign_test_p": round(sign_test(closer, len(seeds)), 3)}
        out[pick] = row
    return out


if __name__ == "__main__":
    # paired.py HEADROOM.json [OTHER.json compared with HEADROOM.json's first]
    main = sys.argv[1]
    result = {main: compare(main)}
    for other in sys.argv[2:]:
        result[other] = compare(other, json.load(open(main))["picks"]["first"])
    print(json.dumps(result, indent=1))
