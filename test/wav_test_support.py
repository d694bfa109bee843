"""Helpers shared by tests (importable because test/conftest.py puts this folder on sys.path)."""

from __future__ import annotations

import time
from pathlib import Path

SIM_CONFIG = Path(__file__).resolve().parents[1] / "config" / "sim_drawer.yaml"


def wait_for(predicate, timeout: float = 10.0) -> bool:
    """Poll `predicate` until it holds or `timeout` (a liveness bound, never a performance claim) passes.

    A predicate that looks up a message not received yet (KeyError, IndexError) does not hold yet;
    at the deadline it is called once more and its error, if any, propagates."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except LookupError:
            pass
        time.sleep(0.01)
    return bool(predicate())


def synthetic_dataset(root, episodes: int = 2, seconds: float = 1.2):
    """A dataset imported from `episodes` short synthetic rig bags (real rosbag2 files) under `root`."""
    from wav_core.config import RobotConfig
    from wav_core.data.import_bags import import_bags
    from wav_core.data.synthetic import BagSpec, write_rig_bag

    robot = RobotConfig()
    bags = [write_rig_bag(root / f"bag{i}", robot, BagSpec(seconds=seconds, seed=i)) for i in range(episodes)]
    import_bags(bags, robot, root / "dataset")
    return root / "dataset"


def small_robot(**overrides):
    """The simulator rig with 48x64 cameras (same topics, rates and tolerances): bags stay small."""
    from wav_core.config.loader import from_dict, load, to_dict
    from wav_core.config.robot import RobotConfig

    data = to_dict(load(RobotConfig, SIM_CONFIG, section="robot"))
    for cam in data["cameras"]:
        cam["width"], cam["height"] = 64, 48
    data.update(overrides)
    return from_dict(RobotConfig, data)


def write_small_rig(path) -> Path:
    """`small_robot()` as a rig YAML at `path`, for commands that take `--config`."""
    import yaml

    from wav_core.config.loader import to_dict

    path = Path(path)
    path.write_text(yaml.safe_dump({"robot": to_dict(small_robot())}))
    return path
