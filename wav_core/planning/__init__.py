"""Iterative latent planning over the world and value noise distributions."""

from .config import PlannerConfig
from .gaussian import Gaussians, elite_count, elite_update
from .noise import PlanNoise
from .planner import LatentPlanner, PlanTensors
from .policy import PlanResult, WAVPolicy, random_policy
from .scoring import score_values, snr

__all__ = [
    "PlannerConfig", "elite_count", "elite_update", "PlanNoise", "Gaussians", "LatentPlanner", "PlanTensors",
    "PlanResult", "WAVPolicy", "random_policy", "score_values", "snr",
]
