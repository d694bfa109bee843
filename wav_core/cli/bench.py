"""`wav bench`: planner latency, batched vs naive, eager vs another backend on the same noise, and
plan cost against K, with a world/value/action breakdown; with `--train`, ms per training step of
each stage for variants of the step (frames encoded every step, cached latents, bf16, compiled).
With `--preset paper` (or `--rows`), plans of a bf16 model at scale: latency, peak GPU memory and
FLOPs per plan beside the arithmetic floor; `--flops-only` counts the FLOPs without running a plan."""

from __future__ import annotations

import argparse
import json

BACKEND_CHOICES = ("torch", "torch-cudagraph", "torch-compile", "onnxruntime", "tensorrt")
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
    p.add_argument("--precision", choices=["fp32", "fp16", "bf16", "bf16-world"], default=None,
                   help="TensorRT engine precision (default fp16); torch-compile network precision (fp32, bf16, or "
                        "bf16-world: the world in bf16, the experts in fp32; default fp32)")
    p.add_argument("--solve", choices=["unrolled", "step"], default="unrolled",
                   help="onnxruntime: whole flow solves per graph run, or one run per flow step")
    p.add_argument("--attention", choices=["fused", "standard"], default="fused",
                   help="onnxruntime: its fused MultiHeadAttention operator, or standard ONNX ops")
    p.add_argument("--K", type=int, default=None, help="planning iterations (default 3)")
    p.add_argument("--M", type=int, default=None, help="video candidates per iteration (default 8)")
    p.add_argument("--N", type=int, default=None, help="value samples per candidate (default 4)")
    p.add_argument("--S", type=int, default=10)
    p.add_argument("--value-steps", type=int, default=0,
                   help="flow steps of the value solves (default: S); fewer cut the plan's value-expert calls")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads and onnxruntime intra-op threads (0: the libraries' defaults)")
    p.add_argument("--no-naive", action="store_true", help="skip the naive reference")
    p.add_argument("--sweep-K", default="", help="comma-separated K values (e.g. 1,2,3,5): plan cost vs K on --backend")
    p.add_argument("--ops", action="store_true",
                   help="also count the ATen operators (matrix products, attention) and network calls of one eager plan")
    p.add_argument("--json", help="also write the results to this JSON file")
    sc = p.add_argument_group("plans at scale (--preset paper, --rows, --flops-only)")
    sc.add_argument("--rows", default=None, metavar="KxMxN,...",
                    help="plan a bf16 model (built on --device, random weights) for each row, e.g. 1x30x5,3x30x5 "
                         "(the default rows of --preset paper); reports latency, peak memory, FLOPs and the floor")
    sc.add_argument("--flops-only", action="store_true",
                    help="count the FLOPs per plan on the meta device and print the floor; runs no plan")
    sc.add_argument("--peak-tflops", type=float, default=None,
                    help="dense bf16 peak of the GPU in TFLOPS for the floor (default: looked up by GPU name)")
    t = p.add_argument_group("training steps (--train)")
    t.add_argument("--train", action="store_true",
                   help="time training steps of a --preset model instead of plans (random weights, synthetic batch)")
    t.add_argument("--batch", type=int, default=16, help="samples per training step")
    t.add_argument("--stages", default="tokenizer,world,value,action", help="comma-separated training stages")
    t.add_argument("--variants", default=None,
                   help="comma-separated of encode, cache, bf16, compile, bf16-compile, bf16-graphs "
                        "(default encode,cache; encode,cache,bf16 on CUDA)")
    t.add_argument("--seed", type=int, default=0, help="weights, batch and per-step random draws")
    p.set_defaults(func=run)


def _backend_options(args) -> dict:
    if args.backend == "onnxruntime":
        return {"solve": args.solve, "attention": args.attention, **({"threads": args.threads} if args.threads else {})}
    if args.backend == "tensorrt":
        return {"precision": args.precision or "fp16"}
    if args.backend == "torch-compile":
        return {"precision": args.precision or "fp32"}
    return {}


def _write_json(args: argparse.Namespace, res: dict) -> None:
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


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
    _write_json(args, res)
    return 0


def _rows(args) -> list[tuple[int, int, int]]:
    """The (K, M, N) rows asked for: --rows, else --K/--M/--N (defaults 3/8/4), else for --preset
    paper with none of them given, the paper rows."""
    from ..bench.scale import PAPER_ROWS, parse_rows

    given = [f"--{k}" for k in "KMN" if getattr(args, k) is not None]
    if args.rows is not None:
        if given:
            raise ValueError(f"--rows: give each row's K, M and N there, not also {', '.join(given)}")
        return parse_rows(args.rows)
    if not given and args.preset == "paper":
        return list(PAPER_ROWS)
    return [(3 if args.K is None else args.K, 8 if args.M is None else args.M, 4 if args.N is None else args.N)]


def _gpu_name(device: str) -> str | None:
    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return None


def run_flops(args: argparse.Namespace) -> int:
    """FLOPs per plan and the floor, counted on the meta device: nothing is allocated or run."""
    from ..bench.flops import STAGES, floor_ms, plan_flops
    from ..bench.peak import resolve_peak
    from ..bench.scale import human_flops, planner_rows
    from ..model.presets import preset

    if args.model:
        raise ValueError("--flops-only: counts a preset's plan; pass --preset instead of --model")
    peak, source = resolve_peak(args.peak_tflops, _gpu_name(args.device))
    name = args.preset or "tiny"
    cfg = preset(name)
    res = {"preset": name, "peak_tflops": peak, "peak_source": source, "rows": []}
    print(f"FLOPs per plan: preset {name} (counted on the meta device; matrix products, convolutions and attention)")
    for pcfg in planner_rows(_rows(args), args.S):
        flops = plan_flops(cfg, pcfg)
        row = {"K": pcfg.K, "M": pcfg.M, "N": pcfg.N, "S": pcfg.S, "flops": flops}
        parts = "   ".join(f"{k} {human_flops(flops[k])}" for k in STAGES)
        line = f"  K={pcfg.K} M={pcfg.M} N={pcfg.N} S={pcfg.S}: {human_flops(flops['total'])}   ({parts})"
        if peak is not None:
            row["floor_ms"] = floor_ms(flops["total"], peak)
            line += f"   floor {row['floor_ms']:.1f} ms at {peak:g} TFLOPS"
        res["rows"].append(row)
        print(line)
    print(f"peak: {peak:g} TFLOPS bf16 ({source})" if peak is not None else f"no floor: {source}")
    _write_json(args, res)
    return 0


def run_scale(args: argparse.Namespace) -> int:
    """Plans of a bf16 model of a preset, one row per (K, M, N): see wav_core/bench/scale.py."""
    import torch

    from ..bench.bf16_model import meta_parameters
    from ..bench.machine import describe
    from ..bench.peak import resolve_peak
    from ..bench.scale import bench_scale, format_rows, planner_rows
    from ..model.presets import preset

    if args.model:
        raise ValueError("--rows: plans randomly initialised bf16 presets; pass --preset instead of --model")
    if args.backend != "torch":
        raise ValueError(f"--backend: got {args.backend!r}; plans at scale (--preset paper, --rows) run the eager "
                         "torch planner in bf16, so --backend must be torch")
    name = args.preset or "tiny"
    rows = planner_rows(_rows(args), args.S)
    device = str(args.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device is visible to torch {torch.__version__}; "
                         "--flops-only counts the FLOPs and the floor without a GPU")
    if name == "paper" and not device.startswith("cuda"):
        raise ValueError(f"--device {device}: the paper preset ({meta_parameters(preset(name)) / 1e9:.2f} B "
                         "parameters, hundreds of TFLOP per plan at M=30) is too big to plan on a CPU; "
                         "use --device cuda, or --flops-only for the FLOP count and the floor")
    if args.threads:
        torch.set_num_threads(args.threads)
    peak, source = resolve_peak(args.peak_tflops, _gpu_name(device))
    res = bench_scale(preset(name), rows, device, args.repeats, args.warmup, peak)
    res.update(preset=name, peak_source=source, machine=describe(device))
    n, size = res["parameters"], res["weight_bytes"]
    count = f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.2f} M"
    print(f"plans at scale: preset {name}, {count} parameters in bf16 "
          f"({size / 2**30:.2f} GiB), random weights; {res['machine']}; torch {res['torch']}; "
          f"{args.repeats} timed plans after {args.warmup} warm-up")
    print(f"peak: {peak:g} TFLOPS bf16 ({source})" if peak is not None else f"no floor: {source}")
    for line in format_rows(res):
        print(line)
    _write_json(args, res)
    return 0


