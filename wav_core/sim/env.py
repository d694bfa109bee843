"""Gym-style MuJoCo twin of the Piper dual-arm rig.

Actions are the real robot's 14-D absolute targets; stepping, reading joints and rendering are
separate calls so a ROS node can run physics, 200 Hz joint feedback and 30 Hz cameras on their own
clocks, while `step` bundles them into one 20 Hz decision tick for policies and experts.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from wav_core.config.robot import RobotConfig  # noqa: E402
from wav_core.robot import piper  # noqa: E402

from .arm import FINGER_TRAVEL_M  # noqa: E402
from .scene import TIMESTEP_S, scene_xml  # noqa: E402
from .tasks import make_task  # noqa: E402

SIM_CAMERAS = ("cam_high", "cam_left_wrist", "cam_right_wrist")


class SimEnv:
    """One task in the simulated rig.

    image_size: (height, width) for every camera instead of the RobotConfig sizes (e.g. the policy's
    96x96); render=False leaves `obs["images"]` empty (expert rollouts; `render()` still works);
    instruction: overrides the task's own instruction string (the RobotConfig's is for the real rig).
    """

    def __init__(self, task: str, robot: RobotConfig | None = None, image_size: tuple[int, int] | None = None,
                 render: bool = True, shadows: bool = False, instruction: str | None = None):
        self.task = make_task(task)
        self.robot = robot or RobotConfig()
        if [a.name for a in self.robot.arms] != ["left", "right"]:
            raise ValueError(f"robot.arms: got {[a.name for a in self.robot.arms]}, expected ['left', 'right'] "
                             "(the simulated rig's arms, in the 14-D order)")
        for cam in self.robot.cameras:
            if cam.name not in SIM_CAMERAS:
                raise ValueError(f"robot.cameras: camera {cam.name!r} does not exist in the simulator, "
                                 f"expected one of {list(SIM_CAMERAS)}")
        if image_size is not None and (len(image_size) != 2 or min(image_size) <= 0):
            raise ValueError(f"image_size: got {image_size}, expected (height, width) > 0")
        self.image_size = tuple(image_size) if image_size is not None else None
        self.render_enabled = render
        sizes = [self.camera_size(c.name) for c in self.robot.cameras]
        offscreen = (max(640, *(w for _, w in sizes)), max(480, *(h for h, _ in sizes)))
        self.model = mujoco.MjModel.from_xml_string(scene_xml(self.task.objects_xml(), shadows, offscreen))
        self.data = mujoco.MjData(self.model)
        self.instruction = self.task.instruction if instruction is None else instruction
        self.decision_dt = 1.0 / self.robot.tick_hz
        m = self.model
        arms = ("left", "right")
        self._arm_qadr = np.array([m.jnt_qposadr[m.joint(f"{a}_joint{i}").id] for a in arms for i in range(1, 7)])
        self._finger_qadr = np.array([[m.jnt_qposadr[m.joint(f"{a}_finger_{f}").id] for f in "ab"] for a in arms])
        self._joint_act = np.array([m.actuator(f"{a}_joint{i}").id for a in arms for i in range(1, 7)])
        self._finger_act = np.array([[m.actuator(f"{a}_finger_{f}").id for f in "ab"] for a in arms])
        self._arm_dadr = np.array([m.jnt_dofadr[m.joint(f"{a}_{j}").id] for a in arms
                                   for j in ("joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "finger_a")])
        self._finger_b_dadr = np.array([m.jnt_dofadr[m.joint(f"{a}_finger_b").id] for a in arms])
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self._latched: dict[str, bool] = {}
        self._cond: dict[str, bool] = {}
        self._cond_time = -1.0
        self._targets = piper.HOME.copy()
        self._clipped = np.zeros(14, dtype=bool)
        self.seed: int | None = None

    # -- episode -----------------------------------------------------------------------------
    def reset(self, seed: int) -> dict:
        """Arms at HOME, objects placed from `seed`; the same seed gives the same episode bit for bit."""
        self.seed = int(seed)
        rng = np.random.default_rng(self.seed)
        mujoco.mj_resetData(self.model, self.data)
        self._write_arm_qpos(piper.HOME)
        self.task.randomise(self.model, self.data, rng)
        self.set_targets(piper.HOME)
        self._clipped[:] = False
        mujoco.mj_forward(self.model, self.data)
        self.step_physics(int(round(0.2 / TIMESTEP_S)))  # let objects settle
        self.data.time = 0.0
        self._latched = {k: False for k in self.task.subgoals}
        self._cond_time = -1.0
        return self.observe()

    def step(self, action: np.ndarray) -> tuple[dict, dict]:
        """Apply one decision: hold the 14-D targets for 1/tick_hz seconds, then observe."""
        self.set_targets(action)
        self.advance(self.decision_dt)
        return self.observe(), self.info()

    # -- fine-grained control (for the ROS sim node) --------------------------------------------
    def set_targets(self, action: np.ndarray) -> np.ndarray:
        """Set the servo targets; returns the mask of the 14 entries clipped to the Piper limits."""
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (14,):
            raise ValueError(f"action: got shape {a.shape}, expected (14,) = "
                             "[left j1..j6, left gripper m, right j1..j6, right gripper m]")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action: contains NaN/inf at indices {np.flatnonzero(~np.isfinite(a)).tolist()}")
        clipped = piper.clip_dual(a)
        self._clipped = clipped != a
        self._targets = clipped
        ctrl = self.data.ctrl
        ctrl[self._joint_act] = np.concatenate([clipped[0:6], clipped[7:13]])
        for k, g in enumerate((clipped[6], clipped[13])):
            ctrl[self._finger_act[k]] = min(g / 2.0, FINGER_TRAVEL_M)
        return self._clipped.copy()

    def step_physics(self, n: int = 1) -> None:
        for _ in range(n):
            mujoco.mj_step(self.model, self.data)

    def advance(self, dt: float) -> None:
        """Step physics for `dt` seconds (rounded to whole physics steps)."""
        self.step_physics(max(1, int(round(dt / self.model.opt.timestep))))
        self._update_latches()

    @property
    def time(self) -> float:
        return float(self.data.time)

    @property
    def targets(self) -> np.ndarray:
        return self._targets.copy()

    def joint_state(self) -> np.ndarray:
        """Measured 14-D state: joint angles (rad) and gripper openings (m, distance between the fingers)."""
        q = self.data.qpos
        out = np.empty(14)
        out[0:6] = q[self._arm_qadr[:6]]
        out[7:13] = q[self._arm_qadr[6:]]
        out[6] = q[self._finger_qadr[0]].sum()
        out[13] = q[self._finger_qadr[1]].sum()
        return out

    def joint_velocity(self) -> np.ndarray:
        """Measured 14-D velocities (rad/s, gripper opening rate m/s) in the same order as `joint_state`."""
        v = self.data.qvel
        out = v[self._arm_dadr].copy()
        out[[6, 13]] += v[self._finger_b_dadr]
        return out

    # -- look-ahead ----------------------------------------------------------------------------
    def save_state(self) -> tuple:
        """Everything stepping depends on (physics, servo targets, latched sub-goals), so a chunk can
        be played ahead and the episode put back exactly where it was."""
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        physics = np.empty(mujoco.mj_stateSize(self.model, spec))
        mujoco.mj_getState(self.model, self.data, physics, spec)
        return (physics, self._targets.copy(), self._clipped.copy(), dict(self._latched), dict(self._cond),
                self._cond_time)

    def restore_state(self, saved: tuple) -> None:
        physics, targets, clipped, latched, cond, cond_time = saved
        mujoco.mj_setState(self.model, self.data, physics, mujoco.mjtState.mjSTATE_INTEGRATION)
        mujoco.mj_forward(self.model, self.data)
        self._targets, self._clipped = targets.copy(), clipped.copy()
        self._latched, self._cond, self._cond_time = dict(latched), dict(cond), cond_time

    # -- observation ---------------------------------------------------------------------------
    def camera_size(self, name: str) -> tuple[int, int]:
        if self.image_size is not None:
            return self.image_size  # type: ignore[return-value]
        cam = next(c for c in self.robot.cameras if c.name == name)
        return cam.height, cam.width

    def render(self, cameras: list[str] | None = None, size: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
        """RGB uint8 HxWx3 images of the current state, keyed by camera name."""
        out = {}
        for name in cameras or self.robot.camera_names:
            h, w = size or self.camera_size(name)
            r = self._renderers.get((h, w))
            if r is None:
                r = self._renderers[(h, w)] = mujoco.Renderer(self.model, h, w)
            r.update_scene(self.data, camera=name)
            out[name] = r.render().copy()
        return out

    def observe(self) -> dict:
        return {
            "images": self.render() if self.render_enabled else {},
            "state": self.joint_state(),
            "instruction": self.instruction,
            "time": self.time,
        }

    def _update_latches(self) -> None:
        """Evaluate the task once per sim time and latch sub-goals that hold now."""
        if self._cond_time == self.data.time:
            return
        self._cond = self.task.conditions(self.model, self.data)
        self._cond_time = float(self.data.time)
        for k in self._latched:
            self._latched[k] = self._latched[k] or bool(self._cond[k])

    def info(self) -> dict:
        """`success` now, the latched sub-goal flags, and which targets of the last action were clipped."""
        self._update_latches()
        return {"success": bool(self._cond["success"]), **self._latched,
                "clipped": self._clipped.copy(), "n_clipped": int(self._clipped.sum())}

    def _write_arm_qpos(self, q14: np.ndarray) -> None:
        self.data.qpos[self._arm_qadr] = np.concatenate([q14[0:6], q14[7:13]])
        for k, g in enumerate((q14[6], q14[13])):
            self.data.qpos[self._finger_qadr[k]] = g / 2.0

    def close(self) -> None:
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()

    def __enter__(self) -> "SimEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
