"""`action_frame_norm`: the action expert reads the current frame's latents standardised per
feature, with the training set's statistics set once by the action stage and kept with the weights."""

import dataclasses

import pytest
import torch

from wav_core.config.loader import ConfigError
from wav_core.model.files import load_model, save_model
from wav_core.model.presets import tiny
from wav_core.model.wav import WAVModel
from wav_core.planning import random_policy
from wav_core.planning.config import PlannerConfig
from wav_core.training.latent_cache import LatentCache
from wav_core.training.trainer import train

from .test_train import dataset, tiny_run  # noqa: F401  (the module's synthetic dataset fixture)

NORM = dict(action_reads="observation", action_frame_norm=True)


def _model(**kw):
    torch.manual_seed(0)
    return WAVModel(dataclasses.replace(tiny(), **kw)).eval()


def test_frame_tokens_are_the_current_frame_the_world_appends_to_its_states():
    model = _model(**NORM)
    cfg = model.cfg
    memory = torch.randn(2, len(cfg.views), cfg.n_history, cfg.tokenizer.latent_channels, *cfg.latent_hw)
    future = torch.randn(2, len(cfg.views), cfg.n_future, cfg.tokenizer.latent_channels, *cfg.latent_hw)
    text = torch.zeros(2, cfg.text.max_len, cfg.text.dim)
    with torch.no_grad():
        _, states = model.world(memory, future, torch.full((2,), 0.5), text, None, return_states=True,
                                return_velocity=False)
    appended = states[0][:, cfg.world_tokens:, :cfg.tokenizer.latent_channels * cfg.world.patch ** 2]
    torch.testing.assert_close(appended, model.world.frame_tokens(memory[:, :, -1]))


def test_the_statistics_standardise_the_cached_frames():
    model = _model(**NORM)
    cfg = model.cfg
    g = torch.Generator().manual_seed(0)
    scale = torch.rand(1, 1, cfg.tokenizer.latent_channels, *cfg.latent_hw, generator=g) * 5
    cache = LatentCache({e: torch.randn(len(cfg.views), 30 + e, cfg.tokenizer.latent_channels, *cfg.latent_hw,
                                        generator=g) * scale + 3.0 for e in range(3)})
    mean, std = cache.frame_statistics(model.world)
    frames = torch.cat([model.world.frame_tokens(lat.transpose(0, 1)) for lat in cache.latents.values()])
    torch.testing.assert_close(mean, frames.mean(0), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(std, frames.std(0) + 1e-4, atol=1e-5, rtol=1e-5)
    assert model.action.frame_norm_pending
    model.action.set_frame_norm(mean, std)
    assert not model.action.frame_norm_pending
    padded = torch.nn.functional.pad(frames, (0, cfg.world.dim - frames.shape[-1]))
    states = [torch.cat([torch.zeros(len(frames), cfg.world_tokens, cfg.world.dim), padded], 1)]
    read = model.action._frame(states)
    assert read.mean(0).abs().max() < 1e-4
    assert (read.std(0) - 1).abs().max() < 1e-3
    with pytest.raises(ValueError, match="std must be > 0"):
        model.action.set_frame_norm(mean, torch.zeros_like(std))
    with pytest.raises(ValueError, match="expected finite values of shape"):
        model.action.set_frame_norm(mean[:1], std)


def test_the_standardisation_changes_what_the_expert_reads_and_travels_with_the_model_files(tmp_path):
    policy = random_policy("tiny", PlannerConfig(K=0, M=2, N=2, S=3), model_overrides=NORM)
    action = policy.model.action
    shape = action.frame_mean.shape
    states = [torch.randn(1, policy.cfg.state_tokens, policy.cfg.world.dim)]
    before = action._frame(states)
    action.set_frame_norm(torch.full(shape, 0.5), torch.full(shape, 2.0))
    torch.testing.assert_close(action._frame(states), (before - 0.5) / 2.0)
    save_model(tmp_path / "m", policy.model, policy.card)
    model, card = load_model(tmp_path / "m")
    assert card.config.action_frame_norm and not model.action.frame_norm_pending
    torch.testing.assert_close(model.action.frame_std, torch.full(shape, 2.0))


def test_the_action_stage_sets_the_statistics_once(dataset, tmp_path):  # noqa: F811
    cfg = tiny_run(model=NORM)
    logs = []
    result = train(tmp_path / "run", cfg, dataset, ["tokenizer", "world", "value", "action"], progress=False,
                   log=logs.append)
    action = result.model.action
    assert not action.frame_norm_pending and sum("standardised per feature" in line for line in logs) == 1
    assert not torch.equal(action.frame_mean, torch.zeros_like(action.frame_mean))
    # a resumed stage keeps the statistics its checkpoint holds instead of computing them again
    logs.clear()
    resumed = train(tmp_path / "run", cfg, dataset, ["action"], resume=True, progress=False, log=logs.append)
    assert not any("standardised per feature" in line for line in logs)
    torch.testing.assert_close(resumed.model.action.frame_mean, action.frame_mean)


def test_the_standardisation_needs_the_frame():
    with pytest.raises(ConfigError, match="action_frame_norm: true needs action_reads: observation"):
        dataclasses.replace(tiny(), action_frame_norm=True).validate()
