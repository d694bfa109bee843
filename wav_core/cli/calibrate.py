"""`wav calibrate`: value calibration on held-out demonstrations and SNR vs closed-loop outcome."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="value calibration on held-out episodes, SNR vs outcome of an eval")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--data", help="imported dataset of episodes NOT used for training")
    p.add_argument("--eval", dest="eval_json", help="JSON written by `wav eval --json` (one run or a --sweep)")
    p.add_argument("--ticks-per-episode", type=int, default=20)
    p.add_argument("--K", type=int, default=0, help="planner iterations for the predictions")
    p.add_argument("--M", type=int, default=8)
    p.add_argument("--N", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--backend", default="torch",
                   help="torch, torch-cudagraph, torch-compile, onnxruntime or tensorrt (falls back to torch with a warning)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", required=True, help="output directory (calibration.json, calibration.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..eval.calibration import calibration_plot, snr_by_outcome, value_calibration
    from ..planning import PlannerConfig, WAVPolicy

    if args.data is None and args.eval_json is None:
        raise ValueError("nothing to do: give --data HELDOUT_DATASET and/or --eval EVAL_JSON")
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"model": str(args.model)}
    calib = snr = None
    if args.data is not None:
        policy = WAVPolicy.load(args.model, PlannerConfig(K=args.K, M=args.M, N=args.N), device=args.device,
                                  backend=args.backend)
        calib = value_calibration(policy, args.data, args.ticks_per_episode, args.seed)
        result["calibration"] = calib
        print(f"value calibration: {len(calib['points'])} ticks of {calib['episodes']} episodes, "
              f"pearson r {calib['pearson_r']:.3f}, MAE {calib['mae']:.3f}")
    if args.eval_json is not None:
        path = Path(args.eval_json)
        if not path.is_file():
            raise FileNotFoundError(f"--eval: {path} does not exist")
        try:
            snr = snr_by_outcome(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise ValueError(f"--eval: {path} is not JSON ({exc})") from None
        result["snr_by_outcome"] = snr
        for r in snr["runs"]:
            print(f"K={r['K']}: median SNR success {r['median_success']}  failure {r['median_failure']} "
                  f"({len(r['success'])} / {len(r['failure'])} episodes)")
    (out / "calibration.json").write_text(json.dumps(result, indent=2))
    print(f"plot: {calibration_plot(calib, snr, out / 'calibration.png')}")
    return 0