def run(args: argparse.Namespace) -> int:
    import torch

    if args.train:
        if args.flops_only or args.rows is not None:
            raise ValueError(f"{'--flops-only' if args.flops_only else '--rows'}: not with --train "
                             "(which times training steps, not plans)")
        return run_train(args)
    if args.flops_only:
        return run_flops(args)
    if args.preset == "paper" or args.rows is not None:
        return run_scale(args)
    if args.peak_tflops is not None:
        raise ValueError("--peak-tflops: only used with --preset paper, --rows or --flops-only")

    from ..bench.machine import describe
    from ..bench.planner import bench_k_sweep, bench_planner
    from ..planning import PlannerConfig, WAVPolicy, random_policy

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        ks = [int(k) for k in args.sweep_K.split(",") if k.strip()]
    except ValueError:
        raise ValueError(f"--sweep-K: got {args.sweep_K!r}, expected comma-separated integers such as 1,2,3,5") from None
    (k, m, n), = _rows(args)
    cfg = PlannerConfig(K=k, M=m, N=n, S=args.S, value_steps=args.value_steps)
    cfg.validate()
    if args.model:
        policy = WAVPolicy.load(args.model, cfg, device=args.device)
    else:
        policy = random_policy(args.preset or "tiny", cfg, device=args.device)
    opts = _backend_options(args)
    ops = None
    if args.ops:
        from ..bench.ops import count_plan_ops
        ops = count_plan_ops(policy)
    res = bench_planner(policy, cfg, args.repeats, args.warmup, naive=not args.no_naive,
                        backend=args.backend, backend_options=opts)
    res["model"] = args.model or f"preset:{args.preset or 'tiny'}"
    res["machine"] = f"{describe(args.device)}, {torch.get_num_threads()} torch threads"
    b = res["batched"]
    if ops is not None:
        res["ops"] = ops
        c = ops["calls"]
        print(f"one eager plan: {ops['aten_ops']} ATen operators, {ops['products']} matrix products, "
              f"{ops['attention']} attention calls; network calls: world {c['world']}, value {c['value']}, "
              f"action {c['action']}")
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
        print(f"  first {r['used']} plan (compilation, capture): {r['first_ms'] / 1000:.1f} s")
    if ks:
        sweep = bench_k_sweep(policy, cfg, ks, max(3, args.repeats // 2), 1, args.backend, opts)
        res["k_sweep"] = sweep
        print(f"plan cost vs K ({sweep['backend']}):")
        for row in sweep["rows"]:
            print(f"  K={row['K']:<3} median {row['median_ms']:8.1f} ms   p90 {row['p90_ms']:8.1f} ms   "
                  f"iterations run {row['iterations']}")
        print(f"  fit: {sweep['ms_per_iteration']:.1f} ms per iteration + {sweep['fixed_ms']:.1f} ms fixed   "
              f"R^2 {sweep['r2']:.3f}")
    _write_json(args, res)
    return 0
