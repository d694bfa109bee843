"""Run 12: can a scorer learn from the look-ahead to rank one decision's candidates?

collect: the policy's own episodes (pick `first`), recording for every candidate of every decision
  the world module's pooled features of its imagined future, its decoded chunk relative to the
  state, the state, and its played-ahead outcome.
fit: a small network on those inputs, trained to predict each candidate's outcome relative to its
  decision's mean, on the episodes of some seeds; the within-decision Spearman on the others.
eval: closed-loop episodes that execute the candidate the fitted scorer ranks first.

  python docs/headroom/critic.py collect OUT.npz MODEL FIRST_SEED EPISODES [VARY]
  python docs/headroom/critic.py fit CRITIC.safetensors DATA.npz VALIDATION_EPISODES
  python docs/headroom/critic.py eval OUT.json MODEL CRITIC.safetensors FIRST_SEED EPISODES [VARY]
"""
import json
import os
import sys

import numpy as np
import torch

from wav_core.eval.closed_loop import EvalConfig, PolicySource, run_episode, summarize
from wav_core.eval.diagnose import spearman
from wav_core.eval.headroom import CandidatePicker, HeadroomConfig, decision_summary
from wav_core.parallel import job_results
from wav_core.planning import PlannerConfig

PLANNER = PlannerConfig(K=0, M=8, N=2, S=5)
EVAL = EvalConfig(task="drawer", episodes=1, max_seconds=float(os.environ.get("MAX_SECONDS", 20)), mode="sync")


def candidate_inputs(picker) -> np.ndarray:
    """[candidates, features]: pooled world features of each imagined future, the chunk minus the
    state (robot units), and the state."""
    images, state, instruction, noises, results = picker.current
    policy = picker.policy
    hist, _, instruction = policy._inputs(images, state, instruction)
    backend = policy.planner.backend
    with torch.no_grad():
        ctx = backend.context(hist[None], [instruction])
        states = backend.features(ctx, torch.cat([n.final_video for n in noises]))
        pooled = states[-1].mean(dim=1).cpu().numpy()
    chunks = np.stack([(r.actions - state[None]).ravel() for r in results])
    return np.concatenate([pooled, chunks, np.repeat(state[None], len(results), 0)], axis=1).astype(np.float32)


class Critic(torch.nn.Module):
    def __init__(self, n_in: int, hidden: int = 128):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_in))
        self.register_buffer("std", torch.ones(n_in))
        self.net = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, hidden),
                                       torch.nn.GELU(), torch.nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net((x - self.mean) / self.std).squeeze(-1)


class RecordingPicker(CandidatePicker):
    critic: Critic | None = None

    def choose(self, scores, outcomes):
        x = candidate_inputs(self)
        self.rows.append((x, np.array(outcomes, dtype=np.float32)))
        if self.critic is None:
            return 0
        with torch.no_grad():
            return int(torch.argmax(self.critic(torch.from_numpy(x))))


_W = {}


def _init(model, vary, critic_path):
    from wav_core.config.robot import RobotConfig
    from wav_core.sim.env import SimEnv

    torch.set_num_threads(1)
    _W["policy"] = PolicySource(model).load(PLANNER)
    _W["env"] = SimEnv("drawer", RobotConfig())
    _W["vary"] = vary
    _W["critic"] = load_critic(critic_path) if critic_path else None


def _episode(seed):
    picker = RecordingPicker(_W["policy"], _W["env"], "first", HeadroomConfig(candidates=8, vary=_W["vary"]))
    picker.critic, picker.rows = _W["critic"], []
    res = run_episode(picker, _W["env"], seed, EVAL, on_start=lambda run: setattr(picker, "run", run))
    return seed, res, picker.decisions, picker.rows


def run(model, first, episodes, vary, critic_path=None):
    out = []
    with job_results(_episode, list(range(first, first + episodes)), 2, ordered=False, initializer=_init,
                     initargs=(model, vary, critic_path)) as results:
        for seed, res, decisions, rows in results:
            print(f"seed {seed}: opened {res.subgoals.get('opened')} success {res.success}", file=sys.stderr, flush=True)
            out.append((seed, res, decisions, rows))
    return sorted(out, key=lambda r: r[0])


