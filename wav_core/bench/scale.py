"""Plan latency and peak memory of a bf16 model at scale, beside the arithmetic floor of each plan.

For each row (K, M, N) the same bf16 model plans through the public policy (`bench_planner`, eager
torch) under bf16 autocast: the weights are already bf16, so autocast casts only the fp32 planner
tensors (noises, Gaussians, images) at the matrix products and keeps no weight copy. Reported per
row: median/p90 latency, peak device memory during the row (torch.cuda.max_memory_allocated, weights
included), FLOPs per plan counted on the meta device (`plan_flops`), the floor (FLOPs at the GPU's
dense bf16 peak) and latency / floor.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ..model.config import ModelConfig
from ..model.files import ModelCard
from ..planning import PlannerConfig, WAVPolicy
from .bf16_model import build_bf16
from .flops import floor_ms, plan_flops
from .planner import bench_planner

PAPER_ROWS = ((1, 30, 5), (3, 30, 5))
"""The paper-scale rows: one iteration of 30 video candidates x 5 value samples, and three."""


def parse_rows(text: str) -> list[tuple[int, int, int]]:
    """"1x30x5,3x30x5" -> [(1, 30, 5), (3, 30, 5)] (K x M x N per row)."""
    rows = []
    for part in text.split(","):
        fields = part.strip().lower().split("x")
        try:
            k, m, n = (int(f) for f in fields)
        except ValueError:
            raise ValueError(f"--rows: got {part.strip()!r}, expected KxMxN such as 1x30x5 "
                             "(rows separated by commas)") from None
        if k < 0 or m < 1 or n < 1:
            raise ValueError(f"--rows: got {part.strip()!r}, expected K >= 0, M >= 1 and N >= 1")
        rows.append((k, m, n))
    return rows


def _row(res: dict, flops: dict, peak_tflops: float | None, peak_bytes: int | None) -> dict:
    b = res["batched"]
    row = {"K": res["K"], "M": res["M"], "N": res["N"], "S": res["S"], **b,
           "breakdown_median_ms": res["breakdown_median_ms"], "flops": flops, "peak_memory_bytes": peak_bytes}
    if peak_tflops is not None:
        row["floor_ms"] = floor_ms(flops["total"], peak_tflops)
        row["median_over_floor"] = b["median_ms"] / row["floor_ms"]
    return row


def bench_scale(cfg: ModelConfig, rows: list[PlannerConfig], device: str, repeats: int = 5, warmup: int = 1,
                peak_tflops: float | None = None, seed: int = 0) -> dict:
    """Every row planned by one bf16 model of `cfg` (random weights, built on `device`); rows run one
    after another, the device's peak-memory counter reset before each."""
    dev = torch.device(device)
    model = build_bf16(cfg, dev, seed)
    card = ModelCard(config=model.cfg, cameras=list(model.cfg.views))
    policy = WAVPolicy(model, card, rows[0])
    params = sum(p.numel() for p in model.parameters())
    out = {"parameters": params, "weight_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
           "dtype": "bfloat16", "device": str(dev), "torch": torch.__version__, "peak_tflops": peak_tflops,
           "rows": []}
    for pcfg in rows:
        flops = plan_flops(cfg, pcfg)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            res = bench_planner(policy, pcfg, repeats, warmup, naive=False, seed=seed)
        peak = torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else None
        out["rows"].append(_row(res, flops, peak_tflops, peak))
    return out


def planner_rows(rows: list[tuple[int, int, int]], S: int, base: PlannerConfig | None = None) -> list[PlannerConfig]:
    base = base or PlannerConfig()
    out = [replace(base, K=k, M=m, N=n, S=S) for k, m, n in rows]
    for c in out:
        c.validate()
    return out


def human_flops(flops: float) -> str:
    """e.g. "323.3 TFLOP", "4.1 GFLOP"."""
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if flops >= scale:
            return f"{flops / scale:.1f} {unit}"
    return f"{flops:.0f} FLOP"


def format_rows(res: dict) -> list[str]:
    """The table `wav bench` prints for `bench_scale`'s result."""
    lines = [f"{'K':>3} {'M':>3} {'N':>3} {'S':>3}  {'median ms':>10} {'p90 ms':>9} {'peak GiB':>9} "
             f"{'FLOPs/plan':>12} {'floor ms':>9} {'median/floor':>13}"]
    for r in res["rows"]:
        mem = f"{r['peak_memory_bytes'] / 2**30:9.2f}" if r["peak_memory_bytes"] is not None else f"{'-':>9}"
        floor = f"{r['floor_ms']:9.1f} {r['median_over_floor']:12.2f}x" if "floor_ms" in r else f"{'-':>9} {'-':>13}"
        lines.append(f"{r['K']:>3} {r['M']:>3} {r['N']:>3} {r['S']:>3}  {r['median_ms']:10.1f} {r['p90_ms']:9.1f} "
                     f"{mem} {human_flops(r['flops']['total']):>12} {floor}")
    for r in res["rows"]:
        bd, f = r["breakdown_median_ms"], r["flops"]
        lines.append(f"  K={r['K']} M={r['M']} N={r['N']}: " + "   ".join(
            f"{k} {bd[k]:.1f} ms / {human_flops(f[k])}" for k in ("world", "value", "action"))
            + f"   context {human_flops(f['context'])}")
    return lines
