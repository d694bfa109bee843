"""`action_futures: imagined`: stage 3 trains the action expert on the futures and values a plan
gives it, each sample's drawn once from the sample itself."""

import dataclasses

import pytest
import torch

from wav_core.config.loader import ConfigError
from wav_core.model.normalize import Normalizer
from wav_core.model.presets import tiny
from wav_core.model.wav import WAVModel
from wav_core.training.imagined_futures import ImaginedFutures, imagine
from wav_core.training.objectives import action_loss, batch_context
from wav_core.training.trainer import train

from .test_train import dataset, tiny_run  # noqa: F401  (the module's synthetic dataset fixture)


def model_and_batch(action_futures="imagined", b=3, seed=0):
    torch.manual_seed(seed)
    cfg = dataclasses.replace(tiny(), conditioning="future", action_futures=action_futures)
    model = WAVModel(cfg).eval()
    with torch.no_grad():  # experts that answer, so what they read shows in the loss
        model.value.out.weight.normal_(0, 0.1)
        model.action.out.weight.normal_(0, 0.1)
    g = torch.Generator().manual_seed(seed)
    h, w = cfg.image_size
    v = len(cfg.views)
    batch = {
        "history": torch.rand(b, v, cfg.n_history, 3, h, w, generator=g),
        "future": torch.rand(b, v, cfg.n_future, 3, h, w, generator=g),
        "instruction": ["open the drawer"] * b,
        "values": torch.randn(b, cfg.action_horizon, cfg.value_channels, generator=g),
        "actions": torch.rand(b, cfg.action_horizon, cfg.action_dim, generator=g),
        "state": torch.rand(b, cfg.state_dim, generator=g),
        "episode": torch.tensor([0, 0, 1][:b]),
        "tick": torch.tensor([5, 6, 5][:b]),
    }
    return model, batch


def _loss(model, batch):
    return float(action_loss(model, batch, Normalizer(), torch.Generator().manual_seed(3))[0].detach())


def test_the_imagined_future_is_the_one_the_planner_reads():
    model, batch = model_and_batch()
    cfg = model.cfg
    with torch.no_grad():
        ctx = batch_context(model, batch, None)
        z_vid = torch.randn(3, *cfg.future_latent_shape)
        z_val = torch.randn(3, *cfg.value_shape)
        x, values = imagine(model, ctx, z_vid, z_val)
        planner_states = model.world_features(ctx, z_vid, 0, cfg.imagined_flow_steps)
        states = model.world_states(ctx.memory, x, model.feature_time(), ctx)
        for a, b in zip(states, planner_states):
            torch.testing.assert_close(a, b)
        torch.testing.assert_close(
            values, model.solve_value(model.value.video_kv(planner_states), z_val, cfg.imagined_flow_steps))


def test_an_imagined_action_stage_reads_no_true_future_or_value():
    for action_futures, depends in (("imagined", False), ("true", True)):
        model, batch = model_and_batch(action_futures)
        other = dict(batch, future=torch.rand_like(batch["future"]), values=torch.randn_like(batch["values"]))
        changed = abs(_loss(model, batch) - _loss(model, other)) > 1e-7
        assert changed == depends, action_futures


def test_a_sample_imagines_the_same_future_in_any_batch_and_only_once():
    model, batch = model_and_batch()
    kept = ImaginedFutures(seed=0)
    with torch.no_grad():
        kept.fill(model, batch, batch_context(model, batch, None))
    assert len(kept) == 3
    first = batch["imagined_future"].clone()
    # Sample (0, 6) again, next to a new one, in another position: the same future, one new entry.
    _, other = model_and_batch(b=2)
    other["episode"], other["tick"] = torch.tensor([2, 0]), torch.tensor([5, 6])
    other["history"] = torch.stack([other["history"][0], batch["history"][1]])
    with torch.no_grad():
        kept.fill(model, other, batch_context(model, other, None))
    assert len(kept) == 4
    torch.testing.assert_close(other["imagined_future"][1], first[1])
    assert not torch.equal(first[0], first[2])  # two samples, two noises
    # The loss reads the kept futures: replacing them changes it.
    assert abs(_loss(model, batch) - _loss(model, dict(batch, imagined_future=torch.randn_like(first)))) > 1e-7


def test_imagined_futures_need_the_future_conditioning_and_a_known_name():
    with pytest.raises(ConfigError, match="action_futures: imagined needs conditioning: future"):
        dataclasses.replace(tiny(), conditioning="paper", action_futures="imagined").validate()
    with pytest.raises(ConfigError, match=r"action_futures: got 'dreamed', expected one of \['true', 'imagined'\]"):
        dataclasses.replace(tiny(), conditioning="future", action_futures="dreamed").validate()
    with pytest.raises(ConfigError, match="imagined_flow_steps: got 0"):
        dataclasses.replace(tiny(), conditioning="future", action_futures="imagined",
                            imagined_flow_steps=0).validate()


def test_a_resumed_imagined_action_stage_repeats_the_uninterrupted_one(dataset, tmp_path):  # noqa: F811
    cfg = tiny_run(model={"conditioning": "future", "action_futures": "imagined"})
    logs = []
    full = train(tmp_path / "full", cfg, dataset, ["world", "value", "action"], progress=False, log=logs.append)
    assert any("futures imagined" in line for line in logs)
    train(tmp_path / "cut", cfg, dataset, ["world", "value"], progress=False, log=lambda s: None)
    train(tmp_path / "cut", cfg, dataset, ["action"], resume=True, max_steps=2, progress=False, log=lambda s: None)
    resumed = train(tmp_path / "cut", cfg, dataset, ["action"], resume=True, progress=False, log=lambda s: None)
    assert resumed.losses["action"] == pytest.approx(full.losses["action"], rel=1e-5)
