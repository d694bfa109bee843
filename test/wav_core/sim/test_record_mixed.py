"""`wav sim record --quality mixed`: failures are recorded, reported honestly and imported."""

import json

import numpy as np
import pytest
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore
from wav_test_support import write_small_rig

from wav_core.cli.main import main
from wav_core.config.loader import load
from wav_core.config.robot import RobotConfig
from wav_core.data.dataset import load_dataset
from wav_core.data.import_bags import import_bags
from wav_core.robot import piper
from wav_core.sim import SimEnv
from wav_core.sim.experts import make_expert
from wav_core.sim.experts.degraded import servo_targets
from wav_core.sim.quality import QualityConfig, choose_quality
from wav_core.sim.scene import TIMESTEP_S

SEEDS = (0, 1)
"""With the default mix the bowl's seed 0 grasps late (the cup stays on the table), seed 1 is clean."""


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    write_small_rig(root / "rig.yaml")
    rc = main(["sim", "record", "--task", "bowl", "--episodes", str(len(SEEDS)), "--seed", str(SEEDS[0]),
               "--out", str(root / "bags"), "--config", str(root / "rig.yaml"), "--quality", "mixed",
               "--workers", "2"])
    assert rc == 0
    robot = load(RobotConfig, root / "rig.yaml", section="robot")
    return root / "bags", robot, json.loads((root / "bags" / "summary.json").read_text())


def test_summary_has_a_failure_and_a_success_with_their_modes(mixed):
    _, _, summary = mixed
    assert summary["quality"] == "mixed" and summary["quality_config"]["mix"] == QualityConfig().mix
    eps = summary["per_episode"]
    assert [e["quality"]["mode"] for e in eps] == ["late_grasp", "expert"]
    for e in eps:
        chosen = choose_quality(e["seed"], "bowl", QualityConfig()).to_dict()
        assert {k: v for k, v in e["quality"].items() if k != "events"} == chosen, "the seed alone decides"
    assert [e["success"] for e in eps] == [False, True]
    assert [e["subgoals"] for e in eps] == [{"grasped": False, "placed": False}, {"grasped": True, "placed": True}]
    assert summary["by_mode"] == {"late_grasp": {"episodes": 1, "successes": 0},
                                  "expert": {"episodes": 1, "successes": 1}}


def _commands(bag_dir, robot: RobotConfig) -> np.ndarray:
    """The recorded 14-D servo targets, one row per decision tick."""
    ts = get_typestore(Stores.ROS2_KILTED)
    per_arm = {}
    with Reader(bag_dir) as reader:
        for arm in robot.arms:
            conns = [c for c in reader.connections if c.topic == arm.command_topic]
            per_arm[arm.name] = [ts.deserialize_cdr(raw, c.msgtype).position for c, _, raw in reader.messages(conns)]
    return np.concatenate([np.array(per_arm["left"]), np.array(per_arm["right"])], axis=1)


def test_flags_match_the_simulator_replaying_the_bag(mixed):
    """The bag's commands, replayed in a fresh simulator, end where the task's own check agrees with
    summary.json: the reported outcome is the simulator's, not the script's intent."""
    bags, robot, summary = mixed
    steps = int(round(1.0 / robot.tick_hz / TIMESTEP_S))
    with SimEnv("bowl", robot=robot, render=False) as env:
        for e in summary["per_episode"]:
            env.reset(e["seed"])
            info = env.info()
            for command in _commands(bags / e["bag"], robot):
                env.set_targets(command)
                env.step_physics(steps)
                info = env.info()
            assert env.time == pytest.approx(e["duration_s"], abs=1e-6)
            assert env.task.conditions(env.model, env.data)["success"] == e["success"]
            assert {k: info[k] for k in env.task.subgoals} == e["subgoals"]


def test_import_keeps_the_failed_episode_with_its_outcome(mixed, tmp_path):
    bags, robot, summary = mixed
    import_bags([bags], robot, tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    assert [e.success for e in ds.episodes] == [False, True]
    assert [e.quality_mode for e in ds.episodes] == ["late_grasp", "expert"]
    assert ds.episodes[0].quality == summary["per_episode"][0]["quality"]
    assert ds.episodes[1].subgoals == {"grasped": True, "placed": True}
    assert ds.episodes[0].ticks > 100, "the whole failed episode, not a stub"


def test_a_disturbed_episode_records_the_experts_commands_not_the_pushed_servos(tmp_path):
    """The bag of a `disturb` episode holds the corrective commands a policy should learn; replaying
    the same seed without rendering gives those commands and, beside them, the pushed servo targets."""
    write_small_rig(tmp_path / "rig.yaml")
    assert main(["sim", "record", "--task", "bowl", "--episodes", "1", "--seed", "1", "--max-duration", "2.5",
                 "--out", str(tmp_path / "bags"), "--config", str(tmp_path / "rig.yaml"), "--quality", "mixed",
                 "--mix", "disturb=1", "--disturb-stds", "0.03"]) == 0
    robot = load(RobotConfig, tmp_path / "rig.yaml", section="robot")
    episode = json.loads((tmp_path / "bags" / "summary.json").read_text())["per_episode"][0]
    assert episode["quality"] == {"mode": "disturb", "std_rad": 0.03, "tau_s": QualityConfig().noise_tau_s}
    recorded = _commands(tmp_path / "bags" / episode["bag"], robot)
    commands, servos = [], []
    with SimEnv("bowl", robot=robot, render=False) as env:
        obs = env.reset(1)
        expert = make_expert("bowl", env, seed=1, quality=choose_quality(1, "bowl", QualityConfig(
            mix={"disturb": 1.0}, disturb_stds=[0.03])))
        for _ in range(len(recorded)):
            commands.append(piper.clip_dual(expert.act(obs)))
            servos.append(servo_targets(expert, commands[-1]))
            obs, _ = env.step(servos[-1])
    np.testing.assert_allclose(recorded, np.array(commands), atol=1e-6)
    assert np.abs(recorded - np.array(servos)).max() > 0.02, "the servos were pushed off the commands"
