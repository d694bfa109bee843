"""`wav eval`: closed-loop episodes in the simulator; `--sweep K=0,1,3,5` runs the planning ablation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="closed-loop evaluation of a model in the simulator")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--task", default="drawer", choices=["drawer", "bowl"])
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=1000, help="first seed; episodes use seed, seed+1, ...")
    p.add_argument("--K", type=int, default=3)
    p.add_argument("--M", type=int, default=8)
    p.add_argument("--N", type=int, default=4)
    p.add_argument("--S", type=int, default=10)
    p.add_argument("--value-steps", type=int, default=0,
                   help="flow steps of the value solves (default: S); fewer cut the plan's value-expert calls")
    p.add_argument("--feature-steps", type=int, default=0,
                   help="world denoising steps before the experts read a future (0: the model's feature_time); "
                        "under conditioning future the time 1 - steps/S must lie in the model's feature_time_range")
    p.add_argument("--replan-after", type=int, default=0, help="steps of each chunk executed before replanning (0: all)")
    p.add_argument("--max-seconds", type=float, default=40.0)
    p.add_argument("--mode", default="async", choices=["async", "sync"],
                   help="async (default): the robot's behaviour, the arm moves while the planner works and a plan "
                        "arrives as late in sim time as it took in wall time; sync: plan, then execute the whole "
                        "chunk (the paper's protocol)")
    p.add_argument("--plan-latency", type=float, default=None,
                   help="async: sim seconds every plan takes to arrive, instead of its measured wall time "
                        "(reproducible runs)")
    p.add_argument("--warm-start", type=float, default=0.0, help="blend of the previous plan's Gaussians (0: cold)")
    p.add_argument("--action-temperature", type=float, default=1.0,
                   help="scale of the action flow noise (0: the chunk follows the observation and the plan alone)")
    p.add_argument("--action-noise-gated", action="store_true",
                   help="with a gated action prior: an arm the prior steers draws no flow noise")
    p.add_argument("--plan-temperature", type=float, default=1.0,
                   help="scale of the video and value noise the plan starts from (K = 0: the draw nearer the mode)")
    p.add_argument("--blind-scores", action="store_true",
                   help="control: rank each candidate by another candidate's value scores, so the plan moves "
                        "as much but ignores the value (what the value's ranking adds is the difference)")
    p.add_argument("--final", default="draw", choices=["draw", "best"],
                   help="what the chunk is decoded from: draw (the paper's) samples the final Gaussians; best takes "
                        "the last iteration's best-scored candidate, the future the value chose")
    p.add_argument("--value-noise", default="own", choices=["own", "shared"],
                   help="own (the paper's): each video candidate draws its own value noises; shared: all candidates "
                        "are scored with the same N draws, so their scores differ by their futures alone")
    p.add_argument("--video-score", default="best", choices=["best", "mean"],
                   help="what ranks a video candidate: its best value sample (the paper's) or their mean")
    p.add_argument("--sweep", help="K=0,1,3,5: the same seeds for each K; warm=0,0.5: for each warm-start blend at --K")
    p.add_argument("--config", help="YAML with a robot: section (cameras, rates) and optionally a policy: section "
                                    "(its executor and safety settings are used); default: the built-in rig")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--journal", help="append each finished episode here (JSON lines); a rerun with the same model, "
                                     "task and settings takes the episodes it holds instead of running them again, "
                                     "so a stopped evaluation resumes")
    p.add_argument("--plot", help="with --sweep: PNG of success and latency vs K (default next to --json)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads (0: torch's default; with --workers > 1: per worker, 0 means 1)")
    p.add_argument("--workers", type=int, default=1,
                   help="episodes run in this many processes, each loading the model and simulator once; "
                        "plan latencies are then measured on shared cores, use --workers 1 to report them")
    p.add_argument("--batch", type=int, default=1,
                   help="sync mode: episodes per process stepped in lockstep, their plans made in one batched call "
                        "(episodes x candidates per network batch; with --workers, each worker runs such batches); "
                        "the same episodes as one at a time, up to float round-off; needs backend torch or "
                        "torch-cudagraph")
    p.add_argument("--backend", default="torch", help="torch, torch-cudagraph, torch-compile, onnxruntime or tensorrt (falls back to torch with a warning)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def _sweep_values(spec: str) -> tuple[str, list]:
    """"K=0,1,3,5" (planning iterations) or "warm=0,0.5" (warm-start blend, at --K)."""
    key, _, vals = spec.partition("=")
    key = key.strip()
    if key not in ("K", "warm") or not vals:
        raise ValueError(f"--sweep: got {spec!r}, expected K=<comma-separated integers> such as K=0,1,3,5 "
                         f"or warm=<comma-separated blends in [0, 1]> such as warm=0,0.5")
    try:
        return key, [int(v) if key == "K" else float(v) for v in vals.split(",")]
    except ValueError:
        raise ValueError(f"--sweep: got {spec!r}, expected {'integers' if key == 'K' else 'numbers'} after {key}=") from None


def run(args: argparse.Namespace) -> int:
    from ..config.loader import load
    from ..config.robot import RobotConfig
    from ..runtime.config import policy_section
    from ..eval.closed_loop import EvalConfig, PolicySource, evaluate_sweep
    from ..bench.machine import describe
    from ..eval.report import sweep_plot, sweep_table
    from ..eval.following import following_line
    from ..planning import PlannerConfig

    if args.workers < 1:
        raise ValueError(f"--workers: got {args.workers}, expected an integer >= 1")
    if args.batch < 1:
        raise ValueError(f"--batch: got {args.batch}, expected an integer >= 1")
    if args.batch > 1 and args.mode != "sync":
        raise ValueError(f"--batch: got {args.batch} with --mode {args.mode}; batched episodes need --mode sync "
                         "(async episodes plan on their own clock and run one at a time)")
    if args.threads < 0:
        raise ValueError(f"--threads: got {args.threads}, expected >= 0 (0: the default)")
    if not Path(args.model).is_dir():
        raise FileNotFoundError(f"--model: {args.model} is not a model directory")
    if args.plan_latency is not None and args.plan_latency < 0:
        raise ValueError(f"--plan-latency: got {args.plan_latency}, expected seconds >= 0")
    robot = load(RobotConfig, args.config, section="robot") if args.config else None
    source = PolicySource(args.model, device=args.device, backend=args.backend)
    cfg = EvalConfig(task=args.task, episodes=args.episodes, seed=args.seed, max_seconds=args.max_seconds,
                     replan_after=args.replan_after, mode=args.mode, plan_latency_s=args.plan_latency)
    policy_cfg = policy_section(args.config)
    if policy_cfg is not None:
        cfg.executor, cfg.safety = policy_cfg.executor, policy_cfg.safety
    key, values = _sweep_values(args.sweep) if args.sweep else ("K", [args.K])
    planners = [PlannerConfig(K=v if key == "K" else args.K, M=args.M, N=args.N, S=args.S,
                              value_steps=args.value_steps, feature_steps=args.feature_steps, warm_start=v if key == "warm" else args.warm_start,
                              action_temperature=args.action_temperature, action_noise_gated=args.action_noise_gated,
                              plan_temperature=args.plan_temperature, blind_scores=args.blind_scores,
                              final=args.final, value_noise=args.value_noise, video_score=args.video_score)
                for v in values]
    journal = None
    if args.journal:
        from ..eval.journal import EpisodeJournal, weights_digest

        journal = EpisodeJournal(args.journal, weights_digest(args.model), cfg)
    results = evaluate_sweep(source, cfg, planners, robot, workers=args.workers, threads=args.threads or None,
                             batch=args.batch, journal=journal)
    for r in results:
        print(f"K={r['K']} warm={r['warm_start']}: success_rate {r['success_rate']:.3f}  subgoals {r['subgoal_rates']}  "
              f"mean ticks {r['mean_episode_ticks']:.0f}  plan latency median {r['plan_latency_ms']['median']:.1f} ms "
              f"p90 {r['plan_latency_ms']['p90']:.1f} ms  [{r['mode']}] holds {r['holds']}")
        if r["closest_median_m"]:
            print("  closest approach, median over episodes: "
                  + ", ".join(f"{k} {v * 100:.1f} cm" for k, v in r["closest_median_m"].items()))
        if r["target_following"]:
            print("  the tool follows the object (slope of its closest point on the object's position, "
                  "1 follows, 0 ignores): " + following_line(r["target_following"]))
    out = results[0] if len(results) == 1 else {"sweep": results, "table": sweep_table(results)}
    out["hardware"] = (f"{describe(args.device)}, {args.workers} eval worker{'s' if args.workers > 1 else ''}"
                       + (f", {args.batch} episodes per batch" if args.batch > 1 else ""))
    if len(results) > 1:
        print(sweep_table(results))
        plot = args.plot or (str(Path(args.json).with_suffix(".png")) if args.json else "eval_sweep.png")
        print(f"plot: {sweep_plot(results, plot)}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0
