"""Iterative latent planning over the world and value noise distributions."""

from .config import PlannerConfig
from .gaussian import elite_count, elite_update
from .noise import PlanNoise
from .planner import Gaussians, LatentPlanner, PlanTensors
from .policy import PlanResult, WAVPolicy, random_policy
from .scoring import snr

__all__ = [
    "PlannerConfig", "elite_count", "elite_update", "PlanNoise", "Gaussians", "LatentPlanner", "PlanTensors",
    "PlanResult", "WAVPolicy", "random_policy", "snr",
]
