"""Every frame of a dataset decoded once and resized to the model resolution, in one uint8 file.

A training sample needs (history + future) frames of every camera: decoding that many
full-resolution JPEGs costs ~20 ms per sample on one core, which starves a GPU. The cache is a
memory-mapped .npy that all loader workers share through the page cache; reading a frame costs
microseconds. Its pixels come from the same `resize_image`, so the samples are identical with and
without it: the cache changes speed, never data. The index records the resize filter
(`RESIZE_METHOD`); a cache made with another one (or before filters were recorded) is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import h5py
import numpy as np

from ..parallel import job_results
from .dataset import META, Dataset, decode_frame, load_dataset
from .errors import DatasetError
from .resize import RESIZE_METHOD, resize_image

CACHE_DIR = "cache"


def cache_paths(dataset_dir: str | Path, size: tuple[int, int]) -> tuple[Path, Path]:
    """(frames .npy, index .json) of the cache at `size` = (h, w)."""
    base = Path(dataset_dir) / CACHE_DIR / f"frames_{int(size[0])}x{int(size[1])}"
    return base.with_suffix(".npy"), base.with_suffix(".json")


def _meta_digest(dataset_dir: Path) -> str:
    return hashlib.sha256((dataset_dir / META).read_bytes()).hexdigest()


def _fill_episode(job: tuple[str, str, int, list[str], tuple[int, int]]) -> int:
    """Decode, resize and write one episode's frames into its rows of the cache file."""
    frames_path, episode_path, offset, cameras, size = job
    out = np.load(frames_path, mmap_mode="r+")
    with h5py.File(episode_path, "r") as f:
        for c, cam in enumerate(cameras):
            jpegs = f[f"images/{cam}"]
            for t in range(len(jpegs)):
                out[offset + t, c] = resize_image(decode_frame(jpegs[t], f"{episode_path}:/images/{cam}[{t}]"), size)
    out.flush()
    return offset


def build_frame_cache(dataset_dir: str | Path, size: tuple[int, int], workers: int = 1,
                      progress: bool = False) -> Path:
    """Write the cache for `size` = (h, w) (replacing an existing one); returns the frames file.
    `workers` > 1 fills episodes in parallel processes."""
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise ValueError(f"size: got {list(size)}, expected a positive (height, width)")
    dataset_dir = Path(dataset_dir)
    data = load_dataset(dataset_dir)
    frames_path, index_path = cache_paths(dataset_dir, (h, w))
    frames_path.parent.mkdir(exist_ok=True)
    tmp = frames_path.with_name(f".{frames_path.name}.tmp-{os.getpid()}")
    offsets = np.cumsum([0] + [e.ticks for e in data.episodes])
    try:
        np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                  shape=(int(offsets[-1]), len(data.cameras), h, w, 3)).flush()
        jobs = [(str(tmp), str(e.path), int(offsets[i]), data.cameras, (h, w)) for i, e in enumerate(data.episodes)]
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(jobs), desc=f"frame cache {h}x{w}", unit="episode")
        with job_results(_fill_episode, jobs, workers, ordered=False) as done:
            try:
                for _ in done:
                    if bar is not None:
                        bar.update(1)
            finally:
                if bar is not None:
                    bar.close()
        os.replace(tmp, frames_path)
    finally:
        tmp.unlink(missing_ok=True)
    index = {"size": [h, w], "cameras": data.cameras, "resize": RESIZE_METHOD, "dataset_meta_sha256": _meta_digest(dataset_dir),
             "episodes": [{"file": e.path.name, "offset": int(offsets[i]), "ticks": e.ticks}
                          for i, e in enumerate(data.episodes)]}
    index_tmp = index_path.with_name(f".{index_path.name}.tmp")
    index_tmp.write_text(json.dumps(index, indent=1))
    os.replace(index_tmp, index_path)
    return frames_path


class FrameCache:
    """Read side: `frame(episode, camera, tick)` -> h x w x 3 uint8 at the cache's size."""

    def __init__(self, frames_path: Path, index: dict):
        self.frames_path = frames_path
        self.cameras: list[str] = index["cameras"]
        self.offsets = [e["offset"] for e in index["episodes"]]
        self._frames: np.ndarray | None = None
        self._pid: int | None = None

    def __getstate__(self) -> dict:
        # A memory map must not be pickled into loader workers (that would copy it): reopen there.
        state = dict(self.__dict__)
        state["_frames"] = None
        return state

    def frame(self, episode: int, camera: str, tick: int) -> np.ndarray:
        if self._frames is None or self._pid != os.getpid():
            self._frames, self._pid = np.load(self.frames_path, mmap_mode="r"), os.getpid()
        return np.asarray(self._frames[self.offsets[episode] + tick, self.cameras.index(camera)])


def open_frame_cache(dataset_dir: str | Path, data: Dataset, size: tuple[int, int]) -> FrameCache | None:
    """The dataset's cache at `size`, or None when there is none. A cache built for other episodes
    (the dataset changed since) is an error rather than silently wrong pixels."""
    frames_path, index_path = cache_paths(dataset_dir, size)
    if not (frames_path.is_file() and index_path.is_file()):
        return None
    index = json.loads(index_path.read_text())
    expected = [{"file": e.path.name, "ticks": e.ticks} for e in data.episodes]
    have = [{"file": e["file"], "ticks": e["ticks"]} for e in index["episodes"]]
    rebuild = f"rebuild it with `wav data cache {dataset_dir} --size {size[0]}x{size[1]}` or delete it"
    if index.get("dataset_meta_sha256") != _meta_digest(Path(dataset_dir)) or have != expected:
        raise DatasetError(f"{frames_path}: frame cache built for another version of this dataset; {rebuild}")
    if index.get("resize") != RESIZE_METHOD:
        made = index.get("resize", "PIL bilinear (an older version)")
        raise DatasetError(f"{frames_path}: stale frame cache: its frames were resized with {made}, "
                           f"this version resizes with {RESIZE_METHOD} (what the live node feeds the model); {rebuild}")
    return FrameCache(frames_path, index)
