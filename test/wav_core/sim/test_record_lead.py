"""`wav sim record --lead-model`: a policy drives first, then the clean expert takes over from the
state the policy left, and the bag holds the expert's part only."""

import json

import numpy as np
import pytest
import torch
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore
from wav_test_support import write_small_rig

from wav_core.cli.main import main
from wav_core.config.loader import load
from wav_core.config.robot import RobotConfig
from wav_core.model.files import save_model
from wav_core.planning import PlannerConfig, random_policy
from wav_core.robot import piper
from wav_core.sim import SimEnv
from wav_core.sim.bag import EPOCH_NS
from wav_core.sim.experts import make_expert
from wav_core.sim.lead import PolicyLead, lead_episode
from wav_core.sim.record import record_dataset

SEED = 3
LEAD = "0.6,1.2"


@pytest.fixture(scope="module")
def moving_model_dir(tmp_path_factory):
    """The tiny preset with an action head that is not zero, so the leading policy moves the arms."""
    policy = random_policy("tiny", PlannerConfig(K=0, M=2, N=2, S=2))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        head = policy.model.action.out
        head.weight.copy_(torch.randn(head.weight.shape, generator=gen) * 0.3)
        head.bias.copy_(torch.randn(head.bias.shape, generator=gen) * 0.3)
    return save_model(tmp_path_factory.mktemp("models") / "moving", policy.model, policy.card)


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    return write_small_rig(tmp_path_factory.mktemp("rig") / "rig.yaml")


@pytest.fixture(scope="module")
def led(tmp_path_factory, moving_model_dir, rig):
    out = tmp_path_factory.mktemp("led") / "bags"
    assert main(["sim", "record", "--task", "drawer", "--episodes", "1", "--seed", str(SEED), "--max-duration", "2.0",
                 "--out", str(out), "--config", str(rig), "--lead-model", str(moving_model_dir),
                 "--lead-seconds", LEAD]) == 0
    return out, json.loads((out / "summary.json").read_text())


def _messages(bag_dir, topic: str):
    ts = get_typestore(Stores.ROS2_KILTED)
    with Reader(bag_dir) as reader:
        conns = [c for c in reader.connections if c.topic == topic]
        return [(stamp, ts.deserialize_cdr(raw, c.msgtype)) for c, stamp, raw in reader.messages(conns)]


def _stamp(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def test_the_bag_starts_where_the_policy_left_the_arm_and_holds_the_experts_commands(led, moving_model_dir, rig):
    out, summary = led
    episode = summary["per_episode"][0]
    lead = PolicyLead(str(moving_model_dir), (0.6, 1.2))
    assert episode["lead_s"] == pytest.approx(lead.lead_seconds(SEED), abs=1e-3)
    assert 0.6 <= episode["lead_s"] <= 1.2
    assert summary["lead"]["model"] == str(moving_model_dir)
    robot = load(RobotConfig, rig, section="robot")
    bag = out / episode["bag"]
    commands = {arm.name: _messages(bag, arm.command_topic) for arm in robot.arms}
    feedback = {arm.name: _messages(bag, arm.feedback_topic) for arm in robot.arms}
    assert _stamp(commands["left"][0][1]) == pytest.approx(EPOCH_NS * 1e-9, abs=1e-6), "the clock starts at the takeover"
    recorded = np.concatenate([np.array([m.position for _, m in commands[a]]) for a in ("left", "right")], axis=1)
    assert len(recorded) == pytest.approx((2.0 - episode["lead_s"]) * robot.tick_hz, abs=1.5), "the expert's part only"
    first_state = np.concatenate([np.array(feedback[a][0][1].position) for a in ("left", "right")])

    with SimEnv("drawer", robot=robot) as env:
        lead_episode(env, lead.load(), SEED, episode["lead_s"])
        state = env.joint_state()
        assert episode["lead_progress"] == pytest.approx(env.task.progress(env.model, env.data), abs=1e-3)
        assert np.abs(state - piper.HOME).max() > 0.02, "the policy moved the arms before the takeover"
        np.testing.assert_allclose(first_state, state, atol=1e-4)
        expert = make_expert("drawer", env)
        expected = []
        for _ in range(len(recorded)):
            expected.append(piper.clip_dual(expert.act(None)))
            env.step(expected[-1])
    np.testing.assert_allclose(recorded, np.array(expected), atol=1e-4)
    assert episode["duration_s"] == pytest.approx(2.0, abs=0.06), "max_duration counts from the reset"


def test_lead_settings_are_checked_before_recording(moving_model_dir, tmp_path, capsys):
    with pytest.raises(ValueError, match="lead seconds: got up to 3.0 s, expected less than max_duration_s 2.0"):
        record_dataset("drawer", 1, 0, tmp_path / "a", max_duration_s=2.0,
                       lead=PolicyLead(str(moving_model_dir), (1.0, 3.0)))
    with pytest.raises(ValueError, match="the expert that takes over is the clean one"):
        record_dataset("drawer", 1, 0, tmp_path / "b", noise=0.05, lead=PolicyLead(str(moving_model_dir)))
    with pytest.raises(ValueError, match=f"lead model: {tmp_path} has no model.yaml"):
        record_dataset("drawer", 1, 0, tmp_path / "c", lead=PolicyLead(str(tmp_path)))
    assert main(["sim", "record", "--out", str(tmp_path / "d"), "--lead-model", str(moving_model_dir),
                 "--lead-seconds", "2"]) == 2
    assert "--lead-seconds: got '2', expected MIN,MAX" in capsys.readouterr().err
    assert not any((tmp_path / d).exists() for d in "abcd"), "nothing is written for bad settings"
