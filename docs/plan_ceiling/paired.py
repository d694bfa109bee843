"""Seed-by-seed comparison of two `wav eval` JSONs of the same seeds: on how many seeds B ended nearer
each target than A (two-sided sign test, ties dropped), and the seeds only one of them completed or
placed the block on.  paired.py A.json B.json [A2.json B2.json ...] pools every pair's seeds."""
import json
import sys

from scipy.stats import binomtest


def episodes(path: str) -> dict:
    return {e["seed"]: e for e in json.load(open(path))["episodes"]}


def compare(pairs: list[tuple[str, str]]) -> dict:
    nearer: dict[str, list[int]] = {}
    only = {"success": [0, 0], "placed": [0, 0]}
    for a_path, b_path in pairs:
        a, b = episodes(a_path), episodes(b_path)
        for seed in sorted(set(a) & set(b)):
            for target, dist in b[seed]["closest_m"].items():
                d = dist - a[seed]["closest_m"][target]
                if d != 0:
                    nearer.setdefault(target, []).append(int(d < 0))
            for key, get in (("success", lambda e: e["success"]), ("placed", lambda e: e["subgoals"]["placed"])):
                ga, gb = get(a[seed]), get(b[seed])
                if ga != gb:
                    only[key][int(gb)] += 1
    return {
        "b_nearer": {t: {"seeds": f"{sum(v)} of {len(v)}", "sign_test_p": round(binomtest(sum(v), len(v)).pvalue, 3)}
                     for t, v in nearer.items()},
        "only_a_only_b": {k: {"only_a": v[0], "only_b": v[1]} for k, v in only.items()},
    }


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 2 or len(args) % 2:
        sys.exit("usage: paired.py A.json B.json [A2.json B2.json ...]")
    print(json.dumps(compare(list(zip(args[::2], args[1::2]))), indent=1))
