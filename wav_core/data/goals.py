"""Failed episodes measured against a success (`RewardConfig.goal: success | progress`).

A failed episode's own last tick is a failure, so rewards measured against it rise toward failure
and its value looks like a success's. With `success` the import measures each failed episode
against the ending of the successful episode (same instruction) whose first top-camera frame is
nearest: the same scene laid out the same way, done.

Similarity to the ending is not progress either: a task that ends where it began (open a drawer,
put a block in, close it) looks least done in the middle, and an arm that does not move loses
nothing. With `progress` the total channel is the phase instead: t / (T-1) along a success, and for
each tick of a failure the phase of the most similar tick (reduced frames of the reward cameras) of
its matched success, so a stalled or failed episode stops advancing where it goes wrong.

Each recorder knows only its own episode, so it keeps a signature (first top frame, last tick, and
for `progress` coarse frames of every tick) and, when it failed, its reduced frames in a side file;
the builder matches and rewrites the failures once every episode is in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from .config import DataConfig
from .rewards import REWARD_COMPONENTS, RewardGoal, dense_rewards
from .values import value_targets

_SIDE = ".reward_frames.npz"


_COARSE = (16, 16)
"""Side of the frames the progress matching compares (the reward frames are 64x64)."""


@dataclass
class GoalSignature:
    """What the matching needs from one episode: its first top-camera frame, its last tick, and (for
    `progress`) every tick's coarse frames of the reward cameras, [T, D] uint8."""

    start: np.ndarray
    goal: RewardGoal
    coarse: np.ndarray | None = None


def coarse_frames(frames: dict[str, np.ndarray], cameras: list[str]) -> np.ndarray:
    """[T, D] uint8: each tick's reward frames of `cameras` (RGB or grayscale), area-averaged down
    and flattened, for matching ticks."""
    import cv2

    size = (_COARSE[1], _COARSE[0])
    return np.concatenate([np.stack([cv2.resize(np.ascontiguousarray(f), size, interpolation=cv2.INTER_AREA).reshape(-1)
                                     for f in frames[c]]) for c in cameras], axis=1)


def success_phase(ticks: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, ticks) if ticks > 1 else np.ones(1)


def matched_phase(coarse: np.ndarray, success_coarse: np.ndarray) -> np.ndarray:
    """For each tick of an episode, the phase of the most similar tick of a success."""
    phase = success_phase(len(success_coarse))
    s = success_coarse.astype(np.float32)
    s_sq = (s * s).sum(axis=1)
    out = np.empty(len(coarse))
    for start in range(0, len(coarse), 256):
        x = coarse[start : start + 256].astype(np.float32)
        dist = s_sq[None, :] - 2.0 * x @ s.T
        out[start : start + 256] = phase[np.argmin(dist, axis=1)]
    return out


def frames_file(episode_path: Path) -> Path:
    """Where a failed episode's reduced frames, state and action wait for the relabelling."""
    return episode_path.with_name(episode_path.name + _SIDE)


def keep_for_relabel(episode_path: Path, frames: dict[str, np.ndarray], state: np.ndarray, action: np.ndarray) -> None:
    np.savez(frames_file(episode_path), state=state, action=action, **{f"frame/{c}": v for c, v in frames.items()})


def nearest(start: np.ndarray, candidates: list[np.ndarray]) -> int:
    """Index of the candidate start frame with the least mean squared difference from `start`."""
    x = start.astype(np.float64)
    return int(np.argmin([((x - c.astype(np.float64)) ** 2).mean() for c in candidates]))


def relabel_failures(episode_paths: list[Path], entries: list[dict], signatures: list[GoalSignature],
                     cfg: DataConfig) -> dict[int, np.ndarray]:
    """Rewrite the rewards and values of each failed episode against its nearest success's ending.

    Returns the new value arrays by episode index (for the dataset statistics) and notes the goal's
    source in each failed entry (`reward_goal`)."""
    new: dict[int, np.ndarray] = {}
    for i, entry in enumerate(entries):
        side = frames_file(episode_paths[i])
        if entry["success"]:
            continue
        successes = [j for j, e in enumerate(entries) if e["success"] and e["instruction"] == entry["instruction"]]
        if not successes:
            entry["reward_goal"] = "own (no successful episode with this instruction)"
            side.unlink(missing_ok=True)
            continue
        j = successes[nearest(signatures[i].start, [signatures[k].start for k in successes])]
        with np.load(side) as kept:
            frames = {k.split("/", 1)[1]: kept[k] for k in kept.files if k.startswith("frame/")}
            reward = dense_rewards(frames, kept["state"], kept["action"], cfg.reward, signatures[j].goal)
        if cfg.reward.goal == "progress":
            reward[:, -1] = matched_phase(signatures[i].coarse, signatures[j].coarse)
        value = value_targets(reward, cfg.value, success=False).astype(np.float32)
        with h5py.File(episode_paths[i], "r+") as f:
            f["reward"][...] = reward[:, : len(REWARD_COMPONENTS)].astype(np.float32)
            f["value"][...] = value
        side.unlink()
        entry["reward_goal"] = entries[j]["source"]
        new[i] = value
    return new
