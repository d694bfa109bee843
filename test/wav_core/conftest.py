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


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A saved model directory of the tiny preset with random weights, as commands load it."""
    from wav_core.model.files import save_model
    from wav_core.planning import PlannerConfig, random_policy

    policy = random_policy("tiny", PlannerConfig(K=0, M=2, N=2, S=2))
    return save_model(tmp_path_factory.mktemp("models") / "tiny", policy.model, policy.card)
