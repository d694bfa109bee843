"""Staged training: tokenizer -> world -> value -> action, on one CPU, one GPU or many (torchrun).

Each stage starts from the previous stage's weights, checkpoints atomically, and resumes exactly:
the batch order and every random draw depend only on (seed, stage, step, rank).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
import yaml
from torch.utils.data import DataLoader

from ..config.loader import to_dict
from ..model.files import ModelCard
from ..model.normalize import Normalizer
from ..model.wav import WAVModel
from .checkpoint import load_checkpoint, save_checkpoint
from .ema import WeightAverage, restore_raw
from .imagined_futures import ImaginedFutures
from .init_weights import load_init_weights, load_leaving_fresh
from .latent_cache import LatentCache
from .config import STAGES
from .objectives import (StageLoss, batch_context, make_optimizer, make_scheduler, set_trainable, stage_modules,
                         train_step)
from .run_config import RunConfig
from .sampler import StepBatchSampler, step_generator
from .shifted_futures import shift_futures
from .summaries import write_images

RUN_FILE = "run.yaml"


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Dist:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; NCCL on GPUs, gloo on CPUs."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if cuda else "gloo")
    return Dist(int(os.environ.get("RANK", "0")), world, device)


def stage_dir(run: Path, stage: str) -> Path:
    return run / "checkpoints" / stage


def latest_weights(run: Path) -> tuple[str, Path] | None:
    """The checkpoint of the last stage that has one."""
    for stage in reversed(STAGES):
        d = stage_dir(run, stage)
        if (d / "model.safetensors").is_file():
            return stage, d
    return None


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


def _check_dataset(ds, cfg, data_dir) -> None:
    joints = ds.data.joint_names
    if len(joints) != cfg.action_dim:
        raise ValueError(f"{data_dir}: dataset has {len(joints)} joints, the model expects {cfg.action_dim}")
    stats_v = len(ds.data.stats["value"]["mean"])
    if stats_v != cfg.value_channels:
        raise ValueError(f"{data_dir}: dataset has {stats_v} value channels, the model expects {cfg.value_channels}")
    short = [e.source for e in ds.data.episodes if e.ticks < 2]
    if short:
        raise ValueError(f"{data_dir}: episodes with fewer than 2 ticks: {short[:3]}")


def prepare_run(run: Path, cfg: RunConfig, data_dir: str | Path, resume: bool, init: str | Path | None = None) -> dict:
    """Create (or, with resume, check) the run directory; returns its run.yaml content."""
    from ..data.dataset import load_dataset

    run_file = run / RUN_FILE
    if run_file.exists() and not resume:
        raise FileExistsError(f"{run}: a run already exists here; pass --resume to continue it or choose a new --out")
    if resume and run_file.exists():
        content = yaml.safe_load(run_file.read_text())
        if init is not None and str(Path(init).resolve()) != content.get("init"):
            raise ValueError(f"{run_file}: the run started from init {content.get('init')!r}, not {str(init)!r}")
        return content
    data = load_dataset(data_dir)
    mcfg = cfg.model_config()
    missing = [v for v in mcfg.views if v not in data.cameras]
    if missing:
        raise ValueError(f"{data_dir}: cameras {missing} required by the model are not in the dataset (has {data.cameras})")
    norm = Normalizer.from_stats(data.stats)
    if mcfg.action_space == "delta":
        from ..data.action_deltas import offset_range

        norm.delta_min, norm.delta_max = offset_range(data, mcfg.action_horizon)
    card = ModelCard(config=mcfg, normalization=norm, cameras=list(mcfg.views), joints=data.joint_names,
                     instruction=(data.episodes[0].instruction if data.episodes else ""))
    content = {"run": to_dict(cfg), "card": to_dict(card), "data": str(Path(data_dir).resolve())}
    if init is not None:
        content["init"] = str(Path(init).resolve())
    run.mkdir(parents=True, exist_ok=True)
    tmp = run / (RUN_FILE + ".tmp")
    tmp.write_text(yaml.safe_dump(content, sort_keys=False))
    os.replace(tmp, run_file)
    return content


def load_stage_weights(model: WAVModel, weights: dict, stage: str, source: Path) -> None:
    """Load the checkpoint that `stage` wrote. Parameters that neither it nor an earlier stage trains
    and that it lacks (an option added to an expert after the run's earlier stages, such as
    `action_reads`) keep their initialisation; anything else missing or unexpected is an error."""
    trained = [m for s in STAGES[:STAGES.index(stage) + 1] for m in stage_modules(model, s)]
    load_leaving_fresh(model, weights, [m for m in model.children() if not any(m is x for x in trained)],
                       source, f"trained by {stage} or an earlier stage")


@dataclass
class TrainResult:
    losses: dict[str, list[float]]
    """Loss per step and stage, as this process saw them."""
    model: WAVModel
    rank: int = 0


def train(run: str | Path, cfg: RunConfig, data_dir: str | Path, stages: list[str], max_steps: int | None = None,
          resume: bool = False, progress: bool = True, log: Callable[[str], None] = print,
          init: str | Path | None = None) -> TrainResult:
    """Train `stages` in order; with `init`, a fresh run starts from that model directory's weights."""
    from ..config.loader import from_dict
    from ..bench.machine import describe
    from ..data.torch_dataset import SampleSpec, WavDataset

    run = Path(run)
    env = init_distributed()
    fresh_run = not (run / RUN_FILE).exists()
    if env.main:
        content = prepare_run(run, cfg, data_dir, resume, init)
    if env.world > 1:
        dist.barrier()
    content = yaml.safe_load((run / RUN_FILE).read_text())
    card = from_dict(ModelCard, content["card"])
    mcfg, norm = card.config, card.normalization
    ds = WavDataset(str(data_dir), SampleSpec.for_model(mcfg))
    _check_dataset(ds, mcfg, data_dir)
    torch.manual_seed(cfg.seed)
    model = WAVModel(mcfg).to(env.device)
    if content.get("init") and latest_weights(run) is None:
        try:
            left = load_init_weights(model, content["init"], stages)
        except (OSError, ValueError):
            if fresh_run and env.main:  # leave no run behind that names weights it cannot load
                (run / RUN_FILE).unlink(missing_ok=True)
                if not any(run.iterdir()):
                    run.rmdir()
            raise
        if env.main:
            parts = sorted({".".join(k.split(".")[:2]) for k in left})
            log(f"weights from {content['init']}" + (f"; {len(left)} tensors left fresh in {', '.join(parts)}" if left else ""))
    writer = None
    if env.main:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(run / "tb"))
    history: dict[str, list[float]] = {}
    for stage in stages:
        scfg = cfg.train.stage(stage)
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16)
                    if env.device.type == "cuda" and scfg.precision == "bf16" else None)
        total = scfg.steps if max_steps is None else max_steps
        ck = stage_dir(run, stage)
        start, extra = 0, None
        if resume and (ck / "state.json").is_file():
            weights, extra = load_checkpoint(ck, env.device)
            load_stage_weights(model, weights, stage, ck)
            start = int(extra["step"])
        else:
            prev = [s for s in STAGES[:STAGES.index(stage)] if (stage_dir(run, s) / "model.safetensors").is_file()]
            if prev:
                weights, _ = load_checkpoint(stage_dir(run, prev[-1]), env.device)
                load_stage_weights(model, weights, prev[-1], stage_dir(run, prev[-1]))
        set_trainable(model, stage)
        loss_module: torch.nn.Module = StageLoss(model, stage, norm, scfg.caption_dropout)
        if cfg.compile != "off":
            loss_module.compile(mode=None if cfg.compile == "default" else cfg.compile)
        if env.world > 1:
            loss_module = torch.nn.parallel.DistributedDataParallel(
                loss_module, device_ids=[env.device.index] if env.device.type == "cuda" else None,
                find_unused_parameters=True)
        optimizer = make_optimizer(model, stage, scfg)
        scheduler = make_scheduler(optimizer, scfg)
        if extra is not None:
            optimizer.load_state_dict(extra["optimizer"])
            scheduler.load_state_dict(extra["scheduler"])
        history[stage] = list(extra.get("losses", [])) if extra else []
        if start >= total:
            log(f"[{stage}] already complete ({start}/{total} steps)")
            continue
        # Taken before a resumed stage's raw weights go back in: the checkpoint's model is the average.
        ema = WeightAverage(model, scfg.ema) if scfg.ema > 0 else None
        if extra is not None and "raw" in extra:
            restore_raw(model, extra["raw"])
        elif extra is not None and ema is not None:
            raise ValueError(f"{ck}: checkpoint written without train.{stage}.ema, cannot resume with ema {scfg.ema}")
        # Stages after the tokenizer's read its latents from a cache built once per stage.
        latents = None
        ds.images = not (cfg.latent_cache and stage != "tokenizer")
        if not ds.images:
            t_cache = time.perf_counter()
            latents = LatentCache.build(model.tokenizer, ds, env.device)
            if env.main:
                log(f"[{stage}] tokenizer latents of {len(ds)} ticks cached in {time.perf_counter() - t_cache:.1f} s")
        if stage == "action" and model.action.frame_norm_pending:  # `action_frame_norm`: set once, kept in the weights
            cache = latents if latents is not None else LatentCache.build(model.tokenizer, ds, env.device)
            model.action.set_frame_norm(*cache.frame_statistics(model.world))
            if env.main:
                frames = sum(lat.shape[1] for lat in cache.latents.values())
                log(f"[{stage}] frame latents standardised per feature over {frames} frames")
        # Stage 3 under `action_futures: imagined`: each sample's imagined future, made on first use.
        imagined = ImaginedFutures(cfg.seed) if stage == "action" and mcfg.action_futures == "imagined" else None
        samples = ds.stage_samples(stage, cfg.train.action_episodes)
        sampler = StepBatchSampler(samples, scfg.batch_size, cfg.seed, stage, start, total, env.rank, env.world)
        loader = DataLoader(ds, batch_sampler=sampler, num_workers=cfg.num_workers,
                            pin_memory=env.device.type == "cuda", persistent_workers=False)
        bar = None
        if progress and env.main:
            from tqdm import tqdm
            bar = tqdm(total=total, initial=start, desc=f"train {stage}", unit="step", dynamic_ncols=True)
        t0 = time.perf_counter()
        seconds_before = float(extra.get("seconds", 0.0)) if extra else 0.0
        step = start
        for step, batch in zip(range(start, total), loader):
            batch = _to_device(batch, env.device)
            if latents is not None:
                batch["history_latents"], batch["future_latents"] = latents.gather(ds, batch["episode"], batch["tick"])
                if scfg.shifted_futures > 0 or scfg.still_futures > 0:
                    shift_futures(batch, ds, latents, scfg.shifted_futures, scfg.shift_ticks,
                                  step_generator(cfg.seed, f"{stage}/shift", step, env.rank, "cpu"), scfg.still_futures)
            if imagined is not None:
                with torch.no_grad():
                    imagined.fill(model, batch, batch_context(model, batch, None))
            gen = step_generator(cfg.seed, stage, step, env.rank, env.device)
            try:
                metrics = train_step(model, batch, stage, optimizer, norm, scfg, scheduler, gen, loss_module, autocast)
            except torch.cuda.OutOfMemoryError as exc:
                raise MemoryError(f"[{stage}] out of GPU memory at batch_size {scfg.batch_size} per process; "
                                  f"lower train.{stage}.batch_size") from exc
            if ema is not None:
                ema.update(step)
            history[stage].append(metrics["loss"])
            done = step + 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['loss']:.4f}", lr=f"{metrics['lr']:.1e}")
            if writer is not None and (done % cfg.log_every == 0 or done == total):
                for k, v in metrics.items():
                    writer.add_scalar(f"{stage}/{k}", v, done)
            if writer is not None and cfg.image_every and ds.images and (done % cfg.image_every == 0 or done == total):
                write_images(writer, model, stage, batch, norm, done)
            if env.main and (done % cfg.checkpoint_every == 0 or done == total):
                state = {
                    "stage": stage, "step": done, "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "losses": history[stage],
                    # Wall time over every session of this stage, and where it ran: the model card's figures.
                    "seconds": seconds_before + time.perf_counter() - t0,
                    "hardware": describe(env.device, env.world),
                }
                if ema is not None:
                    state["raw"] = ema.raw_state()
                save_checkpoint(ck, ema.model_state(model) if ema is not None else model.state_dict(), state)
            if env.world > 1 and (done % cfg.checkpoint_every == 0 or done == total):
                dist.barrier()
        if bar is not None:
            bar.close()
        if ema is not None:
            ema.apply()
        if env.main:
            log(f"[{stage}] {step + 1 - start} steps in {time.perf_counter() - t0:.1f} s, "
                f"final loss {history[stage][-1] if history[stage] else float('nan'):.4f}"
                + (f", {len(imagined)} ticks' futures imagined" if imagined is not None else ""))
    if writer is not None:
        writer.close()
    return TrainResult(history, model, env.rank)
