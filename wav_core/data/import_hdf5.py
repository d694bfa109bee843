"""ALOHA-layout HDF5 episodes -> dataset.

Layout: `/observations/qpos` [T,14], `/action` [T,14], `/observations/images/<camera>` either raw
uint8 [T,H,W,3] RGB or, in ALOHA's compressed variant, [T, N] uint8 rows each holding one JPEG
padded with zeros to a common length. ALOHA encodes with OpenCV from RGB arrays, so a standard
decoder sees the channels swapped; `jpeg_encoder='opencv'` (default) swaps them back, 'standard'
keeps them. Units are kept as in the file. Episodes are assumed successful demonstrations.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np

from ..robot.piper import DUAL_JOINT_NAMES
from .builder import DatasetBuilder
from .config import DataConfig
from .dataset import STATE_DIM
from .errors import DataError, MessageError
from .import_bags import ImportSummary
from .messages import decode_compressed

ALOHA_CAMERAS: tuple[str, ...] = ("cam_high", "cam_left_wrist", "cam_right_wrist")
ALOHA_FPS = 50.0


class _Episode:
    def __init__(self, path: Path, f: h5py.File, cameras: tuple[str, ...]):
        self.path = path
        for key in ("observations/qpos", "action"):
            if key not in f:
                raise DataError(f"{path}: missing dataset '/{key}' (ALOHA layout expected)")
        self.qpos = np.asarray(f["observations/qpos"], dtype=np.float64)
        self.action = np.asarray(f["action"], dtype=np.float64)
        if self.qpos.ndim != 2 or self.qpos.shape[1] != STATE_DIM:
            raise DataError(f"{path}: '/observations/qpos' has shape {self.qpos.shape}, expected [T, {STATE_DIM}]")
        if self.action.shape != self.qpos.shape:
            raise DataError(f"{path}: '/action' has shape {self.action.shape}, expected {self.qpos.shape} like '/observations/qpos'")
        if len(self.qpos) == 0:
            raise DataError(f"{path}: empty episode")
        for key, arr in (("observations/qpos", self.qpos), ("action", self.action)):
            if not np.all(np.isfinite(arr)):
                raise DataError(f"{path}: '/{key}' contains NaN or inf")
        self.images: dict[str, h5py.Dataset] = {}
        for cam in cameras:
            key = f"observations/images/{cam}"
            if key not in f:
                have = sorted(f["observations/images"].keys()) if "observations/images" in f else []
                raise DataError(f"{path}: missing '/{key}'; the file has cameras {have}")
            ds = f[key]
            if ds.dtype != np.uint8 or ds.ndim not in (2, 4) or (ds.ndim == 4 and ds.shape[3] != 3):
                raise DataError(f"{path}: '/{key}' has shape {ds.shape} dtype {ds.dtype}, expected uint8 [T,H,W,3] or [T,N] JPEG rows")
            if ds.shape[0] != len(self.qpos):
                raise DataError(f"{path}: '/{key}' has {ds.shape[0]} frames, expected {len(self.qpos)} like '/observations/qpos'")
            self.images[cam] = ds

    def frame(self, cam: str, t: int, swap: bool) -> np.ndarray:
        ds = self.images[cam]
        if ds.ndim == 4:
            return np.asarray(ds[t])
        try:
            img = decode_compressed(np.asarray(ds[t]), f"{self.path}:/observations/images/{cam}", f"frame {t}")
        except MessageError as exc:
            raise DataError(str(exc)) from None
        return np.ascontiguousarray(img[:, :, ::-1]) if swap else img


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc})") from None


def import_aloha(
    files: list[str | Path],
    out: str | Path,
    fps: float = ALOHA_FPS,
    instruction: str = "",
    cfg: DataConfig | None = None,
    cameras: tuple[str, ...] = ALOHA_CAMERAS,
    jpeg_encoder: Literal["opencv", "standard"] = "opencv",
    overwrite: bool = False,
    progress: bool = False,
) -> ImportSummary:
    """Import ALOHA HDF5 episodes (one file = one episode) into a new dataset; all-or-nothing."""
    cfg = cfg or DataConfig()
    if fps <= 0:
        raise DataError(f"fps: got {fps}, expected > 0")
    paths = [Path(p) for p in files]
    if not paths:
        raise DataError("no HDF5 files given")
    swap = jpeg_encoder == "opencv"
    summary = ImportSummary(Path(out))
    sizes: dict[str, tuple[int, int]] = {}
    # Camera sizes are needed for meta.json before writing: take them from the first file.
    with _open(paths[0]) as f:
        first = _Episode(paths[0], f, cameras)
        for cam in cameras:
            sizes[cam] = first.frame(cam, 0, swap).shape[:2]
    meta_cams = [{"name": c, "height": int(sizes[c][0]), "width": int(sizes[c][1])} for c in cameras]
    iterator: Any = paths
    if progress:
        from tqdm import tqdm

        iterator = tqdm(paths, desc="episodes", unit="file")
    with DatasetBuilder(out, meta_cams, list(DUAL_JOINT_NAMES), fps, cfg, overwrite, {"source_kind": "aloha_hdf5"}) as builder:
        for path in iterator:
            with _open(path) as f:
                ep = _Episode(path, f, cameras)
                rec = builder.episode(str(path), instruction)
                for t in range(len(ep.qpos)):
                    images = {}
                    for cam in cameras:
                        img = ep.frame(cam, t, swap)
                        if img.shape[:2] != sizes[cam]:
                            raise DataError(f"{path}: camera {cam} frame {t} is {img.shape[0]}x{img.shape[1]}, expected {sizes[cam][0]}x{sizes[cam][1]} like {paths[0]}")
                        images[cam] = img
                    rec.add(images, ep.qpos[t], t / fps, ep.action[t])
                entry = builder.commit(rec, True, Counter())
                entry["action_source"] = "file"
                entry["success_source"] = "assumed"
            summary.episodes.append(entry)
    return summary
