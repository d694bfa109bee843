"""Every YAML shipped in config/ loads into the configs of the nodes that read it."""

from pathlib import Path

import pytest

from wav_core.config import RobotConfig, load, read_yaml
from wav_core.config.driver import DriverConfig
from wav_core.runtime.config import PolicyConfig
from wav_core.training.run_config import load_run_config
from wav_ros.launcher import LaunchConfig, config_path
from wav_ros.sim_node import SimNodeConfig

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "config").glob("*.yaml"))
SECTIONS = {"robot": RobotConfig, "policy": PolicyConfig, "sim": SimNodeConfig, "run": LaunchConfig,
            "driver": DriverConfig}


@pytest.mark.parametrize("path", [p for p in CONFIGS if p.name.startswith("train_")], ids=lambda p: p.name)
def test_training_configs_load(path):
    cfg = load_run_config(path)
    assert cfg.model_config().views == ["cam_high", "cam_left_wrist", "cam_right_wrist"]


@pytest.mark.parametrize("path", [p for p in CONFIGS if not p.name.startswith("train_")], ids=lambda p: p.name)
def test_every_section_loads(path):
    data = read_yaml(path)
    unknown = set(data) - set(SECTIONS) - {"data"}
    assert not unknown, f"{path.name}: sections without a reader: {unknown}"
    for section in data:
        if section in SECTIONS:
            load(SECTIONS[section], path, section=section)


def test_launch_names_map_to_configs():
    assert config_path("sim_drawer.launch.py").name == "sim_drawer.yaml"
    assert config_path("piper_drawer").name == "piper_drawer.yaml"
    with pytest.raises(FileNotFoundError, match="nope.yaml: not found"):
        config_path("nope.launch.py")
