"""Training samples for the world, value and action modules (torch.utils.data).

A sample at tick t of an episode of length T:
  history  [V, n_history, 3, h, w] float in [0, 1]: frames t-(n-1)*stride .. t, clamped at 0
  future   [V, n_future, 3, h, w]: frames t+stride .. t+n*stride, clamped at T-1
  state    [14] float32;  actions [H, 14] a_t..a_{t+H-1};  values [H, 17]: both repeat the last row
           past the episode end
  keyframe [14] float32: each arm's state at its next gripper change (wav_core.data.keyframes)
  approach [arms] float32: 1 while the arm is on its way to its next grasp (wav_core.data.keyframes)
  success  bool: whether the episode succeeded
  instruction str, episode int, tick int
Normalisation (stats.json) is the model's job, so samples stay in physical units. Which samples a
training stage draws is `stage_samples`: the action stage imitates successful episodes only unless
told otherwise, while the other stages see every episode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

from ..config.loader import ConfigError
from ..training.config import ACTION_EPISODES
from .dataset import Dataset as DatasetIndex
from .dataset import decode_frame, load_dataset
from .errors import DatasetError
from .frame_cache import open_frame_cache
from .keyframes import approaching_grasp, gripper_thresholds, next_keyframe_states
from .resize import model_frame


@dataclass
class SampleSpec:
    image_size: tuple[int, int] = (256, 256)
    """(h, w) every camera is resized to (the model resolution)."""
    n_history: int = 4
    history_stride: int = 1
    n_future: int = 4
    future_stride: int = 1
    action_horizon: int = 16
    cameras: list[str] | None = None
    """Camera order of the V axis; None = the dataset's order."""
    approach_window: int | list[int] = 0
    """Ticks before a grasp that `approach` labels (0: the whole approach; keyframes.approaching_grasp),
    for every arm or per arm."""

    @classmethod
    def for_model(cls, mcfg) -> "SampleSpec":
        """The samples a model of config `mcfg` (wav_core.model.ModelConfig) trains and is checked on."""
        return cls(image_size=tuple(mcfg.image_size), n_history=mcfg.n_history, history_stride=mcfg.history_stride,
                   n_future=mcfg.n_future, future_stride=mcfg.future_stride, action_horizon=mcfg.action_horizon,
                   cameras=list(mcfg.views), approach_window=mcfg.approach_windows)

    def validate(self) -> None:
        for key in ("n_history", "history_stride", "n_future", "future_stride", "action_horizon"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: got {getattr(self, key)}, expected >= 1")
        windows = self.approach_window
        if min([windows] if isinstance(windows, int) else windows, default=0) < 0:
            raise ConfigError(f"approach_window: got {self.approach_window}, expected ticks >= 0")
        if min(self.image_size) < 1:
            raise ConfigError(f"image_size: got {list(self.image_size)}, expected positive (h, w)")


class WavDataset(torch.utils.data.Dataset):
    """Every tick of every episode is one sample; HDF5 files are opened lazily per process."""

    def __init__(self, dataset_dir: str, spec: SampleSpec | None = None):
        self.spec = spec or SampleSpec()
        self.spec.validate()
        self.data: DatasetIndex = load_dataset(dataset_dir)
        cams = self.spec.cameras or self.data.cameras
        unknown = [c for c in cams if c not in self.data.cameras]
        if unknown:
            raise DatasetError(f"{dataset_dir}: cameras {unknown} not in the dataset (has {self.data.cameras})")
        self.cameras = list(cams)
        self.index = [(e.index, t) for e in self.data.episodes for t in range(e.ticks)]
        self.frame_cache = open_frame_cache(dataset_dir, self.data, self.spec.image_size)
        """Frames already resized to the model resolution (`wav data cache`), when built."""
        self._files: dict[int, h5py.File] = {}
        self._pid = os.getpid()
        self._keyframes: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.images = True
        """False: samples carry no frames (training stages that read cached tokenizer latents)."""

    def __len__(self) -> int:
        return len(self.index)

    def stage_samples(self, stage: str, action_episodes: str = "success") -> list[int]:
        """Indices the training `stage` draws from: all samples, except that with
        `action_episodes` 'success' the action stage skips the ticks of failed episodes (a failure
        is a future the value module should rank low, not behaviour to imitate)."""
        if action_episodes not in ACTION_EPISODES:
            raise ConfigError(f"train.action_episodes: got {action_episodes!r}, expected one of {list(ACTION_EPISODES)}")
        if stage != "action" or action_episodes == "all":
            return list(range(len(self.index)))
        ok = {e.index for e in self.data.episodes if e.success}
        if not ok:
            raise DatasetError(f"{self.data.root}: no successful episode for the action stage to imitate "
                               f"({len(self.data.episodes)} episodes, all failed); record successes or set "
                               "train.action_episodes: all")
        return [i for i, (episode, _) in enumerate(self.index) if episode in ok]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_files"] = {}
        return state

    def _file(self, episode: int) -> h5py.File:
        if self._pid != os.getpid():
            self._files, self._pid = {}, os.getpid()
        f = self._files.get(episode)
        if f is None:
            f = self._files[episode] = h5py.File(self.data.episodes[episode].path, "r")
        return f

    def _frames(self, f: h5py.File, episode: int, cam: str, ticks: list[int], cache: dict) -> torch.Tensor:
        out = []
        for t in ticks:
            key = (cam, t)
            if key not in cache:
                if self.frame_cache is not None:
                    img = self.frame_cache.frame(episode, cam, t)
                else:
                    img = decode_frame(f[f"images/{cam}"][t], f"{self.data.episodes[episode].path}:/images/{cam}[{t}]")
                cache[key] = torch.from_numpy(model_frame(img, self.spec.image_size))
            out.append(cache[key])
        return torch.stack(out)

    def __getitem__(self, i: int) -> dict:
        episode, t = self.index[i]
        info = self.data.episodes[episode]
        f = self._file(episode)
        sample = {
            "state": torch.from_numpy(np.asarray(f["state"][t], dtype=np.float32)),
            "actions": self.chunk(episode, t, "action"),
            "values": self.chunk(episode, t, "value"),
            "keyframe": torch.from_numpy(self.keyframes(episode)[t]),
            "approach": torch.from_numpy(self.approach(episode)[t]),
            "success": info.success,
            "instruction": info.instruction,
            "episode": episode,
            "tick": t,
        }
        if self.images:
            hist, fut = self.frame_ticks(episode, t)
            cache: dict = {}
            sample["history"] = torch.stack([self._frames(f, episode, c, hist, cache) for c in self.cameras])
            sample["future"] = torch.stack([self._frames(f, episode, c, fut, cache) for c in self.cameras])
        return sample

    def chunk(self, episode: int, t: int, key: str) -> torch.Tensor:
        """[action_horizon, C] rows t.. of the episode's `key` ('action' or 'value'), the last row
        repeated past the episode end."""
        n = self.data.episodes[episode].ticks
        rows = np.minimum(np.arange(t, t + self.spec.action_horizon), n - 1)
        data = np.asarray(self._file(episode)[key][t:int(rows[-1]) + 1], dtype=np.float32)
        return torch.from_numpy(data[rows - t])

    def _gripper_labels(self, episode: int) -> tuple[np.ndarray, np.ndarray]:
        """The episode's keyframe targets and approach labels, computed once per episode and process."""
        out = self._keyframes.get(episode)
        if out is None:
            f = self._file(episode)
            action, thresholds = f["action"][:], gripper_thresholds(self.data.stats["action"])
            out = self._keyframes[episode] = (next_keyframe_states(f["state"][:], action, thresholds),
                                              approaching_grasp(action, thresholds, self.spec.approach_window))
        return out

    def keyframes(self, episode: int) -> np.ndarray:
        """[T, 14] the episode's keyframe targets."""
        return self._gripper_labels(episode)[0]

    def approach(self, episode: int) -> np.ndarray:
        """[T, arms] 1 while an arm is on its way to its next grasp."""
        return self._gripper_labels(episode)[1]

    def frames(self, episode: int, cam: str, ticks: list[int]) -> torch.Tensor:
        """Frames [len(ticks), 3, h, w] of one camera at the model resolution, as samples carry them."""
        return self._frames(self._file(episode), episode, cam, ticks, {})

    def frame_ticks(self, episode: int, t: int) -> tuple[list[int], list[int]]:
        """The ticks of a sample's history frames (oldest first, clamped at 0) and future frames
        (clamped at the episode's last tick)."""
        n, s = self.data.episodes[episode].ticks, self.spec
        hist = [max(0, t - (s.n_history - 1 - k) * s.history_stride) for k in range(s.n_history)]
        fut = [min(n - 1, t + (k + 1) * s.future_stride) for k in range(s.n_future)]
        return hist, fut


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)


def make_loader(dataset: WavDataset, batch_size: int, shuffle: bool = True, num_workers: int = 2, seed: int = 0, drop_last: bool = True) -> DataLoader:
    """A DataLoader whose sample order depends only on `seed` (workers seeded from it too)."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        worker_init_fn=_seed_worker,
        generator=generator,
        drop_last=drop_last,
        persistent_workers=num_workers > 0,
    )
