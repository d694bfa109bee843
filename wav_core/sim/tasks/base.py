"""What a simulated task provides to the environment and its expert."""

from __future__ import annotations

from abc import ABC, abstractmethod

import mujoco
import numpy as np


class Task(ABC):
    name: str = ""
    instruction: str = ""
    subgoals: tuple[str, ...] = ()
    """Flags that latch once reached (reported in `info` next to `success`)."""

    @abstractmethod
    def objects_xml(self) -> str:
        """Worldbody MJCF for the task's objects."""

    @abstractmethod
    def randomise(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        """Place the objects for a new episode (called after the arms are reset)."""

    @abstractmethod
    def conditions(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, bool]:
        """Instantaneous sub-goal conditions plus `success`, evaluated on the current state."""

    @abstractmethod
    def progress(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        """Distances (m) that show how far along the task is, in the order the script closes them:
        where a policy's run leaves the expert's is where it fails (`wav trace`)."""

    def reaches(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(tool point, target point) behind each progress distance that is a tool reaching an object.
        A distance says how near a tool came; the two points also say whether it went where the
        object was this episode or to where objects usually are (`target_following`)."""
        return {}


def set_free_pose(model: mujoco.MjModel, data: mujoco.MjData, joint: str, pos, yaw: float) -> None:
    adr = model.jnt_qposadr[model.joint(joint).id]
    data.qpos[adr:adr + 3] = pos
    data.qpos[adr + 3:adr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
    dadr = model.jnt_dofadr[model.joint(joint).id]
    data.qvel[dadr:dadr + 6] = 0.0


def body_yaw(data: mujoco.MjData, body: str) -> float:
    m = data.body(body).xmat.reshape(3, 3)
    return float(np.arctan2(m[1, 0], m[0, 0]))


def touching(model: mujoco.MjModel, data: mujoco.MjData, body_a: int, body_b: int) -> bool:
    for i in range(data.ncon):
        c = data.contact[i]
        b1, b2 = model.geom_bodyid[c.geom1], model.geom_bodyid[c.geom2]
        if {b1, b2} == {body_a, body_b}:
            return True
    return False
