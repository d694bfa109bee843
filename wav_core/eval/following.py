"""Does the policy's tool go where the object is? The slope of the tool's point of closest approach
on the object's position, across episodes, per horizontal axis.

Closest approach says how near a tool came; it cannot tell a policy that aims at the object and
falls short from one that aims at where objects usually are. Objects are placed at random each
episode, so across episodes the second kind gives a slope near 0 and the scripted expert a slope of
1: a policy that does not localise the object in its images shows here first. The closest approach
split into its horizontal and vertical parts tells a tool that ends beside the object (it aimed
wrong) from one that hovers over it (it never went down: a grasp it did not start).
"""

from __future__ import annotations

import numpy as np

MIN_EPISODES = 3
AXES = ("x", "y")


def target_following(episodes) -> dict[str, dict]:
    """Per reach (episodes' `closest_points`), per axis: `slope` (least squares of the tool's
    coordinate on the target's), `corr`, and `target_std_m`, the spread the slope is measured over;
    per reach, the medians of the tool's horizontal distance from the target (`beside_m`) and of its
    height above it (`above_m`) at closest approach.
    Reaches seen in fewer than MIN_EPISODES episodes, or axes along which the target never moved, are
    left out: a slope needs a spread to be measured against."""
    names = sorted({k for e in episodes for k in e.closest_points})
    out: dict[str, dict] = {}
    for name in names:
        pts = [e.closest_points[name] for e in episodes if name in e.closest_points]
        if len(pts) < MIN_EPISODES:
            continue
        tool = np.array([p["tool"] for p in pts], dtype=np.float64)
        target = np.array([p["target"] for p in pts], dtype=np.float64)
        axes = {}
        for i, axis in enumerate(AXES):
            x, y = target[:, i], tool[:, i]
            if x.std() < 1e-6:
                continue
            slope = float(np.polyfit(x, y, 1)[0])
            corr = float(np.corrcoef(x, y)[0, 1]) if y.std() > 1e-9 else 0.0
            axes[axis] = {"slope": round(slope, 4), "corr": round(corr, 4), "target_std_m": round(float(x.std()), 5)}
        if axes:
            offset = tool - target
            out[name] = {"episodes": len(pts),
                         "beside_m": round(float(np.median(np.linalg.norm(offset[:, :2], axis=1))), 5),
                         "above_m": round(float(np.median(offset[:, 2])), 5), **axes}
    return out


def following_line(following: dict[str, dict]) -> str:
    """One line for a report: 'right tool to block x 0.17 y 0.04 (beside 4.5 cm, above 3.7 cm)'
    (1 follows the object, 0 ignores it)."""
    parts = [f"{name} " + " ".join(f"{a} {r[a]['slope']:.2f}" for a in AXES if a in r)
             + (f" (beside {r['beside_m'] * 100:.1f} cm, above {r['above_m'] * 100:.1f} cm)" if "beside_m" in r else "")
             for name, r in following.items()]
    return "; ".join(parts)
