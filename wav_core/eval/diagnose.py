"""Does the plan reach the action? Sensitivity of the decoded chunk to each of the plan's noises.

A plan chooses a video noise and a value noise; the action expert then decodes with its own flow
noise. If the decoded chunk barely moves when the video or the value noise changes, planning cannot
change what the robot does, whatever the planner finds. At each observation the decode the planner
runs (`iteration.decode`) is repeated with one noise varied and the others held fixed:

- action_spread.{video,value,action_noise}: std of the normalised action chunk across the variants,
  averaged over steps and joints;
- value_spread.video: std across video variants of the predicted total value (normalised, mean
  over the chunk), at a fixed value noise: whether the value module tells futures apart; .value, the
  same across value noises at a fixed future: how much a candidate's score is its draws' luck;
- plan_effect: what a K-iteration plan changes against K = 0 from the same noise (action noise off):
  the chosen candidate's score under the paper's final draw, under `final: best` and under
  `final: best` with candidates scored on shared value draws by their mean (`paired`), the best score
  the search saw, and how far each moves the normalised chunk (mean absolute change, the units of
  action_spread): a value that finds better futures moves the score; an action that follows them
  moves the chunk;
- value_rank.spearman: rank correlation of predicted and true reward-to-go on held-out episodes;
- tokenizer: reconstruction error of the observations' frames, overall and on their most detailed
  pixels (tokenizer_check.py): whether the latents every stage reads still hold the small objects;
- value_readout (held-out data): the same ranking for the mean of several value draws, given imagined
  futures and (`future` conditioning) the true future, and how often the true future scores above a
  still one (see value_readout.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..planning.iteration import Chosen, Networks, decode
from ..planning.noise import PlanNoise
from ..planning.planner import LatentPlanner, reads_values
from ..planning.policy import WAVPolicy
from .tokenizer_check import tokenizer_check

SOURCES = ("video", "value", "action_noise")


@dataclass
class Observation:
    images: np.ndarray  # [V, n_history, H, W, 3] uint8 at the model resolution
    state: np.ndarray  # [14] robot units
    instruction: str


def _inputs(policy: WAVPolicy, obs: Observation):
    """The observation as the planner takes it: its context and the normalised state [1, S]."""
    dev = policy.device
    hist = torch.from_numpy(np.ascontiguousarray(obs.images)).to(dev).permute(0, 1, 4, 2, 3).float() / 255.0
    ctx = policy.planner.backend.context(hist[None], [obs.instruction])
    state = policy.card.normalization.state(torch.as_tensor(np.asarray(obs.state, dtype=np.float32), device=dev))
    return ctx, state[None]


@torch.no_grad()
def spreads_at(policy: WAVPolicy, obs: Observation, variants: int = 8, seed: int = 0) -> dict[str, float]:
    """The spreads at one observation (keys: the three action sources and `value_video`)."""
    if variants < 2:
        raise ValueError(f"variants: got {variants}, expected >= 2")
    model, dev = policy.model, policy.device
    cfg = model.cfg
    backend = policy.planner.backend
    ctx, state = _inputs(policy, obs)
    state = state.expand(variants, -1)
    gen = torch.Generator(device=dev).manual_seed(seed)

    def draw(*shape):
        return torch.randn(*shape, generator=gen, device=dev)

    base = {"video": draw(1, *cfg.future_latent_shape), "value": draw(1, *cfg.value_shape),
            "action_noise": draw(1, cfg.action_horizon, cfg.action_dim)}
    fresh = {k: draw(variants, *v.shape[1:]) for k, v in base.items()}
    nets = Networks.of(backend)
    empty = torch.zeros(0, device=dev)
    out = {}
    for source in SOURCES:
        pick = {k: (fresh[k] if k == source else v.expand(variants, *v.shape[1:])) for k, v in base.items()}
        noise = PlanNoise(video=empty, value=empty, final_video=pick["video"], final_value=pick["value"],
                          action=pick["action_noise"])
        actions, values = decode(nets, ctx, Chosen(pick["video"], pick["value"]), noise, state, reads_values(model))
        out[source] = float(actions.std(dim=0, correction=0).mean())
        if source in ("video", "value"):
            out[f"value_{source}"] = float(values[..., -1].mean(dim=1).std(correction=0))
    return out


@torch.no_grad()
def plan_effect_at(policy: WAVPolicy, obs: Observation, k: int, seed: int = 0) -> dict[str, float]:
    """K = 0, K = k with the final draw, with the best candidate, and with the best candidate of
    candidates scored on shared value draws by their mean (`paired`), all from one noise draw."""
    model, norm, dev = policy.model, policy.card.normalization, policy.device
    ctx, state = _inputs(policy, obs)
    base = replace(policy.planner.cfg, K=k, action_temperature=0.0, deadline_ms=0.0, warm_start=0.0, final="draw",
                   blind_scores=False, value_noise="own", video_score="best")
    noise = PlanNoise.sample(model.cfg, base, torch.Generator(device=dev).manual_seed(seed), dev)
    plans = {}
    paired = replace(base, final="best", value_noise="shared", video_score="mean")
    for name, cfg in (("K0", replace(base, K=0)), ("draw", base), ("best", replace(base, final="best")),
                      ("paired", paired)):
        n = noise if cfg.K else PlanNoise(noise.video[:0], noise.value[:0], noise.final_video, noise.final_value,
                                          noise.action)
        plans[name] = LatentPlanner(model, norm, cfg).plan(ctx, state, n)
    out = {f"score_{name}": float(p.chosen_score) for name, p in plans.items()}
    out["score_seen_best"] = float(max(plans["best"].best_snr)) if plans["best"].best_snr else out["score_K0"]
    for name in ("draw", "best", "paired"):
        out[f"chunk_{name}"] = float((plans[name].actions - plans["K0"].actions).abs().mean())
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation (average ranks for ties); 0 when either side is constant."""
    def ranks(x):
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(len(x))
        for v in np.unique(x):
            same = x == v
            r[same] = r[same].mean()
        return r

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def diagnose(policy: WAVPolicy, observations: list[Observation], variants: int = 8, seed: int = 0,
             calibration: dict | None = None, plan_k: int = 0) -> dict:
    """Mean spreads over `observations`, the value ranking from a `value_calibration` result, and with
    plan_k > 0 what a plan of that many iterations changes (`plan_effect`)."""
    if not observations:
        raise ValueError("observations: none given; diagnose needs at least one observation")
    per = [spreads_at(policy, o, variants, seed + i) for i, o in enumerate(observations)]
    result = {
        "observations": len(observations), "variants": variants,
        "conditioning": policy.cfg.conditioning,
        "action_spread": {s: float(np.mean([p[s] for p in per])) for s in SOURCES},
        "value_spread": {s: float(np.mean([p[f"value_{s}"] for p in per])) for s in ("video", "value")},
        "tokenizer": tokenizer_check(policy.model, [o.images for o in observations]),
    }
    if plan_k > 0:
        effects = [plan_effect_at(policy, o, plan_k, seed + i) for i, o in enumerate(observations)]
        result["plan_effect"] = {"K": plan_k, **{key: float(np.mean([e[key] for e in effects])) for key in effects[0]},
                                 "best_above_draw": float(np.mean([e["score_best"] > e["score_draw"] for e in effects]))}
    if calibration is not None:
        true = [p["true"] for p in calibration["points"]]
        pred = [p["predicted"] for p in calibration["points"]]
        result["value_rank"] = {"spearman": spearman(np.array(true), np.array(pred)),
                                "pearson": calibration["pearson_r"], "points": len(true)}
    return result


