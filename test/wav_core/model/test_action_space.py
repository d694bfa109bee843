"""`action_space: delta`: the action expert generates offsets from the state at the tick. The
offsets' range comes from the training data, round-trips through run and model files, and a plan's
chunk is the decoded offsets added to the observed state."""

import dataclasses

import h5py
import numpy as np
import pytest
import torch
import yaml

from wav_core.config.loader import ConfigError, from_dict
from wav_core.data.action_deltas import chunk_offsets, offset_range
from wav_core.data.dataset import load_dataset
from wav_core.model.config import ModelConfig
from wav_core.model.files import ModelCard
from wav_core.model.normalize import Normalizer
from wav_core.planning import PlannerConfig, WAVPolicy
from wav_core.training.config import StageConfig, TrainConfig
from wav_core.training.export import export_run
from wav_core.training.objectives import action_loss
from wav_core.training.run_config import RunConfig
from wav_core.training.trainer import train
from wav_test_support import synthetic_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return synthetic_dataset(tmp_path_factory.mktemp("delta_data"))


def delta_normalizer() -> Normalizer:
    return Normalizer(delta_min=[-0.5] * 14, delta_max=[0.3] * 14, action_min=[-2.0] * 14, action_max=[3.0] * 14)


def test_offsets_round_trip_and_holding_still_is_one_point():
    norm = delta_normalizer()
    g = torch.Generator().manual_seed(0)
    state = torch.rand(3, 14, generator=g)
    actions = state[:, None, :] + 0.2 * torch.randn(3, 16, 14, generator=g)
    encoded = norm.encode_actions(actions, state, "delta")
    torch.testing.assert_close(norm.decode_actions(encoded, state, "delta"), actions)
    # Holding the pose is the same point in model space at every state (offset 0 -> 0.25 here).
    hold = norm.encode_actions(state[:, None, :].expand(3, 16, 14), state, "delta")
    torch.testing.assert_close(hold, torch.full_like(hold, 2 * 0.5 / 0.8 - 1))
    # The absolute space ignores the state.
    torch.testing.assert_close(norm.encode_actions(actions, state, "absolute"), norm.action(actions))


def test_decoded_chunks_stay_inside_the_training_actions_range():
    """Offsets add up in closed loop: from a state at the edge of the data, a chunk that would leave
    the range the policy was trained on stops at its edge instead of walking on to the joint limits."""
    norm = dataclasses.replace(delta_normalizer(), action_min=[-1.0] * 14, action_max=[1.0] * 14)
    state = torch.full((1, 14), 0.9)
    offsets = torch.linspace(0.0, 0.3, 16)[None, :, None].expand(1, 16, 14)
    decoded = norm.decode_actions(norm.encode_actions(state[:, None, :] + offsets, state, "delta"), state, "delta")
    torch.testing.assert_close(decoded[0, :, 0], torch.clamp(0.9 + offsets[0, :, 0], max=1.0))
    assert decoded.max() == 1.0 and decoded[0, 0, 0] == 0.9


def test_a_delta_card_without_offset_ranges_is_refused():
    card = ModelCard(config=dataclasses.replace(ModelConfig(), action_space="delta"))
    with pytest.raises(ConfigError, match=r"normalization.delta_min: got None, expected 14 offsets"):
        card.validate()
    with pytest.raises(ValueError, match=r"normalization.delta_min: missing"):
        Normalizer().encode_actions(torch.zeros(1, 16, 14), torch.zeros(1, 14), "delta")


def test_unknown_action_space_is_named():
    with pytest.raises(ConfigError, match=r"action_space: got 'joint_velocity', expected one of \['absolute', 'delta'\]"):
        from_dict(ModelConfig, {"action_space": "joint_velocity"}, "model").validate()


def test_offset_range_covers_the_chunks_of_the_data(dataset):
    data = load_dataset(dataset)
    offsets = chunk_offsets(data, 4)
    assert offsets.shape == (sum(e.ticks for e in data.episodes) * 4, 14)
    lo, hi = offset_range(data, 4)
    q01, q99 = np.quantile(offsets, [0.01, 0.99], axis=0)
    assert np.all(np.array(lo) <= q01) and np.all(np.array(hi) >= q99)
    # A one-step horizon at the first tick of each episode: action[0] - state[0].
    first = chunk_offsets(data, 1)
    with h5py.File(data.episodes[0].path, "r") as f:
        np.testing.assert_allclose(first[0], f["action"][0] - f["state"][0])


def test_a_delta_run_trains_on_offsets_and_its_plans_are_relative_to_the_state(dataset, tmp_path):
    stage = StageConfig(steps=2, warmup=1, batch_size=2, lr=1e-3)
    cfg = RunConfig(preset="tiny", model={"action_space": "delta"}, num_workers=0, checkpoint_every=2, image_every=0,
                    log_every=1, train=TrainConfig(tokenizer=stage, world=stage, value=stage, action=stage))
    result = train(tmp_path / "run", cfg, dataset, ["tokenizer", "world", "value", "action"], progress=False,
                   log=lambda s: None)
    card = yaml.safe_load((tmp_path / "run" / "run.yaml").read_text())["card"]
    horizon = result.model.cfg.action_horizon
    expected = offset_range(load_dataset(dataset), horizon)
    np.testing.assert_allclose(card["normalization"]["delta_min"], expected[0])
    np.testing.assert_allclose(card["normalization"]["delta_max"], expected[1])

    # The loss target is the offset: a batch whose chunk holds the state has the same loss at any state.
    norm = from_dict(Normalizer, card["normalization"])
    model = result.model.eval()
    h, w = model.cfg.image_size
    v = len(model.cfg.views)
    g = torch.Generator().manual_seed(1)
    base = {"history": torch.rand(2, v, 2, 3, h, w, generator=g), "future": torch.rand(2, v, 2, 3, h, w, generator=g),
            "values": torch.zeros(2, horizon, 17), "instruction": ["open the drawer"] * 2}
    losses = []
    for shift in (0.0, 0.4):
        state = torch.full((2, 14), 0.1 + shift)
        # The state also enters the action expert as input: give it the same normalised state each time.
        norm_state = dataclasses.replace(norm, state_min=[m + shift for m in norm.state_min],
                                         state_max=[m + shift for m in norm.state_max])
        batch = dict(base, state=state, actions=state[:, None, :].expand(2, horizon, 14).clone())
        with torch.no_grad():
            losses.append(action_loss(model, batch, norm_state, torch.Generator().manual_seed(2))[0])
    torch.testing.assert_close(losses[0], losses[1])

    policy = WAVPolicy.load(export_run(tmp_path / "run", tmp_path / "model"), PlannerConfig(K=0, M=4, N=2, S=2))
    images = np.zeros(policy.image_shape, dtype=np.uint8)
    state = np.full(14, 0.2)
    res = policy.plan(images, state, seed=3)
    noise = policy.sample_noise(3)
    hist, state_t, instruction = policy._inputs(images, state, None)
    out = policy.planner.plan(policy.planner.backend.context(hist[None], [instruction]), state_t[None], noise)
    trained = policy.card.normalization
    unbounded = dataclasses.replace(trained, action_min=[-1e3] * 14, action_max=[1e3] * 14)
    offsets = unbounded.decode_actions(out.actions, torch.zeros(14), "delta").numpy()
    # The chunk is the offsets added to the state, inside the range of the training actions.
    np.testing.assert_allclose(res.actions, np.clip(offsets + state, trained.action_min, trained.action_max), atol=1e-5)
