"""A recorded expert demonstration, executed through the robot's control loop chunk by chunk, does
what the expert did: a policy that imitates the demonstrations perfectly commands motions the loop
carries out (the expert moves within the loop's safety limits; README, run 17)."""

import numpy as np
import pytest

from wav_core.eval.closed_loop import EvalConfig, run_episode
from wav_core.planning import PlannerConfig, random_policy
from wav_core.planning.policy import EpisodePolicy, PlanResult
from wav_core.sim.env import SimEnv
from wav_core.sim.rollout import run_expert


class RecordedChunks(EpisodePolicy):
    """Plans the recorded commands from the tick the sim clock has reached: an open-loop policy
    that imitates one demonstration without error."""

    def __init__(self, policy, env: SimEnv, commands: np.ndarray):
        super().__init__(policy)
        self.env, self.horizon = env, policy.cfg.action_horizon
        self.commands = np.concatenate([commands, np.repeat(commands[-1:], self.horizon, 0)])

    def plan(self, images, state, instruction=None, *, seed=None, warm=False) -> PlanResult:
        i = min(int(round(self.env.time * self.env.robot.tick_hz)), len(self.commands) - self.horizon)
        return PlanResult(actions=self.commands[i:i + self.horizon].astype(np.float32),
                          values=np.zeros((self.horizon, self.policy.cfg.value_channels), np.float32), snr=0.0)


@pytest.mark.parametrize("seed", [10001, 10002])
def test_an_expert_demonstration_replays_through_the_control_loop(seed):
    # Seeds on which a plain rate-limiting filter and a fade from a step held still made the replay fail.
    with SimEnv("drawer", render=False) as quiet:
        demo = run_expert(quiet, seed)
    assert demo.success
    policy = random_policy("tiny", PlannerConfig(K=0, M=1, N=1, S=2), model_overrides={"action_horizon": 16})
    cfg = EvalConfig(task="drawer", episodes=1, max_seconds=demo.duration_s + 1.0, mode="sync")
    with SimEnv("drawer") as env:
        res = run_episode(RecordedChunks(policy, env, demo.commands), env, seed, cfg)
    assert not res.stopped, res.stopped
    assert res.success and all(res.subgoals.values()), res.subgoals
