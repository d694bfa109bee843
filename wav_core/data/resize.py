"""Resizing to the model resolution: one pure function for training samples and runtime input."""

from __future__ import annotations

import cv2
import numpy as np

RESIZE_METHOD = "opencv-area+linear"
"""Names the filter below. Frame caches record it and are refused when it changes, because cached
pixels made with another filter would no longer match what the live node feeds the model."""


def resize_image(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """HxWx3 uint8 -> h x w x 3 uint8 (aspect ratio not kept), with OpenCV: the sides that shrink
    first, by INTER_AREA (pixel-area averaging, no aliasing), then the sides that grow, by
    INTER_LINEAR (OpenCV's INTER_AREA aliases when one side shrinks while the other grows, as
    240x424 -> 256x256 does).

    Training and deployment must see identically filtered pixels, so both call this function.
    """
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"resize_image: size must be positive (h, w), got {size}")
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"resize_image: expected an HxWx3 uint8 image, got shape {img.shape} dtype {img.dtype}")
    if img.shape[0] == h and img.shape[1] == w:
        return img
    img = np.ascontiguousarray(img)
    small_h, small_w = min(h, img.shape[0]), min(w, img.shape[1])
    if (small_h, small_w) != img.shape[:2]:
        img = cv2.resize(img, (small_w, small_h), interpolation=cv2.INTER_AREA)
    if (small_h, small_w) != (h, w):
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    return img

def model_frame(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """HxWx3 uint8 camera frame -> [3, h, w] float32 in [0, 1]: the model's image input.

    The live node and the training samples both call this, so preprocessing cannot drift.
    """
    return resize_image(img, size).transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)