def collect(path, model, first, episodes, vary="all"):
    xs, ys, dec, eps = [], [], [], []
    d = 0
    for seed, _, _, rows in run(model, int(first), int(episodes), vary):
        for x, y in rows:
            xs.append(x), ys.append(y), dec.append(np.full(len(y), d)), eps.append(np.full(len(y), seed))
            d += 1
    np.savez(path, x=np.concatenate(xs), y=np.concatenate(ys), decision=np.concatenate(dec), seed=np.concatenate(eps))


def centred(y, decision):
    out = y.copy()
    for d in np.unique(decision):
        m = decision == d
        out[m] -= y[m].mean()
    return out


def within_spearman(pred, y, decision):
    return float(np.mean([spearman(pred[decision == d], y[decision == d]) for d in np.unique(decision)]))


def fit(path, *data_and_validation):
    *data, n_val = data_and_validation
    parts = [np.load(p, allow_pickle=False) for p in data]
    offset, x, y, dec, seeds = 0, [], [], [], []
    for p in parts:
        x.append(p["x"]), y.append(p["y"]), dec.append(p["decision"] + offset), seeds.append(p["seed"])
        offset += int(p["decision"].max()) + 1
    x, y, dec, seeds = (np.concatenate(a) for a in (x, y, dec, seeds))
    val_seeds = np.unique(seeds)[-int(n_val):]
    val = np.isin(seeds, val_seeds)
    target = centred(y, dec) * 100  # cm
    torch.manual_seed(0)
    critic = Critic(x.shape[1])
    critic.mean.copy_(torch.from_numpy(x[~val].mean(0)))
    critic.std.copy_(torch.from_numpy(x[~val].std(0) + 1e-6))
    opt = torch.optim.AdamW(critic.parameters(), lr=1e-3, weight_decay=1e-2)
    xt, yt = torch.from_numpy(x[~val]), torch.from_numpy(target[~val])
    best, best_state, log = -2.0, None, []
    for epoch in range(60):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 256):
            idx = perm[i:i + 256]
            loss = torch.nn.functional.mse_loss(critic(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            pred = critic(torch.from_numpy(x)).numpy()
        rho_train = within_spearman(pred[~val], y[~val], dec[~val])
        rho_val = within_spearman(pred[val], y[val], dec[val])
        log.append((epoch, rho_train, rho_val))
        if rho_val > best:
            best, best_state = rho_val, {k: v.clone() for k, v in critic.state_dict().items()}
    critic.load_state_dict(best_state)
    from safetensors.torch import save_file

    save_file(critic.state_dict(), path)
    pv = critic(torch.from_numpy(x[val])).detach().numpy()
    picks_best = np.mean([np.argmax(pv[dec[val] == d]) == np.argmax(y[val][dec[val] == d]) for d in np.unique(dec[val])])
    print(json.dumps({"candidates": int(len(y)), "train_seeds": [int(s) for s in np.unique(seeds[~val])],
                      "validation_seeds": [int(s) for s in val_seeds], "best_validation_spearman": round(best, 3),
                      "validation_picks_best": round(float(picks_best), 3),
                      "epochs": [(e, round(a, 3), round(b, 3)) for e, a, b in log[::5]]}, indent=1))


def load_critic(path):
    from safetensors.torch import load_file

    state = load_file(path)
    critic = Critic(state["mean"].shape[0])
    critic.load_state_dict(state)
    return critic.eval()


def evaluate(out, model, critic_path, first, episodes, vary="all"):
    eps = run(model, int(first), int(episodes), vary, critic_path)
    s = summarize([r for _, r, _, _ in eps], EVAL, PLANNER)
    s["decision_stats"] = decision_summary([d for _, _, ds, _ in eps for d in ds])
    preds = []
    critic = load_critic(critic_path)
    with torch.no_grad():
        for _, _, _, rows in eps:
            for x, y in rows:
                preds.append(spearman(critic(torch.from_numpy(x)).numpy(), y))
    s["critic_outcome_spearman"] = float(np.mean(preds))
    json.dump(s, open(out, "w"), indent=1)
    print(json.dumps({k: s[k] for k in ("success_rate", "subgoal_rates", "closest_median_m", "critic_outcome_spearman",
                                        "stopped_episodes")}, indent=1))


if __name__ == "__main__":
    {"collect": collect, "fit": fit, "eval": evaluate}[sys.argv[1]](*sys.argv[2:])
