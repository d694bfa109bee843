import pytest

from wav_core.config import RobotConfig
from wav_core.data.import_bags import import_bags
from wav_core.data.synthetic import BagSpec, write_rig_bag


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """One short synthetic rig episode, imported: held-out data for model checks."""
    root = tmp_path_factory.mktemp("heldout")
    robot = RobotConfig()
    import_bags([write_rig_bag(root / "bag0", robot, BagSpec(seconds=1.2, seed=5))], robot, root / "dataset")
    return root / "dataset"
