"""Does the value the planner chooses steer the chunk where a success goes?

Under `future` conditioning the action expert reads a value chunk: in training the tick's true one,
in a plan the one the planner scored best. At ticks of successful held-out demonstrations, with one
video noise and no action noise, the chunk is decoded with each value the planner would choose
among (the best- and worst-scored of `values` samples, a random one as K = 0 reads, their mean) and
with the tick's true value chunk, and compared with the recorded chunk. A value that steers the
action usefully puts the best-scored choice near the true value's error; where all choices are
equally far and the true value is much nearer, the action reads the value but the value module
does not draw what it needs.
"""

from __future__ import annotations

import numpy as np
import torch

from ..planning.iteration import Networks
from ..planning.planner import reads_values
from ..planning.policy import WAVPolicy
from ..planning.scoring import score_values
from .held_out import episode_ticks

CHOICES = ("true", "best", "random", "worst", "mean")


@torch.no_grad()
def choice_at(policy: WAVPolicy, sample: dict, values: int, gen: torch.Generator) -> dict[str, dict[str, float]]:
    """One dataset sample -> per choice: the chunk's mean squared error to the recorded chunk and the
    total value it read (both normalised)."""
    model, cfg, norm = policy.model, policy.model.cfg, policy.card.normalization
    dev = policy.device
    backend = policy.planner.backend
    nets = Networks.of(backend)
    ctx = backend.context(sample["history"][None].to(dev), [sample["instruction"]])
    z_vid = torch.randn(1, *cfg.future_latent_shape, generator=gen).to(dev)
    states = nets.features(ctx, z_vid)  # one future; its states are shared by every value sample
    drawn = nets.values(states, torch.randn(values, *cfg.value_shape, generator=gen).to(dev))
    scores = score_values(drawn, policy.planner.cfg.score)
    chosen = {"true": norm.value(sample["values"][None].float().to(dev)),
              "best": drawn[int(scores.argmax())][None], "random": drawn[:1],
              "worst": drawn[int(scores.argmin())][None], "mean": drawn.mean(0, keepdim=True)}
    raw_state = sample["state"][None].float().to(dev)
    target = norm.encode_actions(sample["actions"][None].float().to(dev), raw_state, cfg.action_space)
    noise = torch.zeros(1, cfg.action_horizon, cfg.action_dim, device=dev)
    out = {}
    for name, v in chosen.items():
        chunk = nets.actions(states, v, norm.state(raw_state), noise)
        out[name] = {"error": float(((chunk - target) ** 2).mean()), "total": float(v[..., -1].mean())}
    return out


def value_choice(policy: WAVPolicy, dataset_dir, ticks_per_episode: int = 5, values: int = 16, seed: int = 0,
                 max_episodes: int | None = None) -> dict | None:
    """The figures over evenly spaced ticks of the successful episodes among the first `max_episodes`;
    None where there is nothing to measure (`paper` conditioning, whose action reads the value noise
    rather than a value chunk, or no successful episode)."""
    from ..data.torch_dataset import SampleSpec, WavDataset

    if values < 2:
        raise ValueError(f"values: got {values}, expected >= 2")
    if not reads_values(policy.model):
        return None
    ds = WavDataset(str(dataset_dir), SampleSpec.for_model(policy.cfg))
    gen = torch.Generator().manual_seed(seed)
    rows = [choice_at(policy, ds[start + int(t)], values, gen)
            for ep, ticks, start in episode_ticks(ds, ticks_per_episode, max_episodes)
            if ds.data.episodes[ep].success for t in ticks]
    if not rows:
        return None
    return {"ticks": len(rows), "values": values,
            "action_error": {c: float(np.mean([r[c]["error"] for r in rows])) for c in CHOICES},
            "value_total": {c: float(np.mean([r[c]["total"] for r in rows])) for c in CHOICES},
            "best_nearer_than_random": float(np.mean([r["best"]["error"] < r["random"]["error"] for r in rows]))}


def report_lines(result: dict | None) -> list[str]:
    if result is None:
        return ["value choice: n/a (paper conditioning, or no successful held-out episode)"]
    e, v = result["action_error"], result["value_total"]
    return [f"chunk error to successful demonstrations (normalised MSE, {result['ticks']} ticks) when the action reads:",
            *(f"  {c:<7} value  {e[c]:.4f}  (total value {v[c]:+.2f})" for c in CHOICES),
            f"  the best-scored of {result['values']} values is nearer than a random one at "
            f"{result['best_nearer_than_random']:.0%} of ticks"]
