"""Helpers shared by tests (importable because test/conftest.py puts this folder on sys.path)."""

from __future__ import annotations

import time


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
