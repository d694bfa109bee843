"""rosbag2 -> dataset: one bag is one episode, sampled at tick_hz by the ObservationAssembler.

Topics, joint order, rates and tolerances come from the `robot:` section of the rig YAML the live
node uses. Actions come from the per-arm command topics (action_source 'command', when every arm's
command topic is in the bag), else from the next kept tick's joint feedback ('feedback'; the last
tick repeats its own state). Episode success comes from `summary.json` beside the bags
(`expert_success`), else the episode is assumed successful (a demonstration).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config.robot import RobotConfig
from .bags import Bag, episode_success, find_bags, open_bag
from .builder import DatasetBuilder, EpisodeRecorder
from .config import DataConfig
from .errors import DataError
from .replay import BagReplay


@dataclass
class ImportSummary:
    out: Path
    episodes: list[dict[str, Any]] = field(default_factory=list)
    dropped_ticks: Counter = field(default_factory=Counter)
    dropped_messages: Counter = field(default_factory=Counter)

    @property
    def ticks(self) -> int:
        return sum(e["ticks"] for e in self.episodes)

    def format(self) -> str:
        lines = [f"{self.out}: {len(self.episodes)} episodes, {self.ticks} ticks kept, {sum(self.dropped_ticks.values())} dropped"]
        for reason, n in sorted(self.dropped_ticks.items()):
            lines.append(f"  dropped {n:6d}  {reason}")
        for reason, n in sorted(self.dropped_messages.items()):
            lines.append(f"  skipped message {n:6d}  {reason}")
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


def import_bags(bags: list[str | Path], robot: RobotConfig, out: str | Path, cfg: DataConfig | None = None, overwrite: bool = False, progress: bool = False) -> ImportSummary:
    """Import bags (or folders of bags) into a new dataset at `out`; all-or-nothing."""
    cfg = cfg or DataConfig()
    paths = find_bags(list(bags))
    successes = [episode_success(p) for p in paths]
    summary = ImportSummary(Path(out))
    cameras = [{"name": c.name, "height": c.height, "width": c.width, "topic": c.topic} for c in robot.cameras]
    iterator: Any = paths
    if progress:
        from tqdm import tqdm

        iterator = tqdm(paths, desc="bags", unit="bag")
    with DatasetBuilder(out, cameras, robot.joint_names, robot.tick_hz, cfg, overwrite, {"source_kind": "rosbag2"}) as builder:
        for path, success in zip(iterator, successes):
            with open_bag(path, cfg.typestore) as bag:
                rec = builder.episode(str(path), robot.instruction)
                replay = import_bag(bag, robot, rec, cfg, progress)
                actions = feedback_actions(np.stack(rec.states)) if replay.action_source == "feedback" else None
                dropped, skipped = replay.dropped_ticks, replay.dropped_messages
                entry = builder.commit(rec, True if success is None else success, dropped, actions)
                entry["action_source"] = replay.action_source
                entry["success_source"] = "assumed" if success is None else "summary.json"
                entry["start_ns"] = rec.start_ns
            summary.episodes.append(entry)
            summary.dropped_ticks.update(dropped)
            summary.dropped_messages.update(skipped)
    return summary
