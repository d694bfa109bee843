"""Can the value module read a future? Its ranking on held-out ticks, given the futures the world
imagines and given the future that really followed.

`value_calibration` scores one sampled value of one imagined future, so a poor figure there may be
sampling noise, a world that imagines the wrong futures, or a value that ignores what it is shown.
This check averages `samples` value draws per tick and, under `future` conditioning (the value is
trained on the true future noised to the feature time), also feeds it the true future noised the
same way. A value that ranks true futures but not imagined ones points at the world module; one
that ranks neither has not learned to read futures, or its target is not visible in them.

A planner needs more than a ranking of ticks, which the history alone can give: at one tick it must
prefer the better of two futures. So the readout also scores a still future (the last history frame
of each camera held for every future frame) and counts how often the future that really followed a
successful demonstration scores above it. A motionless future is rare in demonstrations except at
their ends, so it is also a probe of whether the value takes a stopped arm for a finished task.
Finally it shows, after the history of tick t, the futures that followed ticks t - D and t + D, and
reports how often the later one scores higher and what fraction of the true change in value between
them the prediction moves (`shifted`): a value that reads the future moves with it, one that reads
only the history does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..model.flow import interpolate
from ..model.wav import Context
from ..planning.policy import WAVPolicy
from .diagnose import spearman
from .held_out import episode_ticks


def readout_at(policy: WAVPolicy, sample: dict, samples: int, generator: torch.Generator,
               others: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
    """Mean predicted total reward-to-go (first chunk step, robot units) of one dataset sample, over
    `samples` imagined futures and, under `future` conditioning, over `samples` noisings of its true
    future, of a still one and of each of `others` (name -> future frames shaped like the sample's)."""
    model, backend, norm = policy.model, policy.backend, policy.card.normalization
    cfg, dev = policy.planner.cfg, policy.device
    history = sample["history"][None].to(dev).float()
    ctx: Context = backend.context(history, [sample["instruction"]])

    def draw(*shape):
        return torch.randn(*shape, generator=generator).to(dev)

    def total(states, z_val) -> float:
        return float(norm.value_inverse(backend.values(states, z_val))[:, 0, -1].mean())

    mc = policy.cfg
    z_val = draw(samples, *mc.value_shape)
    out = {"imagined": total(backend.features(ctx, draw(samples, *mc.future_latent_shape)), z_val)}
    if mc.conditioning == "future":
        t_f = model.feature_time(cfg.feature_steps, cfg.S)
        t = torch.full((samples,), t_f, device=dev)
        memory = ctx.memory.expand(samples, *ctx.memory.shape[1:])
        noise = draw(samples, *mc.future_latent_shape)
        future = sample["future"]
        still = sample["history"][:, -1:].expand(future.shape)
        for key, frames in (("true_future", future), ("still_future", still), *(others or {}).items()):
            x0 = model.tokenizer.latents(frames[None].to(dev).float()).expand(samples, *mc.future_latent_shape)
            out[key] = total(model.world_states(memory, interpolate(x0, noise, t), t_f, ctx), z_val)
    return out


def value_readout(policy: WAVPolicy, dataset_dir: str | Path, ticks_per_episode: int = 5, samples: int = 8,
                  seed: int = 0, max_episodes: int | None = None, shift_ticks: int = 32) -> dict:
    """Spearman and Pearson correlation of the true total reward-to-go with the mean prediction, per
    source ("imagined", and "true_future" under `future` conditioning), over evenly spaced ticks of
    each held-out episode; with the per-tick points and each episode's means (whether successes and
    failures are told apart at all). Under `future` conditioning, ticks at least `shift_ticks` from
    either end of their episode also score the futures of t - shift_ticks and t + shift_ticks after
    the history of t (`shifted`)."""
    from ..data.torch_dataset import SampleSpec, WavDataset

    if samples < 1 or ticks_per_episode < 1:
        raise ValueError(f"samples and ticks_per_episode: got {samples} and {ticks_per_episode}, expected >= 1")
    ds = WavDataset(str(dataset_dir), SampleSpec.for_model(policy.cfg))
    gen = torch.Generator().manual_seed(seed)
    points = []
    with torch.no_grad():
        for ep, ticks, start in episode_ticks(ds, ticks_per_episode, max_episodes):
            last = ds.data.episodes[ep].ticks - 1
            for t in ticks:
                sample = ds[start + int(t)]
                shifted = policy.cfg.conditioning == "future" and shift_ticks <= t <= last - shift_ticks
                others = {f"{name}_future": ds[start + int(t) + d]["future"]
                          for name, d in (("earlier", -shift_ticks), ("later", shift_ticks))} if shifted else None
                point = {"episode": ep, "tick": int(t), "true": float(sample["values"][0, -1]),
                         **readout_at(policy, sample, samples, gen, others)}
                if shifted:
                    point["true_earlier"], point["true_later"] = (
                        float(ds.chunk(ep, int(t) + d, "value")[0, -1]) for d in (-shift_ticks, shift_ticks))
                points.append(point)
    true = np.array([p["true"] for p in points])
    result: dict = {"dataset": str(dataset_dir), "samples": samples, "points": points}
    for source in ("imagined", "true_future"):
        if points and source in points[0]:
            pred = np.array([p[source] for p in points])
            pearson = float(np.corrcoef(true, pred)[0, 1]) if len(true) > 1 and true.std() > 0 and pred.std() > 0 else 0.0
            result[source] = {"spearman": spearman(true, pred), "pearson": pearson}
    if points and "still_future" in points[0]:
        won = [p for p in points if ds.data.episodes[p["episode"]].success]
        result["true_beats_still"] = {
            "successes": float(np.mean([p["true_future"] > p["still_future"] for p in won])) if won else None,
            "success_ticks": len(won),
            "all": float(np.mean([p["true_future"] > p["still_future"] for p in points])),
        }
    inner = [p for p in points if "later_future" in p]
    if inner:
        pred = np.array([p["later_future"] - p["earlier_future"] for p in inner])
        true_change = np.array([p["true_later"] - p["true_earlier"] for p in inner])
        result["shifted"] = {
            "shift_ticks": shift_ticks, "ticks": len(inner),
            "later_beats_earlier": float(np.mean(pred > 0)),
            "change_ratio": float(pred.mean() / true_change.mean()) if abs(true_change.mean()) > 1e-9 else None,
        }
    keys = [k for k in ("true", "imagined", "true_future", "still_future") if points and k in points[0]]
    result["episodes"] = [{"episode": ep, **{k: float(np.mean([p[k] for p in points if p["episode"] == ep])) for k in keys}}
                          for ep in sorted({p["episode"] for p in points})]
    return result
