"""Configs load from YAML through one loader; every mistake names the key and what was expected."""

from pathlib import Path

import pytest

from wav_core.config import ConfigError, RobotConfig, from_dict, load, read_yaml
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


def test_a_config_states_only_what_differs_from_its_base(tmp_path):
    (tmp_path / "rig.yaml").write_text("policy: {model: a, planner: {K: 1, M: 8}}\nsim: {task: drawer, seed: 0}\n")
    (tmp_path / "variant.yaml").write_text("base: rig.yaml\npolicy: {planner: {K: 3}}\nsim: {task: bowl}\n")
    assert read_yaml(tmp_path / "variant.yaml") == {
        "policy": {"model": "a", "planner": {"K": 3, "M": 8}}, "sim": {"task": "bowl", "seed": 0}}


def test_the_shipped_bowl_config_is_the_drawer_rig_with_the_bowl_task():
    bowl, drawer = read_yaml(CONFIG_DIR / "sim_bowl.yaml"), read_yaml(CONFIG_DIR / "sim_drawer.yaml")
    assert bowl["sim"]["task"] == "bowl" and bowl["policy"]["model"] == "sim_bowl"
    assert bowl["robot"]["cameras"] == drawer["robot"]["cameras"] and bowl["run"] == drawer["run"]
    assert load(RobotConfig, CONFIG_DIR / "sim_bowl.yaml", section="robot").instruction == "put the cup into the bowl"


def test_bad_bases_are_named(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match=r"b.yaml: base: a.yaml is already being read \(the bases form a cycle\)"):
        read_yaml(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("base: [a.yaml]\n")
    with pytest.raises(ConfigError, match=r"c.yaml: base: got \['a.yaml'\], expected the file name of another config"):
        read_yaml(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text("base: gone.yaml\n")
    with pytest.raises(ConfigError, match=r"gone.yaml: cannot read config file"):
        read_yaml(tmp_path / "d.yaml")
