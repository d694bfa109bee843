"""Offline replay: a recorded run streamed through the ControlLoop the live node runs, on bag time.

Every kept tick of the bag is observed; the loop plans in sync mode (the bag waits for the
planner) at its decision ticks (every `replan_after` grid ticks, in bag time) with the loop's seed
rule, so a rerun gives the same metrics.json. Outputs in `out`: metrics.json, timing.json (wall-clock
numbers, which vary run to run), the plots and index.html, and the `predictions` bag.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config.loader import ConfigError
from ..config.robot import RobotConfig
from ..data.assembler import NS
from ..data.bags import STRING_TYPE, open_bag
from ..data.errors import DataError
from ..data.replay import BagReplay
from ..runtime.control_loop_rules import check_model
from .config import ReplayConfig
from .metrics import Decision, Recording, summarize

METRICS_FILE = "metrics.json"
TIMING_FILE = "timing.json"
PREDICTIONS_DIR = "predictions"


class Runtime(Protocol):
    """What the control loop needs of a runtime: `PolicyRuntime` or a stand-in such as an oracle."""

    instruction: str

    def observe(self, images: dict[str, np.ndarray], state: np.ndarray) -> None: ...

    def snapshot(self): ...

    def plan_snapshot(self, snap, seed: int | None = None, warm: bool = False): ...  # -> Chunk

    def reset(self) -> None: ...


@dataclass
class ReplayResult:
    out: Path
    metrics: dict
    timing: dict


def replay_bag(bag_path: str | Path, out: str | Path, robot: RobotConfig, policy, cfg: ReplayConfig | None = None,
               runtime: Runtime | None = None, progress: bool = False) -> ReplayResult:
    """Replay `bag_path` with `policy` (a WAVPolicy) and write the outputs into `out`.

    `runtime` replaces `PolicyRuntime(policy)` as the source of plans (an oracle, an instrumented
    runtime); `policy` still supplies the model card (cameras, joints, horizon) and planner settings.
    A bag that cannot be read, or breaks part-way, still gets every output for the ticks read so far
    with `complete: false` and the `error`; then the error is raised.
    """
    from ..runtime.config import ExecutorConfig, PolicyConfig
    from ..runtime.control_loop import ControlLoop
    from ..runtime.control_loop_planner import InlinePlanner

    cfg = cfg or ReplayConfig()
    cfg.validate()
    robot.validate()
    check_model(robot, policy.card)
    horizon = policy.cfg.action_horizon
    replan = cfg.replan_after or horizon
    if replan > horizon:
        raise ConfigError(f"replan_after: got {replan}, expected <= the model's action horizon {horizon}")
    bag_path, out = Path(bag_path), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    loop = ControlLoop(PolicyConfig(seed=cfg.seed, executor=ExecutorConfig(mode="sync", replan_after=replan)), robot,
                       policy, robot.instruction or None, runtime=runtime)
    runtime = loop.runtime
    planner = InlinePlanner(loop)
    joints = list(policy.card.joints)
    period = int(round(NS / robot.tick_hz))

    decisions: list[Decision] = []
    rec = Recording()
    replay: BagReplay | None = None
    topics: list[str] = []
    error: BaseException | None = None
    started = time.perf_counter()
    try:
        with open_bag(bag_path, cfg.typestore) as bag:
            replay = BagReplay(bag, robot, cfg.lookahead_s, progress=progress)
            topics = list(replay.assembler.topics) + (replay.sampler.topics if replay.sampler else [])
            if bag.topics.get(robot.instruction_topic) == STRING_TYPE:
                topics.append(robot.instruction_topic)
            for tick in replay:
                obs = tick.observation
                grid = int(round((obs.time_ns - replay.start_ns) / period))
                rec.states[grid] = obs.state
                if tick.action is not None:
                    rec.commands[grid] = tick.action
                if replay.instruction:
                    runtime.instruction = replay.instruction
                now = obs.time_ns / NS
                loop.observe(obs.images, obs.state, now)
                for info, chunk in planner.step(now):
                    actions = np.asarray(chunk.actions, dtype=np.float64)
                    if actions.shape != (horizon, len(joints)):
                        raise ValueError(f"runtime plan: got actions of shape {actions.shape}, expected ({horizon}, {len(joints)})")
                    decisions.append(Decision(info["decision"], grid, obs.time_ns, info["seed"], actions, info["value_total"],
                                              info["snr"], info["latency_ms"], info["iterations"],
                                              info["iteration_best_snr"], info["iteration_mean_snr"], info["timings_ms"]))
        if not rec.states:
            detail = f"; last conversion error: {replay.last_error}" if replay.last_error else ""
            raise DataError(f"{bag_path}: no tick was kept (dropped: {dict(replay.dropped_ticks) or 'none'}){detail}")
    except (Exception, KeyboardInterrupt) as exc:
        error = exc
    wall_s = time.perf_counter() - started

    source = replay.action_source if replay is not None else robot.action_source
    metrics = summarize(decisions, rec, source, joints, horizon, cfg.gripper_threshold_m)
    ticks = sorted(rec.states)
    metrics.update(
        complete=error is None,
        error=None if error is None else str(error),
        bag=str(bag_path),
        model=str(getattr(policy, "directory", None) or "<in-memory policy>"),
        seed=cfg.seed,
        replan_after=replan,
        action_horizon=horizon,
        planner=asdict(policy.planner.cfg),
        action_source=source,
        instruction=getattr(runtime, "instruction", None),
        joints=joints,
        tick_hz=robot.tick_hz,
        ticks=len(ticks),
        start_ns=None if replay is None else replay.start_ns,
        dropped_ticks=dict(sorted(replay.dropped_ticks.items())) if replay is not None else {},
        gripper_threshold_m=cfg.gripper_threshold_m,
    )
    bag_s = (ticks[-1] - ticks[0] + 1) / robot.tick_hz if ticks else 0.0
    timing = {
        "wall_s": wall_s,
        "bag_s": bag_s,
        "decisions": len(decisions),
        "decisions_per_s": len(decisions) / wall_s if wall_s > 0 else 0.0,
        "real_time_factor": bag_s / wall_s if wall_s > 0 else 0.0,
        "realtime_decisions_per_s": robot.tick_hz / replan,
        "plan_s": sum(d.latency_ms for d in decisions) / 1000,
        "stream_s": wall_s - sum(d.latency_ms for d in decisions) / 1000,
        "plan_latency_ms": metrics["plan_latency_ms"],
        "plan_latency_ms_each": [d.latency_ms for d in decisions],
    }
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    (out / TIMING_FILE).write_text(json.dumps(timing, indent=2))
    if cfg.write_report:
        from .report import write_report

        write_report(out, metrics, decisions, rec, joints, robot.tick_hz)
    if cfg.write_predictions:
        from .predictions import write_predictions

        copy_error = write_predictions(out / PREDICTIONS_DIR, bag_path, topics, decisions, joints, robot.tick_hz, cfg.typestore)
        if copy_error and error is None:
            metrics.update(complete=False, error=copy_error)
            (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    if error is not None:
        raise error
    return ReplayResult(out, metrics, timing)
