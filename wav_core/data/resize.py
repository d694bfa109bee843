"""Resizing to the model resolution: one pure function for training samples and runtime input."""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage


def resize_image(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """HxWx3 uint8 -> h x w x 3 uint8 with antialiased bilinear filtering (aspect ratio not kept).

    Training and deployment must see identically filtered pixels, so both call this function.
    """
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"resize_image: size must be positive (h, w), got {size}")
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"resize_image: expected an HxWx3 uint8 image, got shape {img.shape} dtype {img.dtype}")
    if img.shape[0] == h and img.shape[1] == w:
        return img
    out = PILImage.fromarray(img).resize((w, h), PILImage.Resampling.BILINEAR)
    return np.array(out, dtype=np.uint8)


def model_frame(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """HxWx3 uint8 camera frame -> [3, h, w] float32 in [0, 1]: the model's image input.

    The live node and the training samples both call this, so preprocessing cannot drift.
    """
    return resize_image(img, size).transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)
