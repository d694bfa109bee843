"""`wav train`: staged training (tokenizer -> world -> value -> action), resumable, torchrun-ready."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the WAV model in stages (torchrun for several GPUs/processes)")
    p.add_argument("--config", help="run YAML (preset, model overrides, per-stage settings); default: sim preset")
    p.add_argument("--data", required=True, help="dataset directory (wav data import)")
    p.add_argument("--out", required=True, help="run directory (checkpoints, TensorBoard logs)")
    p.add_argument("--stage", default="all", choices=["tokenizer", "world", "value", "action", "all"])
    p.add_argument("--max-steps", type=int, default=None, help="steps per stage (overrides the config)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    p.add_argument("--init", metavar="MODEL_DIR", help="start a new run from this model directory's weights "
                   "(same shapes; fine-tune some stages on new data, e.g. --stage value then --stage action)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..training.config import STAGES
    from ..training.run_config import load_run_config
    from ..training.trainer import train

    cfg = load_run_config(args.config)
    stages = list(STAGES) if args.stage == "all" else [args.stage]
    train(args.out, cfg, args.data, stages, args.max_steps, args.resume, progress=not args.no_progress,
          init=args.init)
    return 0
