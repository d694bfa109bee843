"""Dense per-step rewards (WAV paper, Appendix B): progress toward a goal frame/pose.

Every image and joint term compares step t with a goal: by default the episode's final step T, so a
demonstration's own ending defines "done" (the paper). A failed episode's own ending is a failure,
though, and its rewards would rise toward it as a success's do; with `RewardConfig.goal: success`
the import measures failed episodes against a successful episode's ending instead (see goals.py).
Channel order (REWARD_CHANNELS), 16 components then the total:

    for arm in (left, right):
        <arm>_wrist_mse           exp(-0.01 * MSE(I_t, I_T)), pixels 0..255          weight +1/16
        <arm>_wrist_ssim          exp(SSIM(I_t, I_T) - 1)                             weight +1/16
        <arm>_joint_proximity     exp(-||s_t - s_T||_2) over the arm's 7 values       weight +1/16
        <arm>_joint_velocity      sum_j |s_t,j - s_t-1,j|  (0 at t = 0)               weight -1/16
        <arm>_joint_acceleration  sum_j |s_t,j - 2 s_t-1,j + s_t-2,j| (0 for t < 2)   weight -1/16
        <arm>_action_velocity     the same on the action                               weight -0.1/16
        <arm>_action_acceleration the same on the action                               weight -0.1/16
    top_mse, top_ssim             the top camera, once                                 weight +1/16
    total                         the weighted sum of the 16 components

Image terms are computed on frames resized to `RewardConfig.image_size` (default 64x64 RGB) for
speed; the resize is the same `resize_image` used everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..config.loader import ConfigError
from ..robot.piper import ARM_JOINT_NAMES, ARMS
from .resize import resize_image
from .ssim import WIN, ssim

_ARM_TERMS = (
    ("wrist_mse", 1.0 / 16),
    ("wrist_ssim", 1.0 / 16),
    ("joint_proximity", 1.0 / 16),
    ("joint_velocity", -1.0 / 16),
    ("joint_acceleration", -1.0 / 16),
    ("action_velocity", -0.1 / 16),
    ("action_acceleration", -0.1 / 16),
)
REWARD_COMPONENTS: tuple[str, ...] = tuple(f"{arm}_{term}" for arm in ARMS for term, _ in _ARM_TERMS) + ("top_mse", "top_ssim")
REWARD_WEIGHTS: np.ndarray = np.array([w for _ in ARMS for _, w in _ARM_TERMS] + [1.0 / 16, 1.0 / 16])
REWARD_CHANNELS: tuple[str, ...] = REWARD_COMPONENTS + ("total",)
"""The 17 value channels; the planner scores with the last one."""

N_COMPONENTS = len(REWARD_COMPONENTS)
N_CHANNELS = len(REWARD_CHANNELS)
_ARM_DIM = len(ARM_JOINT_NAMES)


@dataclass
class RewardConfig:
    top_camera: str = "cam_high"
    wrist_cameras: dict[str, str] = field(default_factory=lambda: {"left": "cam_left_wrist", "right": "cam_right_wrist"})
    """Arm name -> its wrist camera."""
    image_size: tuple[int, int] = (64, 64)
    """(h, w) the image terms are computed at."""
    grayscale: bool = False
    """Compare luminance only (faster) instead of RGB."""
    goal: Literal["own", "success", "progress"] = "own"
    """What a failed episode's rewards measure progress toward: 'own', its own last tick (the
    paper; then a failure's rewards rise toward its failed ending); 'success', the last tick of the
    successful episode of the same import whose first top-camera frame is nearest (the same scene);
    'progress', the same for the 16 components, and the total channel is the phase reached along
    that success (a success's own t / (T-1), see goals.py) instead of their weighted sum."""

    def validate(self) -> None:
        if sorted(self.wrist_cameras) != sorted(ARMS):
            raise ConfigError(f"wrist_cameras: got arms {sorted(self.wrist_cameras)}, expected {list(ARMS)}")
        if min(self.image_size) < WIN:
            raise ConfigError(f"image_size: got {list(self.image_size)}, expected both sides >= {WIN} (SSIM window)")

    @property
    def cameras(self) -> list[str]:
        return [self.top_camera] + [self.wrist_cameras[a] for a in ARMS]


def reward_frame(img: np.ndarray, cfg: RewardConfig) -> np.ndarray:
    """The reduced frame the image terms use: resized, optionally grayscale; uint8 [h, w, C]."""
    small = resize_image(img, cfg.image_size)
    if cfg.grayscale:
        gray = small.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., None]
    return small


