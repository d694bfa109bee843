"""Training speed: milliseconds per optimisation step of each stage, for variants of the same step
measured side by side in one run.

Every step goes through the trainer's own `train_step` (loss, backward, clipping, AdamW, schedule)
on the parameters the stage trains, from random weights of a preset and a seeded synthetic batch of
the shapes a dataset would give. Variants of a stage start from the same weights and take step i
with the same random draws; they are timed interleaved (step i of each, then step i + 1 of each), so
load from other processes hits them alike and their ratios stay meaningful on a shared machine.

Variants:
- `encode`: the world, value and action stages encode the history and future frames with the
  frozen tokenizer at every step (training before the latent cache).
- `cache`: the same step reading latents computed once beforehand (what `wav train` does).
- `bf16`: `cache` under bf16 autocast (what `wav train` does on a GPU); CUDA only.
- `compile`, `bf16-compile`: `cache` / `bf16` with the stage's loss module under torch.compile;
  the first step, which compiles, is reported apart from the steady state.
- `bf16-graphs`: `bf16-compile` in torch.compile's "reduce-overhead" mode (CUDA graphs); CUDA only.
The tokenizer stage always reads frames, so its `encode` and `cache` rows run the same step: their
ratio shows the measurement noise.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

import torch

from ..model.config import ModelConfig
from ..model.normalize import Normalizer
from ..model.wav import WAVModel
from ..training.config import STAGES, TrainConfig
from ..training.objectives import StageLoss, make_optimizer, make_scheduler, set_trainable, train_step
from ..training.sampler import step_generator
from .stats import summarize


@dataclass(frozen=True)
class Variant:
    name: str
    cached_latents: bool
    """Read precomputed tokenizer latents instead of encoding frames (stages after the tokenizer's)."""
    compile: bool = False
    bf16: bool = False
    mode: str | None = None
    """torch.compile mode (None: inductor's default; "reduce-overhead": also CUDA graphs)."""


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("encode", cached_latents=False),
    Variant("cache", cached_latents=True),
    Variant("bf16", cached_latents=True, bf16=True),
    Variant("compile", cached_latents=True, compile=True),
    Variant("bf16-compile", cached_latents=True, compile=True, bf16=True),
    Variant("bf16-graphs", cached_latents=True, compile=True, bf16=True, mode="reduce-overhead"),
)}

INSTRUCTIONS = ("pick up the cube and hand it over", "place the cube in the bowl")


