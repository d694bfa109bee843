"""The policy's view of the cameras: the last frames at the model resolution, one per tick.

Frames are resized with the same function the training samples use, and the history is clamped at
the start of an episode exactly as the dataset clamps it, so what the model sees at run time is what
it saw in training.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..data.resize import resize_image
from ..model.config import ModelConfig


class FrameHistory:
    def __init__(self, cfg: ModelConfig):
        self.views = list(cfg.views)
        self.size = tuple(cfg.image_size)
        self.n, self.stride = cfg.n_history, cfg.history_stride
        self._frames: deque[np.ndarray] = deque(maxlen=(self.n - 1) * self.stride + 1)

    def reset(self) -> None:
        self._frames.clear()

    def __len__(self) -> int:
        return len(self._frames)

    def push(self, images: dict[str, np.ndarray]) -> None:
        """One tick's camera images (any resolution, HxWx3 uint8 RGB), keyed by camera name."""
        missing = [v for v in self.views if v not in images]
        if missing:
            raise ValueError(f"images: missing cameras {missing}, expected {self.views}")
        self._frames.append(np.stack([resize_image(images[v], self.size) for v in self.views]))

    def stack(self) -> np.ndarray:
        """[V, n_history, h, w, 3] uint8, oldest first; before enough ticks, the first frame repeats."""
        if not self._frames:
            raise ValueError("history: no frames yet; push at least one tick of images before planning")
        last = len(self._frames) - 1
        idx = [max(0, last - (self.n - 1 - k) * self.stride) for k in range(self.n)]
        return np.stack([self._frames[i] for i in idx], axis=1)
