"""How much could a perfect value gain by choosing among the futures the planner imagines?

At every decision of a closed-loop episode, `candidates` plans of the same observation are decoded
in one batch. They share the action's flow noise and differ in the video and value noise the
planner searches over (`vary: plan`; `video` keeps the value noise shared too, so the model's
scores differ by the futures alone; `all` varies the action noise too); candidate 0 draws the
noise the policy would draw on its own, so it is the policy's own plan (up to the float round-off of
a batched call). Each candidate chunk is played ahead in the simulator from
the current state, which is put back afterwards, and scored by how far along the task it leaves the
scene (`potential`). The episode then runs, through the robot's control loop, the candidate that
the pick rule names:

- `first`: candidate 0, the policy as it is;
- `value`: the candidate the model scores best, the value module choosing among the futures;
- `oracle`: the candidate that did best when played ahead, a perfect value choosing among them.

`oracle` against `first` is the ceiling of planning over these futures: what any value module could
gain with this world and action decoder. `value` against `oracle` is how much of it the model's own
value reaches; the per-decision rank correlation between the model's scores and the played-ahead
outcomes says why. The look-ahead runs each candidate through copies of the control loop's executor
and safety filter (`ControlLoop.preview`) until the loop would plan again, so it plays the very
set-points the episode would execute: the outcome of the candidate that runs is the state the next
decision starts from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from ..planning.noise import PlanNoise
from ..planning.policy import EpisodePolicy, PlanResult, WAVPolicy
from .closed_loop import EpisodeResult, EvalConfig, PolicySource, run_episode, summarize
from .diagnose import spearman

PICKS = ("first", "value", "oracle")
VARY = ("plan", "video", "all")


@dataclass
class HeadroomConfig:
    candidates: int = 8
    vary: str = "plan"
    """plan: candidates differ in their video and value noise; video: in their video noise alone (one
    value draw scores them all, as under `value_noise: shared`); all: in their action noise too."""
    subgoal_bonus: float = 0.2
    success_bonus: float = 1.0

    def validate(self) -> None:
        if self.candidates < 1:
            raise ValueError(f"candidates: got {self.candidates}, expected >= 1")
        if self.vary not in VARY:
            raise ValueError(f"vary: got {self.vary!r}, expected one of {list(VARY)}")


def potential(env, cfg: HeadroomConfig) -> float:
    """How far along the task the scene is, higher is better: minus the sum of the task's progress
    distances (m), plus a bonus per latched sub-goal and for success. A chunk's reach moves it by
    centimetres; a sub-goal outweighs any reach."""
    info = env.info()
    distances = env.task.progress(env.model, env.data)
    latched = sum(bool(info.get(k, False)) for k in env.task.subgoals)
    return (-float(sum(distances.values())) + cfg.subgoal_bonus * latched
            + cfg.success_bonus * bool(info["success"]))


def play_ahead(env, run, actions: np.ndarray, cfg: HeadroomConfig) -> float:
    """The potential after running `actions` from the decision in flight in `run` (an EpisodeRun)
    until its control loop would plan again, through copies of the loop's executor and safety
    filter (`ControlLoop.preview`): the set-points the episode would execute. The simulator is put
    back exactly as it was."""
    loop = run.loop
    req = loop.in_flight
    if req is None:
        raise RuntimeError("play_ahead: no decision in flight; call it while the control loop plans")
    times = ((run.step + k) * loop.dt for k in range(run.max_steps - run.step))
    saved = env.save_state()
    try:
        for command in loop.preview(req, actions, times):
            env.set_targets(command)
            env.advance(loop.dt)
        return potential(env, cfg)
    finally:
        env.restore_state(saved)


@dataclass
class Decision:
    scores: list[float]
    """The model's score (PlannerConfig.score) of each candidate's value chunk."""
    outcomes: list[float]
    """The potential after playing each candidate ahead."""
    before: float
    picked: int


class CandidatePicker(EpisodePolicy):
    """Stands in for the policy in the control loop (an episode's handle on it, always cold): plans
    `candidates` futures of each observation, plays each ahead in `env`, and returns the one `pick`
    names. `decisions` holds every decision of the current episode."""

    def __init__(self, policy: WAVPolicy, env, pick: str, settings: HeadroomConfig | None = None):
        if pick not in PICKS:
            raise ValueError(f"pick: got {pick!r}, expected one of {list(PICKS)}")
        super().__init__(policy)
        self.env, self.pick = env, pick
        self.settings = settings or HeadroomConfig()
        self.settings.validate()
        self.decisions: list[Decision] = []
        self.current: tuple | None = None
        self.run = None
        """The EpisodeRun being played (set by `run_headroom_episode`): its control loop and clock."""

    def reset(self) -> None:
        super().reset()
        self.decisions = []

    def noises(self, seed: int | None) -> list[PlanNoise]:
        """Candidate 0 draws what `policy.plan(seed=seed)` draws; the others replace its final video
        and value noise (with vary `video` the video noise alone; with `all` the action noise too) by
        draws of their own."""
        base = self.policy.sample_noise(seed)
        out = [base]
        for m in range(1, self.settings.candidates):
            g = torch.Generator(device=self.policy.device)
            if seed is None:
                g.seed()
            else:
                g.manual_seed((int(seed) * 1_000_003 + m) % (2**63 - 1))
            other = self.policy.sample_noise(generator=g)
            changes = {"final_video": other.final_video}
            if self.settings.vary != "video":
                changes["final_value"] = other.final_value
            if self.settings.vary == "all":
                changes["action"] = other.action
            out.append(dataclasses.replace(base, **changes))
        return out

    def plan(self, images: np.ndarray, state: np.ndarray, instruction: str | None = None, *,
             seed: int | None = None, warm: bool = False) -> PlanResult:
        m = self.settings.candidates
        noises = self.noises(seed)
        planned = self.policy.plan_batch([(images, state, instruction)] * m, [None] * m, noises=noises)
        results = [r for r, _ in planned]
        self.current = (images, state, instruction, noises, results)
        before = potential(self.env, self.settings)
        outcomes = [play_ahead(self.env, self.run, r.actions, self.settings) for r in results]
        scores = [float(r.score) for r in results]
        picked = self.choose(scores, outcomes)
        self.decisions.append(Decision(scores, outcomes, before, picked))
        return results[picked]

    def choose(self, scores: list[float], outcomes: list[float]) -> int:
        """The candidate to execute; `current` holds this decision's observation, noises and plans
        for rules that need more than the scores and outcomes."""
        return {"first": 0, "value": int(np.argmax(scores)), "oracle": int(np.argmax(outcomes))}[self.pick]


def decision_summary(decisions: list[Decision]) -> dict:
    """Over every decision: the rank correlation between the model's scores and the played-ahead
    outcomes of one observation's candidates, how often the model's favourite is the best one
    (chance: 1 / candidates), and what picking by value or by outcome gains over candidate 0 (m of
    potential per chunk)."""
    if not decisions:
        return {"decisions": 0}
    rho = [spearman(np.array(d.scores), np.array(d.outcomes)) for d in decisions]
    outcomes = [np.array(d.outcomes) for d in decisions]
    by_value = [int(np.argmax(d.scores)) for d in decisions]
    return {
        "decisions": len(decisions),
        "candidates": len(decisions[0].outcomes),
        "value_outcome_spearman": float(np.mean(rho)),
        "value_picks_best": float(np.mean([v == int(np.argmax(o)) for v, o in zip(by_value, outcomes)])),
        "gain_m": {"value": float(np.mean([o[v] - o[0] for v, o in zip(by_value, outcomes)])),
                   "oracle": float(np.mean([o.max() - o[0] for o in outcomes]))},
        "outcome_spread_m": float(np.mean([o.std() for o in outcomes])),
        "progress_per_chunk_m": float(np.mean([o[d.picked] - d.before for d, o in zip(decisions, outcomes)])),
    }


@dataclass
class HeadroomEpisode:
    result: EpisodeResult
    decisions: list[Decision] = field(default_factory=list)


def run_headroom_episode(policy: WAVPolicy, env, seed: int, pick: str, cfg: HeadroomConfig,
                         eval_cfg: EvalConfig) -> HeadroomEpisode:
    picker = CandidatePicker(policy, env, pick, cfg)
    result = run_episode(picker, env, seed, eval_cfg, on_start=lambda run: setattr(picker, "run", run))
    return HeadroomEpisode(result, list(picker.decisions))


_WORKER: dict = {}


def _worker_init(source: PolicySource, planner, eval_cfg: EvalConfig, cfg: HeadroomConfig, threads: int | None) -> None:
    import atexit

    from ..config.robot import RobotConfig
    from ..sim.env import SimEnv

    if threads:
        torch.set_num_threads(threads)
    env = SimEnv(eval_cfg.task, RobotConfig())
    atexit.register(env.close)
    _WORKER.update(policy=source.load(planner), env=env, eval_cfg=eval_cfg, cfg=cfg)


def _worker_job(job: tuple[str, int]) -> tuple[str, HeadroomEpisode]:
    pick, seed = job
    w = _WORKER
    return pick, run_headroom_episode(w["policy"], w["env"], seed, pick, w["cfg"], w["eval_cfg"])


def run_headroom(source: PolicySource, eval_cfg: EvalConfig, planner, picks: list[str], cfg: HeadroomConfig,
                 workers: int = 1, threads: int | None = None, journals: dict | None = None,
                 progress: bool = True) -> dict[str, list[HeadroomEpisode]]:
    """Every seed of `eval_cfg` under each pick rule, in seed order. `journals`: pick -> an
    EpisodeJournal (keyed by the pick and `cfg`); episodes it holds are not run again."""
    import sys

    from ..parallel import job_results

    cfg.validate()
    for p in picks:
        if p not in PICKS:
            raise ValueError(f"picks: got {p!r}, expected a subset of {list(PICKS)}")
    if eval_cfg.mode != "sync":
        raise ValueError(f"mode: got {eval_cfg.mode!r}; the look-ahead pauses the world while it plays "
                         "candidates, which is the sync protocol, so headroom runs need mode 'sync'")
    seeds = [eval_cfg.seed + k for k in range(eval_cfg.episodes)]
    done: dict[tuple[str, int], HeadroomEpisode] = {}
    for pick, journal in (journals or {}).items():
        for (_, seed), res in journal.load([planner]).items():
            if seed in seeds:
                extra = journal.extras.get((0, seed), {})
                done[(pick, seed)] = HeadroomEpisode(res, [Decision(**d) for d in extra.get("decisions", [])])
    jobs = [(p, s) for p in picks for s in seeds if (p, s) not in done]
    if progress and done:
        print(f"{len(done)} episodes taken from the journals", file=sys.stderr, flush=True)
    workers = max(1, min(workers, len(jobs)))
    if workers > 1 and threads is None:
        threads = 1
    with job_results(_worker_job, jobs, workers, ordered=False, initializer=_worker_init,
                     initargs=(source, planner, eval_cfg, cfg, threads)) as results:
        for pick, ep in results:
            done[(pick, ep.result.seed)] = ep
            if journals and pick in journals:
                journals[pick].append(planner, ep.result, {"decisions": [dataclasses.asdict(d) for d in ep.decisions]})
            if progress:
                r = ep.result
                print(f"[{len(done)}/{len(picks) * len(seeds)}] pick={pick} seed={r.seed} success={r.success} "
                      f"subgoals={r.subgoals} ticks={r.ticks}", file=sys.stderr, flush=True)
    return {p: [done[(p, s)] for s in seeds] for p in picks}


def headroom_summary(episodes: dict[str, list[HeadroomEpisode]], eval_cfg: EvalConfig, planner,
                     cfg: HeadroomConfig) -> dict:
    out = {"candidates": cfg.candidates, "vary": cfg.vary, "picks": {}}
    for pick, eps in episodes.items():
        s = summarize([e.result for e in eps], eval_cfg, planner)
        s["decision_stats"] = decision_summary([d for e in eps for d in e.decisions])
        out["picks"][pick] = s
    return out


def headroom_table(summary: dict) -> str:
    lines = ["| pick | success | sub-goals | closest (median, cm) | value-outcome Spearman | value picks the best "
             "| gain over candidate 0 by value / by outcome (cm) |", "|---|---|---|---|---|---|---|"]
    for pick, s in summary["picks"].items():
        d = s["decision_stats"]
        sub = ", ".join(f"{k} {v:.0%}" for k, v in s["subgoal_rates"].items())
        closest = ", ".join(f"{k} {v * 100:.1f}" for k, v in s["closest_median_m"].items())
        if d.get("decisions"):
            stats = (f"{d['value_outcome_spearman']:.2f} | {d['value_picks_best']:.0%} (chance {1 / d['candidates']:.0%}) "
                     f"| {d['gain_m']['value'] * 100:.2f} / {d['gain_m']['oracle'] * 100:.2f}")
        else:
            stats = "- | - | -"
        lines.append(f"| {pick} | {s['success_rate']:.0%} | {sub} | {closest} | {stats} |")
    return "\n".join(lines)


def headroom_plot(episodes: dict[str, list[HeadroomEpisode]], path) -> "Path":
    """Left: success and sub-goal rates per pick rule. Right: each candidate's model score against
    what it did when played ahead, both relative to its decision's mean: a value that ranks one
    tick's futures puts these points on a rising line."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    picks = list(episodes)
    names = ["success"] + sorted({k for eps in episodes.values() for e in eps for k in e.result.subgoals})
    width = 0.8 / max(1, len(picks))
    for i, pick in enumerate(picks):
        res = [e.result for e in episodes[pick]]
        rates = [np.mean([r.success if n == "success" else r.subgoals.get(n, False) for r in res]) for n in names]
        ax1.bar(np.arange(len(names)) + i * width, rates, width, label=pick)
    ax1.set_xticks(np.arange(len(names)) + width * (len(picks) - 1) / 2, names)
    ax1.set_ylim(0, 1)
    ax1.set_ylabel(f"rate over {len(next(iter(episodes.values())))} seeds")
    ax1.legend(fontsize=8)
    xs, ys = [], []
    for eps in episodes.values():
        for e in eps:
            for d in e.decisions:
                s, o = np.array(d.scores), np.array(d.outcomes)
                if s.std() > 0:
                    xs += list((s - s.mean()) / s.std())
                    ys += list((o - o.mean()) * 100)
    ax2.scatter(xs, ys, s=4, alpha=0.3)
    ax2.axhline(0, color="grey", lw=0.5)
    ax2.set_xlabel("model score, standardised within the decision")
    ax2.set_ylabel("outcome − decision mean (cm)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
