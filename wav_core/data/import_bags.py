"""rosbag2 -> dataset: one bag is one episode, sampled at tick_hz by the ObservationAssembler.

Topics, joint order, rates and tolerances come from the `robot:` section of the rig YAML the live
node uses. Actions come from the per-arm command topics (action_source 'command', when every arm's
command topic is in the bag), else from the next kept tick's joint feedback ('feedback'; the last
tick repeats its own state). Episode success, sub-goals and quality mode come from `summary.json`
beside the bags (see `outcomes.py`), else the episode is assumed successful (a demonstration).
Failed episodes are imported like any other: their rewards and value targets are computed the same
way, so the value module sees what failure looks like.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config.robot import RobotConfig
from ..parallel import job_results
from ..runtime.config import SafetyConfig
from .bags import Bag, find_bags, open_bag
from .builder import DatasetBuilder, EpisodeRecorder
from .config import DataConfig
from .errors import DataError
from .executable import LimitExcess, describe_excess, limit_excess
from .outcomes import EpisodeOutcome, episode_outcome
from .replay import BagReplay


@dataclass
class ImportSummary:
    out: Path
    episodes: list[dict[str, Any]] = field(default_factory=list)
    dropped_ticks: Counter = field(default_factory=Counter)
    dropped_messages: Counter = field(default_factory=Counter)
    limits: list[LimitExcess] = field(default_factory=list)
    """Each episode's commands against the control loop's safety limits (see executable.py)."""
    safety: SafetyConfig = field(default_factory=SafetyConfig)

    @property
    def ticks(self) -> int:
        return sum(e["ticks"] for e in self.episodes)

    def format(self) -> str:
        lines = [f"{self.out}: {len(self.episodes)} episodes, {self.ticks} ticks kept, {sum(self.dropped_ticks.values())} dropped"]
        for reason, n in sorted(self.dropped_ticks.items()):
            lines.append(f"  dropped {n:6d}  {reason}")
        for reason, n in sorted(self.dropped_messages.items()):
            lines.append(f"  skipped message {n:6d}  {reason}")
        lines += describe_excess(self.limits, self.safety)
        return "\n".join(lines)


def import_bag(bag: Bag, robot: RobotConfig, rec: EpisodeRecorder, cfg: DataConfig, progress: bool = False) -> BagReplay:
    """Stream one bag into `rec`; returns the finished replay (drop counters, action source)."""
    replay = BagReplay(bag, robot, cfg.lookahead_s, progress=progress)
    for tick in replay:
        rec.add(tick.observation.images, tick.observation.state, (tick.observation.time_ns - replay.start_ns) / 1e9, tick.action)
    if replay.instruction is not None:
        rec.instruction = replay.instruction
    if len(rec) == 0:
        detail = f"; last conversion error: {replay.last_error}" if replay.last_error else ""
        raise DataError(f"{bag.path}: no tick was kept (dropped: {dict(replay.dropped_ticks) or 'none'}){detail}")
    rec.start_ns = replay.start_ns
    return replay


def feedback_actions(states: np.ndarray) -> np.ndarray:
    """Action of each tick = the next kept tick's joint feedback; the last tick repeats its state."""
    return np.concatenate([states[1:], states[-1:]], axis=0)


@dataclass
class _Job:
    index: int
    bag: Path
    outcome: EpisodeOutcome | None
    episode_path: Path
    robot: RobotConfig
    cfg: DataConfig


def _import_episode(job: _Job) -> tuple[dict[str, Any], dict[str, np.ndarray], Counter, Counter]:
    """One bag into its episode file: (entry, the recorder's arrays, dropped ticks, skipped messages).
    Runs in the importing process or in a worker; either way the file is complete when it returns."""
    cams = [c.name for c in job.robot.cameras]
    with open_bag(job.bag, job.cfg.typestore) as bag:
        rec = EpisodeRecorder(job.episode_path, cams, job.cfg, str(job.bag), job.robot.instruction)
        try:
            replay = import_bag(bag, job.robot, rec, job.cfg)
            actions = feedback_actions(np.stack(rec.states)) if replay.action_source == "feedback" else None
            entry = rec.finish(True if job.outcome is None else job.outcome.success, dict(replay.dropped_ticks), actions)
        except BaseException:
            rec.abort()
            raise
    entry["action_source"] = replay.action_source
    entry["success_source"] = "assumed" if job.outcome is None else "summary.json"
    if job.outcome is not None:
        entry["subgoals"] = job.outcome.subgoals
        if job.outcome.quality is not None:
            entry["quality"] = job.outcome.quality
    entry["start_ns"] = rec.start_ns
    return entry, rec.arrays, Counter(replay.dropped_ticks), Counter(replay.dropped_messages)


def import_bags(bags: list[str | Path], robot: RobotConfig, out: str | Path, cfg: DataConfig | None = None,
                overwrite: bool = False, progress: bool = False, workers: int = 1,
                safety: SafetyConfig | None = None) -> ImportSummary:
    """Import bags (or folders of bags) into a new dataset at `out`; all-or-nothing.

    The summary measures every episode's commands against `safety` (default: the runtime defaults),
    the limits the control loop will execute a policy trained on them under.

    `workers` > 1 imports that many bags at once, one process each (decoding, resizing and JPEG
    encoding are CPU-bound); episode order and content are the same as with one worker."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: got {workers!r}, expected an integer >= 1")  # before any bag is read
    cfg = cfg or DataConfig()
    paths = find_bags(list(bags))
    outcomes = [episode_outcome(p) for p in paths]
    summary = ImportSummary(Path(out), safety=safety or SafetyConfig())
    cameras = [{"name": c.name, "height": c.height, "width": c.width, "topic": c.topic} for c in robot.cameras]
    with DatasetBuilder(out, cameras, robot.joint_names, robot.tick_hz, cfg, overwrite, {"source_kind": "rosbag2"}) as builder:
        jobs = [_Job(i, Path(p), o, builder.episode_path(i), robot, cfg) for i, (p, o) in enumerate(zip(paths, outcomes))]
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(jobs), desc="bags", unit="bag")
        # In episode order, whatever order they finish in.
        with job_results(_import_episode, jobs, workers) as results:
            try:
                for entry, arrays, dropped, skipped in results:
                    builder.adopt(entry, arrays)
                    summary.episodes.append(entry)
                    summary.dropped_ticks.update(dropped)
                    summary.dropped_messages.update(skipped)
                    summary.limits.append(limit_excess(arrays["action"], robot.tick_hz, summary.safety))
                    if bar is not None:
                        bar.update(1)
            finally:
                if bar is not None:
                    bar.close()
    return summary