def parse_list(flag: str, text: str, allowed) -> list[str]:
    """A comma-separated flag value -> its items in order, each checked against `allowed`."""
    items = list(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    bad = [s for s in items if s not in allowed]
    if bad or not items:
        raise ValueError(f"{flag}: got {text!r}, expected a comma-separated list of {', '.join(allowed)}")
    return items


def default_variants(device: str) -> list[str]:
    return ["encode", "cache", "bf16"] if str(device).startswith("cuda") else ["encode", "cache"]


def check_variants(names: list[str], device: str) -> list[Variant]:
    variants = [VARIANTS[n] for n in names]
    cpu_bf16 = [v.name for v in variants if v.bf16 and not str(device).startswith("cuda")]
    if cpu_bf16:
        raise ValueError(f"--variants: {', '.join(cpu_bf16)} run under bf16 autocast, which needs a CUDA --device "
                         f"(what training uses on a GPU); got --device {device}")
    return variants


def synthetic_batch(cfg: ModelConfig, batch: int, normalizer: Normalizer, seed: int = 0,
                    device: torch.device | str = "cpu") -> dict:
    """A training batch of `cfg`'s shapes (as the dataset's loader collates it), seeded: frames in
    [0, 1], states and actions inside the normaliser's ranges, standard-normal values."""
    g = torch.Generator().manual_seed(seed)
    h, w = cfg.image_size
    views = len(cfg.views)

    def within(lo, hi, *shape):
        lo, hi = torch.tensor(lo, dtype=torch.float32), torch.tensor(hi, dtype=torch.float32)
        return lo + (hi - lo) * torch.rand(*shape, lo.numel(), generator=g)

    out = {
        "history": torch.rand(batch, views, cfg.n_history, 3, h, w, generator=g),
        "future": torch.rand(batch, views, cfg.n_future, 3, h, w, generator=g),
        "state": within(normalizer.state_min[:cfg.state_dim], normalizer.state_max[:cfg.state_dim], batch),
        "actions": within(normalizer.action_min[:cfg.action_dim], normalizer.action_max[:cfg.action_dim],
                          batch, cfg.action_horizon),
        "values": torch.randn(batch, cfg.action_horizon, cfg.value_channels, generator=g),
    }
    out = {k: v.to(device) for k, v in out.items()}
    out["instruction"] = [INSTRUCTIONS[i % len(INSTRUCTIONS)] for i in range(batch)]
    out["episode"] = torch.zeros(batch, dtype=torch.long)
    out["tick"] = torch.arange(batch)
    return out


def bench_normalizer(cfg: ModelConfig) -> Normalizer:
    """The default (Piper joint limits) normaliser; a `delta` model also needs an offset range."""
    norm = Normalizer()
    if cfg.action_space == "delta":
        norm.delta_min, norm.delta_max = [-0.2] * cfg.action_dim, [0.2] * cfg.action_dim
    return norm


@torch.no_grad()
def with_cached_latents(model: WAVModel, batch: dict) -> dict:
    """The batch as the trainer gives it with the latent cache: tokenizer latents of the history and
    future frames (eval mode, as the cache is built) in place of the frames."""
    tok = model.tokenizer
    was_training = tok.training
    tok.eval()
    try:
        out = {k: v for k, v in batch.items() if k not in ("history", "future")}
        out["history_latents"] = tok.latents(batch["history"])
        out["future_latents"] = tok.latents(batch["future"])
    finally:
        tok.train(was_training)
    return out


class _Run:
    """One variant of one stage: its own copy of the model, optimiser and schedule."""

    def __init__(self, base: WAVModel, stage: str, variant: Variant, batch: dict, latent_batch: dict,
                 normalizer: Normalizer, batch_size: int, device: torch.device):
        self.stage, self.variant, self.device = stage, variant, device
        self.model = copy.deepcopy(base)
        set_trainable(self.model, stage)
        self.cfg = replace(TrainConfig().stage(stage), batch_size=batch_size)
        self.optimizer = make_optimizer(self.model, stage, self.cfg)
        self.scheduler = make_scheduler(self.optimizer, self.cfg)
        self.normalizer = normalizer
        self.loss_module = StageLoss(self.model, stage, normalizer, self.cfg.caption_dropout)
        if variant.compile:
            # In place (nn.Module.compile): the module keeps its type, so DDP-style callers and
            # train_step see the same StageLoss they would without compilation.
            self.loss_module.compile(mode=variant.mode)
        self.autocast = torch.autocast("cuda", dtype=torch.bfloat16) if variant.bf16 else None
        self.batch = latent_batch if variant.cached_latents and stage != "tokenizer" else batch
        self.times_ms: list[float] = []
        self.losses: list[float] = []
        self.first_step_ms = float("nan")

    def step(self, i: int, seed: int) -> float:
        gen = step_generator(seed, self.stage, i, 0, self.device)
        _sync(self.device)
        t = time.perf_counter()
        metrics = train_step(self.model, self.batch, self.stage, self.optimizer, self.normalizer, self.cfg,
                             self.scheduler, gen, self.loss_module, self.autocast)
        _sync(self.device)
        self.losses.append(metrics["loss"])
        return (time.perf_counter() - t) * 1000


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_training(cfg: ModelConfig, stages: list[str], variants: list[str], batch_size: int = 16,
                   repeats: int = 10, warmup: int = 2, device: str = "cpu", seed: int = 0) -> dict:
    """ms per training step of each (stage, variant). Each variant takes a first step (which
    compiles, for the compiled ones), then `warmup` untimed steps, then `repeats` timed ones.

    Returns {"rows": [{stage, variant, median_ms, p90_ms, p99_ms, n, samples_per_s, speedup,
    first_step_ms, compile_s (compiled variants), first_loss, losses}], ...}; `speedup` is the median
    of the stage's first variant over this one's."""
    for flag, value in (("--batch", batch_size), ("--repeats", repeats)):
        if value < 1:
            raise ValueError(f"{flag}: got {value}, expected >= 1")
    if warmup < 0:
        raise ValueError(f"--warmup: got {warmup}, expected >= 0")
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise ValueError(f"--stages: got {','.join(stages)!r}, expected a comma-separated list of {', '.join(STAGES)}")
    chosen = check_variants(variants, device)
    dev = torch.device(device)
    torch.manual_seed(seed)
    base = WAVModel(cfg).to(dev)
    normalizer = bench_normalizer(cfg)
    batch = synthetic_batch(cfg, batch_size, normalizer, seed, dev)
    latent_batch = with_cached_latents(base, batch)
    rows = []
    for stage in stages:
        runs = [_Run(base, stage, v, batch, latent_batch, normalizer, batch_size, dev) for v in chosen]
        for run in runs:
            run.first_step_ms = run.step(0, seed)
        for i in range(1, 1 + warmup + repeats):
            for run in runs:
                dt = run.step(i, seed)
                if i > warmup:
                    run.times_ms.append(dt)
        ref = None
        for run in runs:
            s = summarize(run.times_ms)
            ref = ref or s["median_ms"]
            row = {"stage": stage, "variant": run.variant.name, **s,
                   "samples_per_s": batch_size / (s["median_ms"] / 1000), "speedup": ref / s["median_ms"],
                   "first_step_ms": run.first_step_ms, "first_loss": run.losses[0], "losses": run.losses}
            if run.variant.compile:
                row["compile_s"] = max(0.0, run.first_step_ms - s["median_ms"]) / 1000
            rows.append(row)
        del runs
    return {"rows": rows, "batch": batch_size, "repeats": repeats, "warmup": warmup, "device": str(dev),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "seed": seed}


def format_table(res: dict) -> list[str]:
    lines = [f"{'stage':<10} {'variant':<13} {'median ms':>10} {'p90 ms':>9} {'samples/s':>10} "
             f"{'speed-up':>9} {'first step':>11}"]
    first = {}
    for r in res["rows"]:
        first.setdefault(r["stage"], r["variant"])
        extra = f"   compile {r['compile_s']:.1f} s" if "compile_s" in r else ""
        lines.append(f"{r['stage']:<10} {r['variant']:<13} {r['median_ms']:10.1f} {r['p90_ms']:9.1f} "
                     f"{r['samples_per_s']:10.1f} {r['speedup']:8.2f}x {r['first_step_ms'] / 1000:9.2f} s{extra}")
    lines.append("speed-up: median ms/step of the stage's first variant "
                 f"({', '.join(sorted(set(first.values())))}) / this variant's")
    return lines
