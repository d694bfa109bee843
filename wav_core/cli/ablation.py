"""`wav ablation`: the planning ablation table (conditioning x K) and plot from eval and diagnose JSON."""

from __future__ import annotations

import argparse


def _pairs(items: list[str], flag: str) -> list[tuple[str, str]]:
    out = []
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{flag}: got {item!r}, expected NAME=PATH")
        out.append((name, path))
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ablation", help="success per conditioning and K, with the diagnose figures")
    p.add_argument("--eval", action="append", required=True, help="NAME=EVAL_JSON or NAME@TRAINING=EVAL_JSON (wav eval [--sweep K=...] --json); "
                   "repeat per K or per training: a row pools its trainings, compared with K = 0 seed by seed")
    p.add_argument("--diagnose", action="append", default=[], help="NAME=DIAGNOSE_JSON (wav diagnose --json)")
    p.add_argument("--out", required=True, help="directory for ablation.md and ablation.png")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..eval.ablation import write

    md, png = write(_pairs(args.eval, "--eval"), dict(_pairs(args.diagnose, "--diagnose")), args.out)
    print(md.read_text(), end="")
    print(f"wrote {md} and {png}")
    return 0
