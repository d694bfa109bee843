"""Forward kinematics of a URDF, composed from its joint tree: the poses robot_state_publisher
publishes as TF, computed without ROS (so the plan view works on machines without tf2)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

RIG_URDF = "piper_dual.urdf"


def rpy_matrix(rpy) -> np.ndarray:
    r, p, y = rpy
    rx = np.array([[1, 0, 0], [0, np.cos(r), -np.sin(r)], [0, np.sin(r), np.cos(r)]])
    ry = np.array([[np.cos(p), 0, np.sin(p)], [0, 1, 0], [-np.sin(p), 0, np.cos(p)]])
    rz = np.array([[np.cos(y), -np.sin(y), 0], [np.sin(y), np.cos(y), 0], [0, 0, 1]])
    return rz @ ry @ rx


def axis_rotation(axis, angle) -> np.ndarray:
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def homogeneous(rot=np.eye(3), pos=np.zeros(3)) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3], t[:3, 3] = rot, pos
    return t


class UrdfKinematics:
    """Just enough of URDF to compose link poses: the joint tree, origins, axes, types and mimics."""

    def __init__(self, text: str, source: str = "URDF"):
        try:
            self.root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise ValueError(f"{source}: not valid XML ({exc})") from None
        self.links = [link.get("name") for link in self.root.iter("link")]
        self.joints = {}
        for j in self.root.iter("joint"):
            origin, axis, mimic = j.find("origin"), j.find("axis"), j.find("mimic")
            self.joints[j.find("child").get("link")] = {
                "name": j.get("name"), "type": j.get("type"), "parent": j.find("parent").get("link"),
                "xyz": np.array([float(v) for v in origin.get("xyz", "0 0 0").split()]) if origin is not None else np.zeros(3),
                "rpy": np.array([float(v) for v in origin.get("rpy", "0 0 0").split()]) if origin is not None else np.zeros(3),
                "axis": None if axis is None else np.array([float(v) for v in axis.get("xyz").split()]),
                "mimic": None if mimic is None else (mimic.get("joint"), float(mimic.get("multiplier", 1)),
                                                     float(mimic.get("offset", 0))),
                "limit": j.find("limit"),
            }

    @classmethod
    def rig(cls) -> "UrdfKinematics":
        """The shipped dual-arm rig: from the source tree, else from the installed package's share."""
        path = Path(__file__).resolve().parents[2] / "urdf" / RIG_URDF
        if not path.is_file():
            from ament_index_python.packages import get_package_share_directory

            path = Path(get_package_share_directory("wav_ros")) / "urdf" / RIG_URDF
        return cls(path.read_text(), str(path))

    def pose(self, link: str, q: dict[str, float]) -> np.ndarray:
        """4x4 pose of `link` in the root link for joint values `q` (mimic joints computed)."""
        if link not in self.links:
            raise ValueError(f"link: got {link!r}, not in the URDF")
        t = np.eye(4)
        while link in self.joints:
            j = self.joints[link]
            value = q.get(j["name"], 0.0)
            if j["mimic"] is not None:
                master, mult, off = j["mimic"]
                value = mult * q.get(master, 0.0) + off
            motion = np.eye(4)
            if j["type"] in ("revolute", "continuous"):
                motion = homogeneous(axis_rotation(j["axis"], value))
            elif j["type"] == "prismatic":
                motion = homogeneous(pos=j["axis"] / np.linalg.norm(j["axis"]) * value)
            t = homogeneous(rpy_matrix(j["rpy"]), j["xyz"]) @ motion @ t
            link = j["parent"]
        return t

    def paths(self, links: list[str], joint_names: list[str], positions: np.ndarray) -> np.ndarray:
        """Positions [len(links), T, 3] of `links` along joint trajectories `positions` [T, J]."""
        positions = np.asarray(positions, dtype=np.float64)
        out = np.empty((len(links), len(positions), 3))
        for t, row in enumerate(positions):
            q = dict(zip(joint_names, row))
            for k, link in enumerate(links):
                out[k, t] = self.pose(link, q)[:3, 3]
        return out
