"""Expert takeovers: demonstrations that begin where a trained policy's own motion left the arm.

A policy that imitates demonstrations drifts into states they never visit (an approach a few
centimetres beside the object, a gripper closed early) and has never seen how to recover from
them: its errors compound. Relabelling the states the learner visits with the teacher's actions
is the standard remedy (DAgger). Here the policy drives the twin through the robot's own control
loop for a lead time drawn per seed, then the scripted expert, which re-plans every tick from
the live object and tool poses, takes the arm over from that state and finishes the task. Only
the expert's part is recorded, so every command in the bag is the teacher's and the episode's
outcome is the teacher's from the learner's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config.loader import ConfigError
from ..planning.config import PlannerConfig


def _lead_planner() -> PlannerConfig:
    """The drawer protocol's K = 0 evaluation: no planning, the mode of the action's flow."""
    return PlannerConfig(K=0, M=8, N=2, S=5, action_temperature=0.0)


@dataclass
class PolicyLead:
    model: str
    """Model directory of the policy that leads."""
    seconds: tuple[float, float] = (1.5, 4.0)
    """Lead time range, sim seconds; each episode's is drawn uniformly from it by its seed."""
    planner: PlannerConfig = field(default_factory=_lead_planner)
    threads: int = 1
    """Torch threads of the policy in each recording process."""

    def validate(self) -> None:
        if not (Path(self.model) / "model.yaml").is_file():
            raise ConfigError(f"lead model: {self.model} has no model.yaml, expected a model directory (wav export)")
        lo, hi = self.seconds
        if not 0 < lo <= hi:
            raise ConfigError(f"lead seconds: got {list(self.seconds)}, expected 0 < min <= max")
        if self.threads < 1:
            raise ConfigError(f"lead threads: got {self.threads}, expected >= 1")

    def lead_seconds(self, seed: int) -> float:
        """The seed alone decides, so a parallel recording gives the same episodes as a serial one."""
        lo, hi = self.seconds
        return float(np.random.default_rng([int(seed), 0x1EAD]).uniform(lo, hi))

    def load(self):
        from ..planning.policy import WAVPolicy

        return WAVPolicy.load(self.model, self.planner)


def lead_episode(env, policy, seed: int, seconds: float):
    """Reset `env` to `seed` and let `policy` drive it for `seconds` in the evaluation's sync protocol
    (plan, then execute the chunk); the env is left in the state the policy reached. Returns the
    closed-loop EpisodeResult of the lead."""
    from ..eval.closed_loop import EvalConfig, run_episode

    return run_episode(policy, env, seed, EvalConfig(task=env.task.name, episodes=1, seed=seed,
                                                     max_seconds=seconds, mode="sync"))
