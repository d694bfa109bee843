"""Writes a dataset atomically: everything goes to a temporary directory next to the output and is
renamed into place only when complete, so a failed import leaves nothing half-written."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..config.loader import to_dict
from .config import DataConfig
from .dataset import EPISODES_DIR, FORMAT, META, STATS, VERSION, encode_jpeg, episode_filename
from .errors import DataError
from .goals import GoalSignature, coarse_frames, keep_for_relabel, relabel_failures, success_phase
from .rewards import REWARD_CHANNELS, REWARD_COMPONENTS, RewardGoal, dense_rewards, reward_frame
from .stats import channel_stats
from .values import value_targets

_FLUSH = 64


class EpisodeRecorder:
    """Collects one episode tick by tick; frames are JPEG-encoded and flushed to disk as they come."""

    def __init__(self, path: Path, cameras: list[str], cfg: DataConfig, source: str, instruction: str):
        self.path = path
        self.cameras = cameras
        self.cfg = cfg
        self.source = source
        self.instruction = instruction
        self._file = h5py.File(path, "w")
        vlen = h5py.vlen_dtype(np.uint8)
        self._images = {c: self._file.create_dataset(f"images/{c}", shape=(0,), maxshape=(None,), dtype=vlen, chunks=(_FLUSH,)) for c in cameras}
        self._pending: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
        self._small: dict[str, list[np.ndarray]] = {c: [] for c in cfg.reward.cameras}
        self.states: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.times: list[float] = []
        self.start_ns: int | None = None
        """Absolute time of tick 0 (ns), when the source has one."""

    def __len__(self) -> int:
        return len(self.states)

    def add(self, images: dict[str, np.ndarray], state: np.ndarray, time_s: float, action: np.ndarray | None = None) -> None:
        for cam in self.cameras:
            img = images[cam]
            self._pending[cam].append(encode_jpeg(img, self.cfg.jpeg_quality))
            if cam in self._small:
                self._small[cam].append(reward_frame(img, self.cfg.reward))
        self.states.append(np.asarray(state, dtype=np.float64))
        if action is not None:
            self.actions.append(np.asarray(action, dtype=np.float64))
        self.times.append(float(time_s))
        if len(self._pending[self.cameras[0]]) >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        for cam, frames in self._pending.items():
            if frames:
                ds = self._images[cam]
                start = ds.shape[0]
                ds.resize((start + len(frames),))
                # One element at a time: h5py turns equal-length buffers into a 2-D array otherwise.
                for i, frame in enumerate(frames):
                    ds[start + i] = frame
                frames.clear()

    def finish(self, success: bool, dropped: dict[str, int], actions: np.ndarray | None = None) -> dict[str, Any]:
        """Compute rewards/values, write the arrays and close; returns the meta.json entry."""
        self._flush()
        n = len(self.states)
        if n == 0:
            self._file.close()
            raise DataError(f"{self.source}: no tick was kept (dropped: {dict(dropped) or 'none'})")
        state = np.stack(self.states)
        action = np.stack(self.actions) if actions is None else np.asarray(actions, dtype=np.float64)
        if action.shape != state.shape:
            self._file.close()
            raise DataError(f"{self.source}: {action.shape[0]} actions for {n} ticks")
        frames = {c: np.stack(v) for c, v in self._small.items()}
        reward = dense_rewards(frames, state, action, self.cfg.reward)
        goal = self.cfg.reward.goal
        coarse = coarse_frames(frames, self.cfg.reward.cameras) if goal == "progress" else None
        if goal == "progress":
            reward[:, -1] = success_phase(n)  # a failure's is rewritten against a success (goals.py)
        value = value_targets(reward, self.cfg.value, success)
        self.signature = GoalSignature(frames[self.cfg.reward.top_camera][0], RewardGoal.last_tick(frames, state), coarse)
        if goal != "own" and not success:
            keep_for_relabel(self.path, frames, state, action)
        f = self._file
        f.create_dataset("state", data=state.astype(np.float32))
        f.create_dataset("action", data=action.astype(np.float32))
        f.create_dataset("reward", data=reward[:, : len(REWARD_COMPONENTS)].astype(np.float32))
        f.create_dataset("value", data=value.astype(np.float32))
        f.create_dataset("time", data=np.asarray(self.times, dtype=np.float64))
        f.attrs["source"] = self.source
        f.attrs["instruction"] = self.instruction
        f.attrs["success"] = bool(success)
        if self.start_ns is not None:
            f.attrs["start_ns"] = int(self.start_ns)
        f.close()
        self.value = value.astype(np.float32)
        self.state = state.astype(np.float32)
        self.action = action.astype(np.float32)
        self.arrays = {"state": self.state, "action": self.action, "value": self.value, "signature": self.signature}
        """What the builder takes in (`DatasetBuilder.adopt`), picklable for recorders in other processes."""
        return {"source": self.source, "success": bool(success), "ticks": n, "instruction": self.instruction, "dropped": dict(dropped)}

    def abort(self) -> None:
        if self._file.id.valid:
            self._file.close()


class DatasetBuilder:
    """`with DatasetBuilder(...) as b: rec = b.episode(...); ...; b.commit(rec, ...)`."""

    def __init__(self, out: str | Path, cameras: list[dict[str, Any]], joint_names: list[str], fps: float, cfg: DataConfig, overwrite: bool = False, extra_meta: dict[str, Any] | None = None):
        self.out = Path(out)
        self.cameras = cameras
        self.joint_names = list(joint_names)
        self.fps = float(fps)
        self.cfg = cfg
        self.overwrite = overwrite
        self.extra_meta = extra_meta or {}
        self.entries: list[dict[str, Any]] = []
        self._arrays: dict[str, list[np.ndarray]] = {"state": [], "action": [], "value": []}
        self._signatures: list[GoalSignature] = []
        self._tmp: Path | None = None
        self._open: EpisodeRecorder | None = None

    def __enter__(self) -> "DatasetBuilder":
        if self.out.exists() and not self.overwrite:
            raise DataError(f"{self.out}: already exists; choose another --out or pass --overwrite")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.tmp-", dir=self.out.parent))
        (self._tmp / EPISODES_DIR).mkdir()
        return self

    def episode(self, source: str, instruction: str) -> EpisodeRecorder:
        assert self._tmp is not None, "use DatasetBuilder as a context manager"
        path = self._tmp / episode_filename(len(self.entries))
        self._open = EpisodeRecorder(path, [c["name"] for c in self.cameras], self.cfg, source, instruction)
        return self._open

    def commit(self, rec: EpisodeRecorder, success: bool, dropped: dict[str, int] | Counter, actions: np.ndarray | None = None) -> dict[str, Any]:
        entry = rec.finish(success, dict(dropped), actions)
        self._open = None
        return self.adopt(entry, rec.arrays)

    def episode_path(self, index: int) -> Path:
        """Where episode `index` is written, for recorders in other processes (see `adopt`)."""
        assert self._tmp is not None, "use DatasetBuilder as a context manager"
        return self._tmp / episode_filename(index)

    def adopt(self, entry: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        """Take in the next episode, finished at `episode_path(len(entries))` by any recorder;
        `arrays`: the recorder's `arrays` (state, action and value for the statistics, its goal signature)."""
        entry["file"] = episode_filename(len(self.entries))
        self.entries.append(entry)
        for key in self._arrays:
            self._arrays[key].append(arrays[key])
        self._signatures.append(arrays["signature"])
        return entry

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._tmp is not None
        if self._open is not None:
            self._open.abort()
        if exc_type is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            return
        try:
            self._finalize()
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise

    def _finalize(self) -> None:
        assert self._tmp is not None
        if not self.entries:
            raise DataError(f"{self.out}: no episodes were imported")
        if self.cfg.reward.goal != "own":
            paths = [self._tmp / e["file"] for e in self.entries]
            for i, value in relabel_failures(paths, self.entries, self._signatures, self.cfg).items():
                self._arrays["value"][i] = value
        instructions = sorted({e["instruction"] for e in self.entries})
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "fps": self.fps,
            "cameras": self.cameras,
            "joint_names": self.joint_names,
            "reward_channels": list(REWARD_COMPONENTS),
            "value_channels": list(REWARD_CHANNELS),
            "instructions": instructions,
            "reward": to_dict(self.cfg.reward),
            "value_targets": to_dict(self.cfg.value),
            "jpeg_quality": self.cfg.jpeg_quality,
            **self.extra_meta,
            "episodes": self.entries,
        }
        stats = {key: channel_stats(np.concatenate(arrs)) for key, arrs in self._arrays.items()}
        stats["count"] = int(sum(e["ticks"] for e in self.entries))
        (self._tmp / META).write_text(json.dumps(meta, indent=1))
        (self._tmp / STATS).write_text(json.dumps(stats, indent=1))
        if self.out.exists():
            old = self.out.with_name(f".{self.out.name}.old-{os.getpid()}")
            os.replace(self.out, old)
            os.replace(self._tmp, self.out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self._tmp, self.out)
