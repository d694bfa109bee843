"""Run 21: does decoding with the value the planner would choose bring the chunk nearer what a
successful demonstration did?

At evenly spaced ticks of the held-out recordings' successful episodes, with one video noise and no
action noise: draw 16 value noises, denoise them against the candidate's features and score them as
the planner does; decode the chunk with the best- and the worst-scored value, with a random one (what
K = 0 reads), with the mean of the 16, with the value denoised from zero noise, and with the
tick's true value chunk. Prints each chunk's error against the recorded
one (normalised action units, mean squared) and how far the chosen values lie from the true one.

  python docs/value_conditioned/value_choice.py MODEL HELDOUT_DATASET [TICKS_PER_EPISODE] [OUT.json]
"""
import json
import sys

import numpy as np
import torch

from wav_core.data.torch_dataset import SampleSpec, WavDataset
from wav_core.eval.held_out import episode_ticks
from wav_core.planning import PlannerConfig
from wav_core.planning.gaussian import Gaussians
from wav_core.planning.iteration import Networks
from wav_core.planning.planner import reads_values
from wav_core.planning.policy import WAVPolicy
from wav_core.planning.scoring import score_values

VALUES = 16


@torch.no_grad()
def tick(policy: WAVPolicy, sample: dict, gen: torch.Generator) -> dict:
    model, cfg, norm = policy.model, policy.model.cfg, policy.card.normalization
    backend = policy.planner.backend
    nets = Networks.of(backend)
    ctx = backend.context(sample["history"][None], [sample["instruction"]])
    z_vid = torch.randn(1, *cfg.future_latent_shape, generator=gen)
    states = nets.features(ctx, z_vid)
    z_val = torch.randn(VALUES, *cfg.value_shape, generator=gen)
    many = backend.features(ctx, z_vid.expand(VALUES, *z_vid.shape[1:]))
    values = nets.values(many, z_val)
    scores = score_values(values, policy.planner.cfg.score)
    true_value = norm.value(sample["values"][None].float())
    chosen = {"best": values[int(scores.argmax())][None], "worst": values[int(scores.argmin())][None],
              "random": values[0][None], "mean": values.mean(0, keepdim=True),
              "zero_noise": nets.values(states, torch.zeros(1, *cfg.value_shape)), "true": true_value}
    state = norm.state(sample["state"][None].float())
    target = norm.encode_actions(sample["actions"][None].float(), sample["state"][None].float(), cfg.action_space)
    noise = torch.zeros(1, cfg.action_horizon, cfg.action_dim)
    out = {}
    for name, v in chosen.items():
        a = nets.actions(states, v if reads_values(model) else z_val[:1], state, noise)
        out[f"action_error_{name}"] = float(((a - target) ** 2).mean())
        out[f"value_total_{name}"] = float(v[..., -1].mean())
    return out


def main(model_dir: str, heldout: str, per_episode: int = 10, out_path: str | None = None) -> None:
    torch.set_num_threads(2)
    policy = WAVPolicy.load(model_dir, PlannerConfig(K=0, M=8, N=2, S=5))
    ds = WavDataset(heldout, SampleSpec.for_model(policy.cfg))
    gen = torch.Generator().manual_seed(0)
    rows = []
    for ep, ticks, start in episode_ticks(ds, per_episode):
        if not ds.data.episodes[ep].success:
            continue
        for t in ticks:
            rows.append(tick(policy, ds[start + int(t)], gen))
    keys = rows[0].keys()
    summary = {"ticks": len(rows), "mean": {k: float(np.mean([r[k] for r in rows])) for k in keys},
               "best_nearer_than_random": float(np.mean([r["action_error_best"] < r["action_error_random"] for r in rows])),
               "best_nearer_than_worst": float(np.mean([r["action_error_best"] < r["action_error_worst"] for r in rows]))}
    print(json.dumps(summary, indent=1))
    if out_path:
        with open(out_path, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 10, sys.argv[4] if len(sys.argv) > 4 else None)
