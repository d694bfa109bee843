"""Human-readable dataset summary for `wav data info`."""

from __future__ import annotations

from .dataset import Dataset


def describe(ds: Dataset) -> str:
    m = ds.meta
    lines = [
        f"dataset      {ds.root}",
        f"episodes     {len(ds.episodes)}  ({sum(e.success for e in ds.episodes)} successful)",
        f"ticks        {ds.total_ticks}  at {ds.fps:g} fps ({ds.total_ticks / ds.fps:.1f} s)",
        "cameras      " + ", ".join(f"{c['name']} {c['width']}x{c['height']}" for c in m["cameras"]),
        "joints       " + " ".join(ds.joint_names),
        "instructions " + " | ".join(repr(i) for i in m.get("instructions", [])),
        f"values       {m.get('value_targets')}",
        f"reward goal  {(m.get('reward') or {}).get('goal', 'own')}",
    ]
    modes = sorted({e.quality_mode for e in ds.episodes if e.quality_mode is not None})
    for mode in modes:
        rows = [e for e in ds.episodes if e.quality_mode == mode]
        lines.append(f"quality      {mode:10s} {len(rows):4d} episodes, {sum(e.success for e in rows):4d} successful")
    lines.append("episode  ticks  success  dropped  quality     subgoals reached      source")
    for e in ds.episodes:
        reached = ",".join(k for k, v in e.subgoals.items() if v) or "-"
        lines.append(f"{e.index:7d} {e.ticks:6d}  {str(e.success):7s} {sum(e.dropped.values()):7d}  "
                     f"{e.quality_mode or '-':10s}  {reached:20s}  {e.source}")
    vs = ds.stats["value"]
    names = m.get("value_channels", [str(i) for i in range(len(vs["mean"]))])
    lines.append("value channel                 mean       std       min       max")
    for i, name in enumerate(names):
        lines.append(f"{name:26s} {vs['mean'][i]:9.4f} {vs['std'][i]:9.4f} {vs['min'][i]:9.4f} {vs['max'][i]:9.4f}")
    return "\n".join(lines)