@dataclass
class RewardGoal:
    """What "done" looks like: one tick's reduced frames (camera -> [h, w, C] uint8) and joint state [14]."""

    frames: dict[str, np.ndarray]
    state: np.ndarray

    @classmethod
    def last_tick(cls, frames: dict[str, np.ndarray], state: np.ndarray) -> "RewardGoal":
        return cls({c: np.asarray(f[-1]) for c, f in frames.items()}, np.asarray(state[-1], dtype=np.float64))


def _image_terms(frames: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = frames.astype(np.float64)
    mse = ((x - goal.astype(np.float64)) ** 2).mean(axis=tuple(range(1, x.ndim)))
    return np.exp(-0.01 * mse), np.exp(ssim(frames, goal) - 1.0)


def _diff_sums(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vel = np.zeros(len(a))
    acc = np.zeros(len(a))
    if len(a) >= 2:
        vel[1:] = np.abs(np.diff(a, n=1, axis=0)).sum(axis=1)
    if len(a) >= 3:
        acc[2:] = np.abs(np.diff(a, n=2, axis=0)).sum(axis=1)
    return vel, acc


def dense_rewards(frames: dict[str, np.ndarray], state: np.ndarray, action: np.ndarray, cfg: RewardConfig,
                  goal: RewardGoal | None = None) -> np.ndarray:
    """[T, 17] float64 rewards: the 16 components in REWARD_COMPONENTS order, then the total.

    `frames`: camera name -> [T, h, w, C] uint8 reduced frames (see `reward_frame`);
    `state`, `action`: [T, 14] in the dual-arm order (7 per arm); `goal`: what the image and joint
    terms compare with (default: this episode's last tick).
    """
    state = np.asarray(state, dtype=np.float64)
    action = np.asarray(action, dtype=np.float64)
    n = len(state)
    if n == 0:
        raise ValueError("dense_rewards: empty episode")
    if state.shape != (n, 2 * _ARM_DIM) or action.shape != (n, 2 * _ARM_DIM):
        raise ValueError(f"dense_rewards: state {state.shape} and action {action.shape} must both be [{n}, {2 * _ARM_DIM}]")
    for name in cfg.cameras:
        if name not in frames:
            raise ValueError(f"dense_rewards: missing frames for camera '{name}', have {sorted(frames)}")
        if len(frames[name]) != n:
            raise ValueError(f"dense_rewards: camera '{name}' has {len(frames[name])} frames, expected {n}")
    goal = goal or RewardGoal.last_tick(frames, state)
    for name in cfg.cameras:
        if goal.frames[name].shape != frames[name].shape[1:]:
            raise ValueError(f"dense_rewards: goal frame of '{name}' is {goal.frames[name].shape}, expected {frames[name].shape[1:]}")
    out = np.zeros((n, N_CHANNELS))
    col = 0
    for b, arm in enumerate(ARMS):
        s = state[:, b * _ARM_DIM : (b + 1) * _ARM_DIM]
        a = action[:, b * _ARM_DIM : (b + 1) * _ARM_DIM]
        cam = cfg.wrist_cameras[arm]
        mse, sim = _image_terms(frames[cam], goal.frames[cam])
        jv, ja = _diff_sums(s)
        av, aa = _diff_sums(a)
        prox = np.exp(-np.linalg.norm(s - goal.state[b * _ARM_DIM : (b + 1) * _ARM_DIM], axis=1))
        for values in (mse, sim, prox, jv, ja, av, aa):
            out[:, col] = values
            col += 1
    out[:, col], out[:, col + 1] = _image_terms(frames[cfg.top_camera], goal.frames[cfg.top_camera])
    out[:, -1] = out[:, :N_COMPONENTS] @ REWARD_WEIGHTS
    return out