def dataset_observations(policy: WAVPolicy, dataset_dir, ticks_per_episode: int = 5,
                         max_episodes: int | None = None) -> list[Observation]:
    """Evenly spaced ticks of each episode of an imported dataset, as the policy sees them."""
    from ..data.torch_dataset import SampleSpec, WavDataset

    check_dataset_matches(policy, dataset_dir)
    ds = WavDataset(str(dataset_dir), SampleSpec.for_model(policy.cfg))
    from .held_out import episode_ticks

    out = []
    for _, ticks, start in episode_ticks(ds, ticks_per_episode, max_episodes):
        for t in ticks:
            sample = ds[start + int(t)]
            images = (sample["history"].permute(0, 1, 3, 4, 2).numpy() * 255).round().astype(np.uint8)
            out.append(Observation(images, sample["state"].numpy().astype(np.float64), sample["instruction"]))
    return out


def check_dataset_matches(policy: WAVPolicy, dataset_dir) -> None:
    """A dataset the model cannot read fails here, naming the mismatch."""
    from ..data.dataset import load_dataset

    data = load_dataset(dataset_dir)
    missing = [v for v in policy.cfg.views if v not in data.cameras]
    if missing:
        raise ValueError(f"{dataset_dir}: cameras {missing} of the model are not in the dataset (it has {data.cameras})")
    if len(data.joint_names) != policy.cfg.state_dim:
        raise ValueError(f"{dataset_dir}: {len(data.joint_names)} joints {data.joint_names}, "
                         f"the model expects {policy.cfg.state_dim} {policy.card.joints}")


