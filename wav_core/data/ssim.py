"""Gaussian-window SSIM (Wang et al. 2004) in numpy/scipy, batched over frames.

Matches `skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255, channel_axis=-1)`: an 11-tap Gaussian window
(sigma 1.5, truncated at 3.5 sigma), K1 = 0.01, K2 = 0.03, reflect padding, the border of half a
window excluded from the mean, colour channels averaged.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

SIGMA = 1.5
TRUNCATE = 3.5
K1, K2 = 0.01, 0.03
WIN = 2 * int(TRUNCATE * SIGMA + 0.5) + 1


def ssim(frames: np.ndarray, reference: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """SSIM of each frame [N,H,W,C] (or [N,H,W]) against `reference` [H,W,C] -> [N] float64."""
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim == 3:
        x = x[..., None]
    y = np.asarray(reference, dtype=np.float64)
    if y.ndim == 2:
        y = y[..., None]
    if x.shape[1:] != y.shape:
        raise ValueError(f"ssim: frames {x.shape[1:]} and reference {y.shape} differ in shape")
    if min(y.shape[:2]) < WIN:
        raise ValueError(f"ssim: images must be at least {WIN}x{WIN}, got {y.shape[0]}x{y.shape[1]}")
    y = np.broadcast_to(y, x.shape)
    sig = (0.0, SIGMA, SIGMA, 0.0)

    def blur(a: np.ndarray) -> np.ndarray:
        return gaussian_filter(a, sigma=sig, truncate=TRUNCATE, mode="reflect")

    ux, uy = blur(x), blur(y)
    uxx, uyy, uxy = blur(x * x), blur(y * y), blur(x * y)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (WIN - 1) // 2
    return s[:, pad:-pad, pad:-pad, :].mean(axis=(1, 2, 3))
