"""Offline replay of recorded runs through the shared ControlLoop (no ROS imports)."""

from .config import ReplayConfig, decision_seed
from .metrics import LATENCY_FIELDS, Decision, Recording
from .offline import METRICS_FILE, PREDICTIONS_DIR, TIMING_FILE, ReplayResult, check_model, replay_bag
from .predictions import CHUNK_TOPIC, CHUNK_TYPE, PLAN_INFO_TOPIC, PLAN_INFO_TYPE

__all__ = [
    "ReplayConfig", "decision_seed", "LATENCY_FIELDS", "Decision", "Recording", "METRICS_FILE", "PREDICTIONS_DIR",
    "TIMING_FILE", "ReplayResult", "check_model", "replay_bag", "CHUNK_TOPIC", "CHUNK_TYPE", "PLAN_INFO_TOPIC",
    "PLAN_INFO_TYPE",
]
