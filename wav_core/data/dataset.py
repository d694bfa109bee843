"""The on-disk dataset: one HDF5 file per episode plus meta.json and stats.json at the root.

    DATASET/
      meta.json        fps, cameras (native sizes), joint names, channel names, instructions,
                       per-episode file/source/success/ticks/drop counts (and, for recordings with a
                       summary.json, sub-goals and quality mode), reward and value settings
      stats.json       mean/std/min/max/q01/q99 per channel of state, action, value
      episodes/episode_000000.h5
        images/<camera>  [T] variable-length uint8: one JPEG per tick
        state [T,14], action [T,14], reward [T,16], value [T,17] float32; time [T] float64 seconds
        attrs: source, instruction, success

Per-episode HDF5 gives random access to any tick (the loader reads a few frames of one episode),
JPEG keeps camera streams ~20x smaller than raw pixels, and both HDF5 and JSON open with standard
tools (h5py, h5dump, HDFView, any JSON reader) without this package. No pickled objects anywhere.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .errors import DatasetError, MessageError
from .messages import decode_compressed
from .rewards import N_CHANNELS, N_COMPONENTS
from .stats import STAT_KEYS

FORMAT = "wav-dataset"
VERSION = 1
META = "meta.json"
STATS = "stats.json"
EPISODES_DIR = "episodes"
STATE_DIM = 14
ARRAYS = {"state": STATE_DIM, "action": STATE_DIM, "reward": N_COMPONENTS, "value": N_CHANNELS}


def episode_filename(index: int) -> str:
    return f"{EPISODES_DIR}/episode_{index:06d}.h5"


@dataclass
class EpisodeInfo:
    index: int
    path: Path
    ticks: int
    source: str
    success: bool
    instruction: str
    dropped: dict[str, int]
    subgoals: dict[str, bool] = field(default_factory=dict)
    """Sub-goals the episode reached (empty when its source did not say)."""
    quality: dict[str, Any] | None = None
    """{"mode": ..., parameters...} of a simulated recording (see wav_core.sim.quality); None if unknown."""

    @property
    def quality_mode(self) -> str | None:
        return None if self.quality is None else str(self.quality["mode"])


@dataclass
class Dataset:
    root: Path
    meta: dict[str, Any]
    stats: dict[str, Any]
    episodes: list[EpisodeInfo]

    @property
    def cameras(self) -> list[str]:
        return [c["name"] for c in self.meta["cameras"]]

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    @property
    def joint_names(self) -> list[str]:
        return list(self.meta["joint_names"])

    @property
    def total_ticks(self) -> int:
        return sum(e.ticks for e in self.episodes)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path}: missing; expected a dataset written by `wav data import`") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a JSON object")
    return data


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: Path) -> Any:
    if key not in data:
        raise DatasetError(f"{where}: missing key '{key}'")
    if not isinstance(data[key], kind):
        raise DatasetError(f"{where}: key '{key}' has type {type(data[key]).__name__}, expected {kind}")
    return data[key]


def check_episode_file(path: Path, cameras: list[str], ticks: int | None = None) -> int:
    """Open one episode file and check names and shapes; returns its tick count."""
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise DatasetError(f"{path}: episode file missing") from None
    except OSError as exc:
        raise DatasetError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        n = None
        for name, dim in ARRAYS.items():
            if name not in f:
                raise DatasetError(f"{path}: missing dataset '/{name}'")
            shape = f[name].shape
            if len(shape) != 2 or shape[1] != dim:
                raise DatasetError(f"{path}: '/{name}' has shape {shape}, expected [T, {dim}]")
            n = shape[0] if n is None else n
            if shape[0] != n:
                raise DatasetError(f"{path}: '/{name}' has {shape[0]} rows, expected {n} like '/state'")
        if "time" not in f or f["time"].shape != (n,):
            raise DatasetError(f"{path}: '/time' missing or not of shape [{n}]")
        for cam in cameras:
            key = f"images/{cam}"
            if key not in f:
                raise DatasetError(f"{path}: missing '/{key}' (cameras in meta.json: {cameras})")
            if f[key].shape != (n,):
                raise DatasetError(f"{path}: '/{key}' has shape {f[key].shape}, expected [{n}]")
        if ticks is not None and n != ticks:
            raise DatasetError(f"{path}: has {n} ticks, meta.json says {ticks}")
        if n == 0:
            raise DatasetError(f"{path}: empty episode")
        return int(n)


def load_dataset(path: str | Path) -> Dataset:
    """Read and validate meta.json, stats.json and every episode file's layout."""
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a dataset directory")
    meta_path, stats_path = root / META, root / STATS
    meta = _read_json(meta_path)
    if meta.get("format") != FORMAT:
        raise DatasetError(f"{meta_path}: 'format' is {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise DatasetError(f"{meta_path}: version {meta.get('version')!r} not supported, expected {VERSION}")
    fps = _require(meta, "fps", (int, float), meta_path)
    if fps <= 0:
        raise DatasetError(f"{meta_path}: fps {fps}, expected > 0")
    cameras = _require(meta, "cameras", list, meta_path)
    if not cameras or not all(isinstance(c, dict) and {"name", "height", "width"} <= set(c) for c in cameras):
        raise DatasetError(f"{meta_path}: 'cameras' must be a non-empty list of {{name, height, width}}")
    joints = _require(meta, "joint_names", list, meta_path)
    if len(joints) != STATE_DIM:
        raise DatasetError(f"{meta_path}: {len(joints)} joint names, expected {STATE_DIM}")
    episodes_meta = _require(meta, "episodes", list, meta_path)
    if not episodes_meta:
        raise DatasetError(f"{meta_path}: no episodes")
    stats = _read_json(stats_path)
    for group, dim in (("state", STATE_DIM), ("action", STATE_DIM), ("value", N_CHANNELS)):
        block = _require(stats, group, dict, stats_path)
        for key in STAT_KEYS:
            vals = _require(block, key, list, stats_path)
            if len(vals) != dim:
                raise DatasetError(f"{stats_path}: {group}.{key} has {len(vals)} values, expected {dim}")
    cam_names = [c["name"] for c in cameras]
    episodes = []
    for i, ep in enumerate(episodes_meta):
        if not isinstance(ep, dict) or "file" not in ep or "ticks" not in ep:
            raise DatasetError(f"{meta_path}: episodes[{i}] needs 'file' and 'ticks'")
        file = root / ep["file"]
        ticks = check_episode_file(file, cam_names, int(ep["ticks"]))
        subgoals, quality = ep.get("subgoals", {}), ep.get("quality")
        if not isinstance(subgoals, dict) or not all(isinstance(v, bool) for v in subgoals.values()):
            raise DatasetError(f"{meta_path}: episodes[{i}].subgoals is {subgoals!r}, expected a mapping of name to true/false")
        if quality is not None and not (isinstance(quality, dict) and isinstance(quality.get("mode"), str)):
            raise DatasetError(f"{meta_path}: episodes[{i}].quality is {quality!r}, expected a mapping with a 'mode' string")
        episodes.append(
            EpisodeInfo(i, file, ticks, str(ep.get("source", "")), bool(ep.get("success", True)), str(ep.get("instruction", "")),
                        dict(ep.get("dropped", {})), dict(subgoals), None if quality is None else dict(quality))
        )
    return Dataset(root, meta, stats, episodes)


def decode_frame(buf: np.ndarray, where: str = "") -> np.ndarray:
    """Stored JPEG bytes -> HxWx3 uint8 RGB."""
    try:
        return decode_compressed(buf, where, "jpeg")
    except MessageError as exc:
        raise DatasetError(str(exc)) from None


def encode_jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.fromarray(img).save(out, format="JPEG", quality=quality)
    return np.frombuffer(out.getvalue(), dtype=np.uint8)
