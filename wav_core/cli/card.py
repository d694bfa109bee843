"""`wav card`: write MODEL_CARD.md into a model directory from the recipe's outputs."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("card", help="write MODEL_CARD.md for a model directory from recording, eval and calibration files")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--commands", required=True, help="text file with the exact commands that produced the model")
    p.add_argument("--record", action="append", default=[], metavar="LABEL=SUMMARY_JSON",
                   help="a `wav sim record` summary.json and what it was used for (repeatable)")
    p.add_argument("--eval", dest="eval_json", help="JSON of `wav eval --json` (a --sweep)")
    p.add_argument("--calibration", help="calibration.json of `wav calibrate`")
    p.add_argument("--bench", help="JSON of `wav bench --model DIR --json` (plan latency of one planner)")
    p.add_argument("--title")
    p.add_argument("--status", action="append", default=[], metavar="TEXT",
                   help="a line of the card's Status section, listed first (repeatable): what the model does not do")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..eval.model_card import model_card, write_model_card

    recordings = {}
    for item in args.record:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            raise ValueError(f"--record: got {item!r}, expected LABEL=PATH such as training=out/bags/summary.json")
        recordings[label] = path
    commands = Path(args.commands)
    if not commands.is_file():
        raise FileNotFoundError(f"--commands: {commands} does not exist")
    text = model_card(args.model, commands.read_text().strip().splitlines(), recordings, args.eval_json,
                      args.calibration, args.title, args.bench, args.status)
    print(f"wrote {write_model_card(args.model, text)}")
    return 0
