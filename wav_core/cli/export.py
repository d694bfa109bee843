"""`wav export`: a training run into a model directory, and a model directory into ONNX graphs
(and TensorRT engines) for the real-time backends."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a training run to a model directory, or a model to ONNX / TensorRT")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="model directory (model.yaml + weights.safetensors)")
    src.add_argument("--run", help="training run directory to export into a model directory (needs --out)")
    p.add_argument("--out", help="model directory to write with --run")
    p.add_argument("--onnx", action="store_true",
                   help="write ONNX graphs + manifest for onnxruntime into MODEL_DIR/onnx (MODEL_DIR/onnx-standard "
                        "with --attention standard)")
    p.add_argument("--tensorrt", action="store_true",
                   help="build TensorRT engines from standard ONNX graphs in MODEL_DIR/onnx-standard")
    p.add_argument("--trtexec", action="store_true",
                   help="check MODEL_DIR/onnx-standard against TensorRT's ONNX parser and write the trtexec commands "
                        "that build its engines to MODEL_DIR/onnx-standard/trtexec.sh (no TensorRT needed here)")
    p.add_argument("--attention", choices=["fused", "standard"], default="fused",
                   help="--onnx: attention as onnxruntime's fused MultiHeadAttention operator, or standard ONNX ops")
    p.add_argument("--precision", choices=["fp32", "fp16", "bf16"], default="fp16", help="TensorRT engine precision")
    p.add_argument("--K", type=int, default=3, help="planner iterations (the graphs do not depend on K)")
    p.add_argument("--M", type=int, default=8, help="video candidates per iteration (graph batch size)")
    p.add_argument("--N", type=int, default=4, help="value samples per video candidate (graph batch size M*N)")
    p.add_argument("--S", type=int, default=10, help="flow steps of the value and action solves")
    p.add_argument("--value-steps", type=int, default=0,
                   help="flow steps of the value solves (default: S); fewer cut the plan's value-expert calls")
    p.add_argument("--feature-steps", type=int, default=0, help="world denoising steps before features are taken")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--solve", choices=["unrolled", "step"], default="unrolled",
                   help="value/action graphs hold the whole flow solve, or one flow step each")
    p.add_argument("--force", action="store_true", help="re-export even when the existing export is current")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.run is not None and not args.out:
        raise ValueError("--run: needs --out MODEL_DIR (where to write the model directory)")
    if args.model is not None and args.out:
        raise ValueError("--out: only used with --run (with --model the export goes into MODEL_DIR/onnx)")
    if args.model is not None and not (args.onnx or args.tensorrt or args.trtexec):
        raise ValueError("--model: nothing to do; add --onnx (and/or --tensorrt or --trtexec)")
    model_dir = args.model
    if args.run is not None:
        from ..training.export import export_run

        model_dir = export_run(args.run, args.out)
        print(f"exported run {args.run} -> {model_dir}")
    if not (args.onnx or args.tensorrt or args.trtexec):
        return 0
    return _export_graphs(args, model_dir)


def _export_graphs(args: argparse.Namespace, model_dir) -> int:
    from ..model.files import load_model
    from ..planning import PlannerConfig

    cfg = PlannerConfig(K=args.K, M=args.M, N=args.N, S=args.S, feature_steps=args.feature_steps,
                        value_steps=args.value_steps)
    cfg.validate()
    model, _ = load_model(model_dir)
    if args.onnx:
        _export_folder(args, model, cfg, model_dir, args.attention)
    if (args.tensorrt or args.trtexec) and args.solve != "unrolled":
        raise ValueError("--tensorrt/--trtexec: engines are built from the unrolled graphs; drop --solve step")
    if args.trtexec:
        _trtexec_script(*_export_folder(args, model, cfg, model_dir, "standard"), args.precision)
    if args.tensorrt:
        try:
            import tensorrt  # noqa: F401
        except ImportError as exc:
            raise ValueError(f"--tensorrt: the tensorrt package is not importable ({exc})") from None
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--tensorrt: CUDA not available; engines are built on the GPU that will run them")
        from ..export.tensorrt_engines import ensure_engines

        out, manifest = _export_folder(args, model, cfg, model_dir, "standard")
        _parser_check(out, manifest)
        for name, path in ensure_engines(out, manifest, args.precision).items():
            print(f"  engine {name}: {path}")
    return 0


def _parser_check(out, manifest) -> None:
    from ..export.tensorrt_support import tensorrt_problems

    problems = [p for g in manifest.graphs.values() for p in tensorrt_problems(out / g["file"])]
    if problems:
        raise ValueError(f"{out}: TensorRT's ONNX parser would refuse these graphs:\n  " + "\n  ".join(problems))


def _trtexec_script(out, manifest, precision: str) -> None:
    """One trtexec line per graph, engines into onnx-standard/trtexec/, written as a script."""
    import shlex

    from ..export.tensorrt_support import trtexec_command

    _parser_check(out, manifest)
    lines = [trtexec_command(out / g["file"], out / "trtexec" / f"{name}-{precision}.engine", precision)
             for name, g in manifest.graphs.items()]
    script = out / "trtexec.sh"
    tmp = script.with_suffix(".tmp")
    tmp.write_text("#!/bin/sh\n# TensorRT engines of these graphs (" + precision + "), built by trtexec.\nset -e\n"
                   + f"mkdir -p {shlex.quote(str(out / 'trtexec'))}\n" + "\n".join(lines) + "\n")
    tmp.replace(script)
    print(f"{out}: {len(lines)} graphs pass TensorRT's ONNX parser check; build their engines with "
          f"`sh {script}`:")
    for line in lines:
        print(f"  {line}")


def _export_folder(args: argparse.Namespace, model, cfg, model_dir, attention: str):
    """(folder, manifest) of a current export with this attention, re-exported only when stale."""
    from pathlib import Path

    from ..export import ensure_onnx, export_onnx, onnx_folder, stale_reason, weights_digest

    out = Path(model_dir) / onnx_folder(attention)
    digest = weights_digest(model)
    reason = "forced" if args.force else stale_reason(out, model, cfg, args.opset, digest, args.solve, attention)
    if reason is None:
        manifest = ensure_onnx(model, cfg, out, args.opset, digest, args.solve, attention)
        print(f"{out}: current (weights {digest[:12]}, planner {manifest.planner}); nothing to do")
        return out, manifest
    print(f"{out}: exporting ({reason})")
    manifest = export_onnx(model, cfg, out, args.opset, digest, args.solve, attention)
    for name, g in manifest.graphs.items():
        shapes = ", ".join(f"{k}{tuple(s)}" for k, (s, _) in g["inputs"].items())
        print(f"  {g['file']:<16} {shapes}")
    return out, manifest
