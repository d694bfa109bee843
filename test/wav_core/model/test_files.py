"""A model directory round-trips exactly, and every broken file is reported by name."""

import numpy as np
import pytest
import yaml

from wav_core.model import load_model, save_model
from wav_core.planning import PlannerConfig, WAVPolicy, random_policy


@pytest.fixture()
def saved(tmp_path):
    cfg = PlannerConfig(K=1, M=4, N=2, S=3)
    policy = random_policy("tiny", cfg, seed=5)
    policy.card.instruction = "open the drawer"
    path = save_model(tmp_path / "model", policy.model, policy.card)
    return policy, path, cfg


def test_save_then_load_gives_identical_plans(saved):
    policy, path, cfg = saved
    loaded = WAVPolicy.load(path, cfg)
    images = np.random.default_rng(0).integers(0, 256, policy.image_shape, dtype=np.uint8)
    a = policy.plan(images, np.zeros(14) + 0.1, seed=4)
    b = loaded.plan(images, np.zeros(14) + 0.1, seed=4)
    np.testing.assert_array_equal(a.actions, b.actions)
    assert loaded.card.instruction == "open the drawer"
    assert sorted(p.name for p in path.iterdir()) == ["model.yaml", "weights.safetensors"]


def test_missing_files_are_named(saved, tmp_path):
    _, path, _ = saved
    with pytest.raises(FileNotFoundError, match="nowhere: model directory not found"):
        load_model(tmp_path / "nowhere")
    (path / "weights.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="weights.safetensors: missing"):
        load_model(path)
    (path / "model.yaml").unlink()
    with pytest.raises(FileNotFoundError, match="model.yaml: missing"):
        load_model(path)


def test_corrupt_weights_are_named(saved):
    _, path, _ = saved
    (path / "weights.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="weights.safetensors: corrupt"):
        load_model(path)


def test_config_that_does_not_match_the_weights_is_named(saved):
    _, path, _ = saved
    card = yaml.safe_load((path / "model.yaml").read_text())
    card["config"]["world"]["dim"] = 32
    (path / "model.yaml").write_text(yaml.safe_dump(card))
    with pytest.raises(ValueError, match=r"weights.safetensors: tensor .* has shape .* model.yaml expects"):
        load_model(path)


def test_unknown_key_in_model_yaml_is_named(saved):
    _, path, _ = saved
    card = yaml.safe_load((path / "model.yaml").read_text())
    card["colour"] = "blue"
    (path / "model.yaml").write_text(yaml.safe_dump(card))
    with pytest.raises(ValueError, match="model.yaml: colour: unknown key"):
        load_model(path)
