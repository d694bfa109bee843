"""Helpers shared by tests (importable because test/conftest.py puts this folder on sys.path)."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 10.0) -> bool:
    """Poll `predicate` until it holds or `timeout` (a liveness bound, never a performance claim) passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
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
