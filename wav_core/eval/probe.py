"""Where does the object's position get lost? Linear probes of a model's representations at the first
decision of fresh simulated episodes.

A policy that reaches where objects usually are (`target_following` slope near 0) either never saw
where this one is, or saw it and did not act on it. Each reach target's horizontal position is read
back, by ridge regression on held-out seeds, from the tokenizer latents of the first frame, from the
world module's states of those history tokens (what the experts attend to, block by block) and from
its states of the imagined future at the planner's feature time. Where the probe's slope drops, the
position is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

AXES = ("x", "y")
LAMBDAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
"""Ridge strengths relative to the Gram matrix's mean diagonal, so the grid fits any feature size."""


@dataclass
class ProbeSamples:
    """First-decision frames and reach targets of `len(seeds)` fresh episodes."""

    seeds: list[int]
    frames: np.ndarray  # [n, V, 3, H, W] float32 in [0, 1], the model's input
    targets: dict[str, np.ndarray]  # reach name -> [n, 2] target xy (m)


def probe_samples(task: str, views: list[str], image_size: tuple[int, int], seeds: list[int],
                  robot=None) -> ProbeSamples:
    """Reset the simulator per seed and keep the model's input frames of the first observation and
    each reach target's xy (`Task.reaches`)."""
    from ..data.resize import model_frame
    from ..sim import SimEnv

    frames, targets = [], {}
    with SimEnv(task, robot=robot, render=False) as env:
        for seed in seeds:
            env.reset(seed)
            images = env.render(views)
            frames.append(np.stack([model_frame(images[v], image_size) for v in views]))
            for name, (_, target) in env.task.reaches(env.model, env.data).items():
                targets.setdefault(name, []).append(np.asarray(target[:2], dtype=np.float64))
    return ProbeSamples(list(seeds), np.stack(frames), {k: np.stack(v) for k, v in targets.items()})


@torch.no_grad()
def representations(model, instruction: str, frames: np.ndarray, seed: int = 0,
                    batch: int = 32) -> dict[str, np.ndarray]:
    """Features [n, ...] per representation: `latents`; `world k history` and `world k future` for
    each world block k (the future imagined from a fixed noise down to the model's feature time).
    The history repeats the first frame, as the control loop's does before it has older ones."""
    cfg = model.cfg
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, list[np.ndarray]] = {}
    fh = cfg.n_history
    for i in range(0, len(frames), batch):
        f = torch.from_numpy(frames[i:i + batch])
        history = f[:, :, None].expand(-1, -1, fh, -1, -1, -1)
        ctx = model.context(history, [instruction] * len(f))
        out.setdefault("latents", []).append(ctx.memory[:, :, 0].numpy())
        noise = torch.randn(len(f), len(cfg.views), cfg.n_future, *ctx.memory.shape[-3:], generator=gen)
        for k, states in enumerate(model.world_features(ctx, noise)):
            s = states[:, :cfg.world_tokens].reshape(len(f), len(cfg.views), fh + cfg.n_future, cfg.tokens_per_frame, -1)
            out.setdefault(f"world {k} history", []).append(s[:, :, :fh].numpy())
            out.setdefault(f"world {k} future", []).append(s[:, :, fh:].numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def ridge_probe(features: np.ndarray, targets: np.ndarray, train_frac: float = 2 / 3) -> dict:
    """Kernel ridge from standardised features to targets [n, A]: fitted on the first `train_frac`
    of the samples (the ridge strength chosen on the last quarter of those), scored on the rest.
    Per axis: RMSE (target units), slope of prediction on truth (1: follows, 0: ignores) and R^2."""
    n = len(features)
    n_train = int(round(n * train_frac))
    n_fit = int(round(n_train * 0.75))
    if n_fit < 4 or n - n_train < 4:
        raise ValueError(f"ridge_probe: {n} samples are too few, expected at least 12")
    x = features.reshape(n, -1).astype(np.float64)
    x = (x - x[:n_train].mean(0)) / (x[:n_train].std(0) + 1e-8)
    y_mean, y_std = targets[:n_train].mean(0), targets[:n_train].std(0) + 1e-12
    y = (targets - y_mean) / y_std
    gram = x @ x.T

    def fit(rows: slice, lam: float) -> np.ndarray:
        k = gram[rows, rows]
        return np.linalg.solve(k + lam * np.eye(len(k)), y[rows])

    scale = float(np.trace(gram[:n_train, :n_train])) / n_train
    lams = [lam * scale for lam in LAMBDAS]
    inner = [float(((gram[n_fit:n_train, :n_fit] @ fit(slice(0, n_fit), lam) - y[n_fit:n_train]) ** 2).mean())
             for lam in lams]
    lam = lams[int(np.argmin(inner))]
    pred = (gram[n_train:, :n_train] @ fit(slice(0, n_train), lam)) * y_std + y_mean
    truth = targets[n_train:]
    result = {}
    for a, axis in enumerate(AXES[:targets.shape[1]]):
        t, p = truth[:, a], pred[:, a]
        var = float(t.var())
        result[axis] = {"rmse": float(np.sqrt(((p - t) ** 2).mean())),
                        "slope": float(np.polyfit(t, p, 1)[0]) if var > 0 else float("nan"),
                        "r2": 1.0 - float(((p - t) ** 2).mean()) / var if var > 0 else float("nan"),
                        "target_std": float(np.sqrt(var))}
    return result


def probe(model, instruction: str, samples: ProbeSamples, seed: int = 0) -> dict:
    """{reach name: {representation: ridge_probe result (metres)}} on the samples' last third."""
    reps = representations(model, instruction, samples.frames, seed)
    return {name: {rep: ridge_probe(feats, xy) for rep, feats in reps.items()}
            for name, xy in samples.targets.items()}


def report_lines(result: dict) -> list[str]:
    lines = []
    for name, reps in result.items():
        lines.append(f"{name}: held-out RMSE (cm) and slope per axis")
        for rep, r in reps.items():
            cells = "  ".join(f"{a} {r[a]['rmse'] * 100:5.2f} cm slope {r[a]['slope']:5.2f}" for a in AXES if a in r)
            lines.append(f"  {rep:18s} {cells}")
    return lines
