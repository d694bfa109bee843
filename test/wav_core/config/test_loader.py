"""Configs load from YAML through one loader; every mistake names the key and what was expected."""

from pathlib import Path

import pytest

from wav_core.config import ConfigError, RobotConfig, from_dict, load
from wav_core.model.config import ModelConfig
from wav_core.planning import PlannerConfig

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"


def test_unknown_key_is_named_with_its_path():
    with pytest.raises(ConfigError, match=r"world\.dimm: unknown key"):
        from_dict(ModelConfig, {"world": {"dimm": 3}})


def test_wrong_type_names_key_value_and_expectation():
    with pytest.raises(ConfigError, match=r"cameras\[0\]\.width: got 'wide', expected an integer"):
        from_dict(RobotConfig, {"cameras": [{"name": "a", "topic": "/a", "width": "wide", "height": 2}]})


def test_validation_rules_run_after_types():
    with pytest.raises(ConfigError, match="image_size"):
        from_dict(ModelConfig, {"image_size": [30, 30]})
    with pytest.raises(ConfigError, match="K: got -1"):
        from_dict(PlannerConfig, {"K": -1})


def test_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("robot: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml: invalid YAML"):
        load(RobotConfig, bad, section="robot")
    missing = tmp_path / "none.yaml"
    with pytest.raises(ConfigError, match="none.yaml: cannot read"):
        load(RobotConfig, missing)
    other = tmp_path / "other.yaml"
    other.write_text("planner: {K: 1}\n")
    with pytest.raises(ConfigError, match="other.yaml: missing top-level section 'robot'"):
        load(RobotConfig, other, section="robot")


@pytest.mark.parametrize("name", ["sim_drawer.yaml", "piper_drawer.yaml"])
def test_shipped_robot_configs_load(name):
    robot = load(RobotConfig, CONFIG_DIR / name, section="robot")
    assert robot.camera_names == ["cam_high", "cam_left_wrist", "cam_right_wrist"]
    assert len(robot.joint_names) == 14 and robot.joint_names[6] == "left_gripper"