def report_lines(result: dict) -> list[str]:
    a, v = result["action_spread"], result["value_spread"]
    lines = [f"conditioning {result['conditioning']}: {result['observations']} observations x {result['variants']} variants",
             "spread of the decoded action chunk (normalised units) when only this noise varies:",
             f"  video noise   {a['video']:.4f}", f"  value noise   {a['value']:.4f}",
             f"  action noise  {a['action_noise']:.4f}",
             f"spread of the predicted total value across video noises: {v['video']:.4f}, across value noises: "
             f"{v['value']:.4f}"]
    if "plan_effect" in result:
        e = result["plan_effect"]
        lines += [f"a plan of K = {e['K']} against K = 0 (same noise, action noise off): chosen score (normalised "
                  f"total value) {e['score_K0']:.3f} at K = 0, {e['score_draw']:.3f} with the final draw, "
                  f"{e['score_best']:.3f} with the best candidate (best seen {e['score_seen_best']:.3f}), "
                  f"{e['score_paired']:.3f} ranked on shared value draws",
                  f"  the chunk moves {e['chunk_draw']:.4f} (final draw), {e['chunk_best']:.4f} (best candidate) and "
                  f"{e['chunk_paired']:.4f} (shared draws), mean absolute change in normalised units"]
    if "tokenizer" in result:
        t = result["tokenizer"]
        ratio = "n/a" if t["detail_ratio"] is None else f"{t['detail_ratio']:.1f}x"
        lines.append(f"tokenizer reconstruction error (MSE) over {t['frames']} frames: {t['mse']:.4f}; on the "
                     f"{t['detail_fraction']:.0%} most detailed pixels {t['detail_mse']:.4f} ({ratio})")
    if "value_rank" in result:
        r = result["value_rank"]
        lines.append(f"value ranking on held-out ticks: spearman {r['spearman']:.3f}, pearson {r['pearson']:.3f} "
                     f"({r['points']} ticks)")
    if "value_readout" in result:
        r = result["value_readout"]
        for source, what in (("imagined", "imagined futures"), ("true_future", "the true future")):
            if source in r:
                lines.append(f"value ranking given {what} (mean of {r['samples']} draws): spearman "
                             f"{r[source]['spearman']:.3f}, pearson {r[source]['pearson']:.3f}")
        if "true_beats_still" in r:
            b = r["true_beats_still"]
            won = "no successful episode" if b["successes"] is None else f"{b['successes']:.0%} of {b['success_ticks']} ticks of successes"
            lines.append(f"the true future scores above a still one: {won}, {b['all']:.0%} of all ticks")
        if "shifted" in r:
            sh = r["shifted"]
            ratio = "n/a" if sh["change_ratio"] is None else f"{sh['change_ratio']:.2f}"
            lines.append(f"the future {sh['shift_ticks']} ticks later scores above the one {sh['shift_ticks']} ticks "
                         f"earlier: {sh['later_beats_earlier']:.0%} of {sh['ticks']} ticks; the score moves {ratio} "
                         "of the true change")
    if a["video"] < 0.05 * max(a["action_noise"], 1e-12) and a["value"] < 0.05 * max(a["action_noise"], 1e-12):
        lines.append("the plan barely reaches the action: planning cannot change what the robot does")
    return lines
