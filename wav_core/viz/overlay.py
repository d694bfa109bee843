"""Planned tool-point paths drawn over a camera frame (the demo's GIF)."""

from __future__ import annotations

import cv2
import numpy as np

from ..sim.projection import project


def draw_paths(frame: np.ndarray, matrix: np.ndarray, paths: list[np.ndarray], colours: list[np.ndarray],
               thickness: int = 2) -> np.ndarray:
    """A copy of the RGB `frame` with each path (points [H, 3] in the base frame, RGBA colours [H, 4]
    in 0..1) drawn through `matrix` (`projection.camera_matrix`); segments behind the camera are left out.
    Each segment takes its first point's colour, drawn without anti-aliasing so the colours stay exact."""
    out = np.ascontiguousarray(frame.copy())
    for points, rgba in zip(paths, colours):
        uv, front = project(matrix, points)
        rgb = np.clip(np.round(np.asarray(rgba, dtype=np.float64)[:, :3] * 255), 0, 255).astype(int)
        for i in range(len(uv) - 1):
            if not (front[i] and front[i + 1]):
                continue
            a, b = uv[i], uv[i + 1]
            if not (np.all(np.abs(a) < 1e5) and np.all(np.abs(b) < 1e5)):
                continue
            cv2.line(out, (int(round(a[0])), int(round(a[1]))), (int(round(b[0])), int(round(b[1]))),
                     tuple(int(v) for v in rgb[i]), thickness, lineType=cv2.LINE_8)
    return out
