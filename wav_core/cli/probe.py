"""`wav probe`: can the object's position be read back from the model's representations?"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="read each reach target's position back from the tokenizer latents and the "
                                     "world module's states at the first decision of fresh simulated episodes")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--task", default="drawer", choices=["drawer", "bowl"])
    p.add_argument("--episodes", type=int, default=300, help="seeds; the probe fits on 2/3 and scores the rest")
    p.add_argument("--seed", type=int, default=20000, help="first seed")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", required=True, help="output JSON file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..eval.probe import probe, probe_samples, report_lines
    from ..model.files import load_model

    if args.episodes < 12:
        raise ValueError(f"--episodes: got {args.episodes}, expected >= 12 (the probe scores on the last third)")
    if args.threads:
        torch.set_num_threads(args.threads)
    model, card = load_model(args.model)
    seeds = list(range(args.seed, args.seed + args.episodes))
    samples = probe_samples(args.task, list(card.config.views), tuple(card.config.image_size), seeds)
    result = probe(model, card.instruction, samples, args.seed)
    for line in report_lines(result):
        print(line)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps({"model": str(args.model), "task": args.task, "seeds": [seeds[0], seeds[-1]],
                               "train_seeds": int(round(len(seeds) * 2 / 3)), "targets": result}, indent=2))
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0
