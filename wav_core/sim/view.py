"""A picture of the rig: the cameras side by side at their native sizes (padded to a common height)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def side_by_side(images: dict[str, np.ndarray], gap: int = 4) -> np.ndarray:
    height = max(im.shape[0] for im in images.values())
    tiles = []
    for im in images.values():
        pad = np.full((height, im.shape[1] + gap, 3), 255, dtype=np.uint8)
        pad[: im.shape[0], : im.shape[1]] = im
        tiles.append(pad)
    return np.concatenate(tiles, axis=1)[:, :-gap]


def save_view(images: dict[str, np.ndarray], path: Path) -> None:
    from PIL import Image

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"out: got {path}, expected a .png file")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(side_by_side(images)).save(path)
