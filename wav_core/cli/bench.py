"""`wav bench`: planner latency, batched vs naive, eager vs another backend on the same noise, and
plan cost against K, with a world/value/action breakdown; with `--train`, ms per training step of
each stage for variants of the step (frames encoded every step, cached latents, bf16, compiled)."""

from __future__ import annotations

import argparse
import json

BACKEND_CHOICES = ("torch", "torch-cudagraph", "onnxruntime", "tensorrt")
PRESET_CHOICES = ("tiny", "cpu", "sim", "paper")
"""wav_core.model.presets.PRESETS, named here so that `wav --help` does not import torch."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure plan latency (batched vs naive, eager vs a backend, cost vs K), "
                                     "or with --train the ms per training step of each stage")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", choices=PRESET_CHOICES, default=None,
                     help="randomly initialised model of a preset (default tiny)")
    src.add_argument("--model", help="model directory (model.yaml + weights.safetensors)")
    p.add_argument("--backend", choices=BACKEND_CHOICES, default="torch",
                   help="backend to compare with eager torch (exports what it needs on the fly)")
    p.add_argument("--device", default="cpu", help="torch device of the model (cuda for the GPU backends)")
    p.add_argument("--precision", choices=["fp32", "fp16", "bf16"], default="fp16", help="TensorRT engine precision")
    p.add_argument("--solve", choices=["unrolled", "step"], default="unrolled",
                   help="onnxruntime: whole flow solves per graph run, or one run per flow step")
    p.add_argument("--attention", choices=["fused", "standard"], default="fused",
                   help="onnxruntime: its fused MultiHeadAttention operator, or standard ONNX ops")
    p.add_argument("--K", type=int, default=3)
    p.add_argument("--M", type=int, default=8)
    p.add_argument("--N", type=int, default=4)
    p.add_argument("--S", type=int, default=10)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads and onnxruntime intra-op threads (0: the libraries' defaults)")
    p.add_argument("--no-naive", action="store_true", help="skip the naive reference")
    p.add_argument("--sweep-K", default="", help="comma-separated K values (e.g. 1,2,3,5): plan cost vs K on --backend")
    p.add_argument("--json", help="also write the results to this JSON file")
    t = p.add_argument_group("training steps (--train)")
    t.add_argument("--train", action="store_true",
                   help="time training steps of a --preset model instead of plans (random weights, synthetic batch)")
    t.add_argument("--batch", type=int, default=16, help="samples per training step")
    t.add_argument("--stages", default="tokenizer,world,value,action", help="comma-separated training stages")
    t.add_argument("--variants", default=None,
                   help="comma-separated of encode, cache, bf16, compile, bf16-compile "
                        "(default encode,cache; encode,cache,bf16 on CUDA)")
    t.add_argument("--seed", type=int, default=0, help="weights, batch and per-step random draws")
    p.set_defaults(func=run)


def _backend_options(args) -> dict:
    if args.backend == "onnxruntime":
        return {"solve": args.solve, "attention": args.attention, **({"threads": args.threads} if args.threads else {})}
    if args.backend == "tensorrt":
        return {"precision": args.precision}
    return {}


def run_train(args: argparse.Namespace) -> int:
    import torch

    from ..bench.machine import describe
    from ..bench.train_step import VARIANTS, bench_training, default_variants, format_table, parse_list
    from ..model.presets import preset
    from ..training.config import STAGES

    if args.model:
        raise ValueError("--train: times randomly initialised models; pass --preset instead of --model")
    if args.threads:
        torch.set_num_threads(args.threads)
    stages = parse_list("--stages", args.stages, STAGES)
    variants = parse_list("--variants", args.variants, VARIANTS) if args.variants else default_variants(args.device)
    name = args.preset or "tiny"
    res = bench_training(preset(name), stages, variants, args.batch, args.repeats, args.warmup, args.device, args.seed)
    res["preset"] = name
    res["hardware"] = describe(args.device)
    print(f"training steps: preset {name}  batch {args.batch}  device {args.device}  {res['hardware']}  "
          f"torch {res['torch']}  {res['threads']} threads  {args.repeats} timed steps after {args.warmup} warm-up")
    for line in format_table(res):
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


def run(args: argparse.Namespace) -> int:
    import torch

    if args.train:
        return run_train(args)

    from ..bench.machine import describe
    from ..bench.planner import bench_k_sweep, bench_planner
    from ..planning import PlannerConfig, WAVPolicy, random_policy

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        ks = [int(k) for k in args.sweep_K.split(",") if k.strip()]
    except ValueError:
        raise ValueError(f"--sweep-K: got {args.sweep_K!r}, expected comma-separated integers such as 1,2,3,5") from None
    cfg = PlannerConfig(K=args.K, M=args.M, N=args.N, S=args.S)
    cfg.validate()
    if args.model:
        policy = WAVPolicy.load(args.model, cfg, device=args.device)
    else:
        policy = random_policy(args.preset or "tiny", cfg, device=args.device)
    opts = _backend_options(args)
    res = bench_planner(policy, cfg, args.repeats, args.warmup, naive=not args.no_naive,
                        backend=args.backend, backend_options=opts)
    res["model"] = args.model or f"preset:{args.preset or 'tiny'}"
    res["machine"] = f"{describe(args.device)}, {torch.get_num_threads()} torch threads"
    b = res["batched"]
    print(f"model {res['model']}  K={cfg.K} M={cfg.M} N={cfg.N} S={cfg.S}  torch threads {res['threads']}  "
          f"device {args.device}")
    print(f"batched plan   median {b['median_ms']:8.1f} ms   p90 {b['p90_ms']:8.1f} ms   p99 {b['p99_ms']:8.1f} ms   (n={b['n']})")
    bd = res["breakdown_median_ms"]
    print(f"  breakdown    world {bd['world']:.1f} ms   value {bd['value']:.1f} ms   action {bd['action']:.1f} ms")
    if "naive" in res:
        n = res["naive"]
        print(f"naive loop     median {n['median_ms']:8.1f} ms   p90 {n['p90_ms']:8.1f} ms   (n={n['n']})")
        print(f"speed-up (naive / batched median): {res['speedup']:.2f}x")
    if "backend" in res:
        r = res["backend"]
        label = r["used"] if r["used"] == r["requested"] else f"{r['used']} (fallback from {r['requested']})"
        print(f"{label:<14} median {r['median_ms']:8.1f} ms   p90 {r['p90_ms']:8.1f} ms   p99 {r['p99_ms']:8.1f} ms   (n={r['n']})")
        print(f"  eager / {r['used']} median: {r['ratio_to_eager']:.2f}x   "
              f"max relative action difference to eager (same noise): {r['max_rel_diff_actions']:.2e}")
    if ks:
        sweep = bench_k_sweep(policy, cfg, ks, max(3, args.repeats // 2), 1, args.backend, opts)
        res["k_sweep"] = sweep
        print(f"plan cost vs K ({sweep['backend']}):")
        for row in sweep["rows"]:
            print(f"  K={row['K']:<3} median {row['median_ms']:8.1f} ms   p90 {row['p90_ms']:8.1f} ms   "
                  f"iterations run {row['iterations']}")
        print(f"  fit: {sweep['ms_per_iteration']:.1f} ms per iteration + {sweep['fixed_ms']:.1f} ms fixed   "
              f"R^2 {sweep['r2']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0
