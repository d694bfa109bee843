"""Every model shipped in models/ loads through the model-file checks, carries its card and the
files the card cites, agrees with the rig config that names it, and plans a finite chunk."""

from pathlib import Path

import numpy as np
import pytest

from wav_core.config import RobotConfig, load
from wav_core.planning import PlannerConfig, WAVPolicy
from wav_core.robot.piper import DUAL_LOWER, DUAL_UPPER
from wav_core.runtime.config import PolicyConfig
from wav_ros.config_file import resolve

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.parent for p in (ROOT / "models").glob("*/model.yaml"))
RIG_CONFIGS = {"sim_bowl": "sim_bowl.yaml", "sim_drawer": "sim_drawer.yaml"}


def test_a_simulator_model_is_shipped():
    assert any(p.name in RIG_CONFIGS for p in SHIPPED), f"no simulator model in {ROOT / 'models'}"


@pytest.mark.parametrize("model_dir", SHIPPED, ids=lambda p: p.name)
def test_a_shipped_model_loads_plans_and_cites_its_files(model_dir):
    size_mb = sum(f.stat().st_size for f in model_dir.rglob("*") if f.is_file()) / 1e6
    assert size_mb <= 30, f"{model_dir.name}: {size_mb:.1f} MB"
    card = (model_dir / "MODEL_CARD.md").read_text()
    for cited in ("eval.json", "eval.png", "calibration.json", "calibration.png", "bench.json"):
        if cited in card:
            assert (model_dir / cited).is_file(), f"{model_dir.name}/MODEL_CARD.md cites {cited}, which is missing"
    policy = WAVPolicy.load(model_dir, PlannerConfig(K=1, M=4, N=2, S=2))
    if model_dir.name in RIG_CONFIGS:
        config = ROOT / "config" / RIG_CONFIGS[model_dir.name]
        assert resolve(load(PolicyConfig, config, section="policy").model, "models") == model_dir.resolve()
        robot = load(RobotConfig, config, section="robot")
        assert policy.card.cameras == robot.camera_names and policy.card.joints == robot.joint_names
        assert policy.card.instruction == robot.instruction
    images = np.random.default_rng(0).integers(0, 255, policy.image_shape, dtype=np.uint8)
    res = policy.plan(images, (DUAL_LOWER + DUAL_UPPER) / 2, seed=0)
    assert res.actions.shape == (policy.cfg.action_horizon, 14) and np.all(np.isfinite(res.actions))
