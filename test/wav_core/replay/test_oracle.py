"""Alignment proof: a runtime that plans exactly what was recorded next scores zero error.

The synthetic bag's contents are known in closed form: ticks lie at T0 + k/tick_hz, the command of
tick k is the newest one before the next tick (`command_value` at (k+1)/tick_hz - 1/joint_hz), and the
feedback-only action of tick k is the feedback of tick k + 1 (`joint_trajectory` at (k+1)/tick_hz).
The oracle is injected through `replay_bag(runtime=...)`; a one-tick shift must show up as error.
"""

from __future__ import annotations

import numpy as np
import pytest

from wav_core.data.synthetic import command_value, joint_trajectory
from wav_core.planning import PlanResult
from wav_core.replay import ReplayConfig, replay_bag
from wav_core.runtime.policy_runtime import Chunk


class OracleRuntime:
    """PolicyRuntime-compatible: observe() per tick; the plan of a snapshot is the recorded future chunk."""

    def __init__(self, horizon: int, tick_hz: float, joint_hz: float, source: str, shift: int = 0):
        self.horizon, self.tick_hz, self.joint_hz, self.source, self.shift = horizon, tick_hz, joint_hz, source, shift
        self.tick = -1
        self.instruction = ""

    def observe(self, images, state) -> None:
        self.tick += 1
        np.testing.assert_allclose(state, joint_trajectory(self.tick / self.tick_hz))  # no tick is dropped

    def recorded(self, k: int) -> np.ndarray:
        t_next = (k + 1) / self.tick_hz
        return command_value(t_next - 1 / self.joint_hz) if self.source == "command" else joint_trajectory(t_next)

    def reset(self) -> None:
        self.tick = -1

    def snapshot(self) -> int:
        return self.tick

    def plan_snapshot(self, tick, seed=None, warm=False) -> Chunk:
        actions = np.stack([self.recorded(tick + h + self.shift) for h in range(self.horizon)])
        values = np.zeros((self.horizon, 17))
        return Chunk(actions, tick, PlanResult(actions, values, snr=0.0, iterations=0), latency_ms=0.0)


@pytest.mark.parametrize("bag_name, source", [("rig_bag", "command"), ("feedback_bag", "feedback")])
def test_oracle_predictions_score_zero_error(request, tmp_path, robot, tiny_policy, bag_name, source):
    bag = request.getfixturevalue(bag_name)
    horizon = tiny_policy.cfg.action_horizon
    oracle = OracleRuntime(horizon, robot.tick_hz, robot.joint_hz, source)
    cfg = ReplayConfig(replan_after=3, write_report=False)
    m = replay_bag(bag, tmp_path / "oracle", robot, tiny_policy, cfg, runtime=oracle).metrics
    assert m["action_source"] == source and m["complete"]
    assert m["decision_ticks"] == list(range(0, 40, 3))
    assert m["compared_steps"] > 0 and m["uncompared_steps"] > 0  # chunks run past the end of the bag
    assert max(m["per_joint_mae"].values()) < 1e-8
    assert max(m["per_joint_rmse"].values()) < 1e-8
    assert max(m["mae_by_horizon"]) < 1e-8 and m["gripper_agreement"]["all"] == 1.0


def test_a_chunk_one_tick_late_is_measured(tmp_path, robot, tiny_policy, rig_bag):
    horizon = tiny_policy.cfg.action_horizon
    oracle = OracleRuntime(horizon, robot.tick_hz, robot.joint_hz, "command", shift=1)
    cfg = ReplayConfig(write_report=False, write_predictions=False)
    m = replay_bag(rig_bag, tmp_path / "late", robot, tiny_policy, cfg, runtime=oracle).metrics
    # one tick of the 0.5 rad/s trajectory: about 0.2 * 0.5 * 0.05 rad per joint
    assert 1e-3 < np.mean(list(m["per_joint_mae"].values())) < 1e-2
