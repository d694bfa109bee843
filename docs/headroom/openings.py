"""Seed by seed, which drawers only one of two `wav headroom` pick rules opened, with a two-sided sign
test over those discordant seeds: openings.py PICK_A PICK_B HEADROOM.json..."""
import json
import math
import sys


def sign_test(k: int, n: int) -> float:
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


a, b, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
only_a = only_b = both = pairs = 0
for path in paths:
    picks = json.load(open(path))["picks"]
    ea = {e["seed"]: e["subgoals"]["opened"] for e in picks[a]["episodes"]}
    eb = {e["seed"]: e["subgoals"]["opened"] for e in picks[b]["episodes"]}
    for seed in sorted(set(ea) & set(eb)):
        pairs += 1
        both += ea[seed] and eb[seed]
        only_a += ea[seed] and not eb[seed]
        only_b += eb[seed] and not ea[seed]
print(json.dumps({"pairs": pairs, f"opened by {a}": only_a + both, f"opened by {b}": only_b + both,
                  f"only {a}": only_a, f"only {b}": only_b, "sign_test_p": round(sign_test(only_a, only_a + only_b), 3)}))
