"""Same bag, model and seed: the same metrics.json, field for field (wall-clock latency aside)."""

from __future__ import annotations

import json

from wav_core.planning import PlannerConfig, WAVPolicy
from wav_core.replay import LATENCY_FIELDS, ReplayConfig, replay_bag

FAST = PlannerConfig(K=1, M=2, N=2, S=2)


def _metrics(path) -> dict:
    m = json.loads((path / "metrics.json").read_text())
    return {k: v for k, v in m.items() if k not in LATENCY_FIELDS}


def test_same_seed_reproduces_metrics_and_another_seed_does_not(tmp_path, robot, rig_bag, tiny_model):
    cfg = ReplayConfig(seed=11, write_report=False, write_predictions=False)
    for run in ("a", "b"):
        replay_bag(rig_bag, tmp_path / run, robot, WAVPolicy.load(tiny_model, FAST), cfg)
    first, second = _metrics(tmp_path / "a"), _metrics(tmp_path / "b")
    assert first == second
    assert first["decision_seeds"] == [11 + k for k in range(first["decisions"])]

    cfg.seed = 12
    replay_bag(rig_bag, tmp_path / "c", robot, WAVPolicy.load(tiny_model, FAST), cfg)
    other = _metrics(tmp_path / "c")
    assert other["value_total"] != first["value_total"] and other["per_joint_mae"] != first["per_joint_mae"]
