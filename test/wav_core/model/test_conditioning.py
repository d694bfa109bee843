"""`conditioning: future`: the value and action experts read the future the world imagines, so the
planned video noise reaches the decoded action; the options round-trip and bad values fail at load."""

import dataclasses
import re

import numpy as np
import pytest
import torch

from wav_core.config.loader import ConfigError, from_dict, to_dict
from wav_core.model.config import ModelConfig
from wav_core.model.files import ModelCard, load_model, save_model
from wav_core.model.flow import sample_time
from wav_core.model.presets import tiny
from wav_core.model.wav import WAVModel
from wav_core.planning import PlannerConfig, WAVPolicy
from wav_core.planning.iteration import Chosen, Networks, decode
from wav_core.planning.noise import PlanNoise
from wav_core.planning.planner import reads_values


def random_model(conditioning: str, seed: int = 0, **kw) -> WAVModel:
    torch.manual_seed(seed)
    model = WAVModel(dataclasses.replace(tiny(), conditioning=conditioning, **kw))
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(0.0, 0.05)
    return model.eval()


def observation(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    cfg = model.cfg
    h, w = cfg.image_size
    hist = torch.rand(1, len(cfg.views), cfg.n_history, 3, h, w, generator=g)
    return model.context(hist, ["open the drawer"]), torch.zeros(1, cfg.state_dim)


def test_options_round_trip_through_model_files(tmp_path):
    model = random_model("future", feature_time=0.4, feature_time_range=(0.2, 0.6), time_sampling="beta",
                         value_clean_prob=0.3)
    save_model(tmp_path / "m", model, ModelCard(config=model.cfg, cameras=list(model.cfg.views)))
    loaded, card = load_model(tmp_path / "m")
    assert (card.config.conditioning, card.config.feature_time, tuple(card.config.feature_time_range),
            card.config.time_sampling, card.config.value_clean_prob) == ("future", 0.4, (0.2, 0.6), "beta", 0.3)
    a = WAVPolicy(model, ModelCard(config=model.cfg, cameras=list(model.cfg.views)), PlannerConfig(K=1, M=4, N=2, S=2))
    b = WAVPolicy(loaded, card, PlannerConfig(K=1, M=4, N=2, S=2))
    h, w = model.cfg.image_size
    images = np.random.default_rng(0).integers(0, 255, (3, 2, h, w, 3), dtype=np.uint8)
    np.testing.assert_array_equal(a.plan(images, np.zeros(14), seed=3).actions, b.plan(images, np.zeros(14), seed=3).actions)


@pytest.mark.parametrize("key, value, allowed", [
    ("conditioning", "dreamer", "['paper', 'future']"),
    ("time_sampling", "cosine", "['logit_normal', 'uniform', 'beta']"),
])
def test_unknown_option_values_fail_at_load_with_the_key_and_allowed_values(key, value, allowed):
    with pytest.raises(ConfigError, match=rf"{key}: got '{value}', expected one of {re.escape(allowed)}"):
        from_dict(ModelConfig, {**to_dict(tiny()), key: value}, "model")


def test_unknown_score_fails_at_load_with_the_allowed_values():
    with pytest.raises(ConfigError, match=r"score: got 'max', expected one of \['snr', 'mean'\]"):
        from_dict(PlannerConfig, {"score": "max"}, "planner")


def test_feature_time_outside_the_trained_range_is_refused():
    with pytest.raises(ConfigError, match=r"feature_time: got 0.9"):
        dataclasses.replace(tiny(), conditioning="future", feature_time=0.9).validate()
    model = random_model("future")
    card = ModelCard(config=model.cfg, cameras=list(model.cfg.views))
    with pytest.raises(ConfigError, match=r"feature_steps: 1 of S=10 takes world features at t=0.900"):
        WAVPolicy(model, card, PlannerConfig(K=1, M=4, N=2, S=10, feature_steps=1))


def test_future_features_are_taken_on_the_denoised_candidate_at_the_feature_time():
    model = random_model("future", feature_time=0.5)
    assert model.feature_time(0, 10) == 0.5
    assert model.feature_time(3, 10) == pytest.approx(0.7)
    assert random_model("paper").feature_time(0, 10) == 1.0
    ctx, _ = observation(model)
    z = torch.randn(2, *model.cfg.future_latent_shape)
    # The world moves each candidate toward its imagined future before its states are read.
    states = model.world_features(ctx, z, 0, 10)
    direct = model.world_states(ctx.memory, z, 0.5, ctx)
    assert not torch.allclose(states[-1], direct[-1])


def _decoded(model, ctx, state, z_vid, z_val, a):
    noise = PlanNoise(video=torch.zeros(0), value=torch.zeros(0), final_video=z_vid, final_value=z_val, action=a)
    from wav_core.planning.backend.base import Backend
    nets = Networks.of(Backend(model, PlannerConfig(K=0, M=1, N=1, S=4)))
    return decode(nets, ctx, Chosen(z_vid, z_val), noise, state, reads_values(model))


def test_future_action_follows_the_planned_video_through_the_value_it_expects():
    """The action expert's own view of the world is cut, so the only route from the video noise to
    the action is through the value expert's states of the value chunk it expects in that future."""
    model = random_model("future", seed=1)
    with torch.no_grad():
        for blk in model.action.blocks:
            blk.video_attn.out.weight.zero_()
            blk.video_attn.out.bias.zero_()
    ctx, state = observation(model)
    g = torch.Generator().manual_seed(0)
    z_val = torch.randn(1, *model.cfg.value_shape, generator=g)
    a = torch.randn(1, model.cfg.action_horizon, model.cfg.action_dim, generator=g)
    act1, val1 = _decoded(model, ctx, state, torch.randn(1, *model.cfg.future_latent_shape, generator=g), z_val, a)
    act2, val2 = _decoded(model, ctx, state, torch.randn(1, *model.cfg.future_latent_shape, generator=g), z_val, a)
    assert (val1 - val2).abs().max() > 1e-4
    assert (act1 - act2).abs().max() > 1e-5
    # Cut the value route too: the action no longer depends on the video noise.
    with torch.no_grad():
        for blk in model.action.blocks:
            blk.value_attn.out.weight.zero_()
            blk.value_attn.out.bias.zero_()
    act1, _ = _decoded(model, ctx, state, torch.randn(1, *model.cfg.future_latent_shape, generator=g), z_val, a)
    act2, _ = _decoded(model, ctx, state, torch.randn(1, *model.cfg.future_latent_shape, generator=g), z_val, a)
    torch.testing.assert_close(act1, act2)


def test_time_sampling_kinds():
    g = torch.Generator().manual_seed(0)
    n = 20000
    frac = {k: float((sample_time(n, g, kind=k) > 0.9).float().mean()) for k in ("logit_normal", "uniform", "beta")}
    assert frac["logit_normal"] < 0.03
    assert 0.08 < frac["uniform"] < 0.12
    assert frac["beta"] > frac["uniform"]
    t = sample_time(n, g, kind="beta")
    assert float(t.min()) >= 0 and float(t.max()) <= 1
    with pytest.raises(ValueError, match="time_sampling: got 'cosine'"):
        sample_time(4, g, kind="cosine")


@pytest.mark.parametrize("reads", ["all", "future"])
def test_a_value_that_reads_the_future_ignores_the_history_tokens(reads):
    """The world's states hold the history frames' tokens, then the future frames', per view. With
    `value_reads: future` the value expert attends to the future tokens only: changing the states at
    the history tokens leaves its value unchanged, while the paper's value (`all`) moves."""
    model = random_model("future", value_reads=reads)
    cfg = model.cfg
    ctx, _ = observation(model)
    g = torch.Generator().manual_seed(1)
    z_vid = torch.randn(2, *cfg.future_latent_shape, generator=g)
    states = model.world_features(ctx, z_vid)
    v, n = len(cfg.views), cfg.tokens_per_frame
    per_view, history = (cfg.n_history + cfg.n_future) * n, cfg.n_history * n
    assert states[0].shape[1] == v * per_view
    changed = []
    for s in states:
        s = s.clone().unflatten(1, (v, per_view))
        s[:, :, :history] += torch.randn(s[:, :, :history].shape, generator=g)
        changed.append(s.flatten(1, 2))
    z_val = torch.randn(2, *cfg.value_shape, generator=g)
    with torch.no_grad():
        before = model.solve_value(model.value.video_kv(states), z_val, 3)
        after = model.solve_value(model.value.video_kv(changed), z_val, 3)
    if reads == "future":
        torch.testing.assert_close(after, before)
    else:
        assert (after - before).abs().max() > 1e-3


def test_value_reads_round_trips_and_a_bad_choice_names_the_key():
    cfg = dataclasses.replace(tiny(), value_reads="future")
    assert from_dict(ModelConfig, to_dict(cfg)).value_reads == "future"
    with pytest.raises(ConfigError, match=re.escape("value_reads: got 'past', expected one of ['all', 'future']")):
        dataclasses.replace(tiny(), value_reads="past").validate()


@pytest.mark.parametrize("reads,readout", [("world", 0), ("observation", 0), ("observation", 2)])
def test_an_action_that_reads_the_observation_follows_the_current_frames_latents(reads, readout):
    """Under `action_reads: observation` the current frame's latents follow the world's states as
    extra tokens (and, with `action_readout`, a dense readout of them): changing them moves the
    decoded action and leaves the value unchanged. Under `world` the states end with the world's
    own tokens."""
    model = random_model("future", action_reads=reads, action_readout=readout)
    cfg = model.cfg
    ctx, state = observation(model)
    g = torch.Generator().manual_seed(1)
    states = model.world_features(ctx, torch.randn(1, *cfg.future_latent_shape, generator=g))
    extra = len(cfg.views) * cfg.tokens_per_frame if reads == "observation" else 0
    assert states[0].shape[1] == cfg.world_tokens + extra == cfg.state_tokens
    if reads == "world":
        return
    current = ctx.memory[:, :, -1].flatten(3).transpose(2, 3).flatten(1, 2)  # [1, V*T, C], patch 1
    torch.testing.assert_close(states[-1][:, cfg.world_tokens:, :cfg.tokenizer.latent_channels], current)
    moved = [torch.cat([s[:, :cfg.world_tokens], s[:, cfg.world_tokens:] + 0.5], 1) for s in states]
    z_val = torch.randn(1, *cfg.value_shape, generator=g)
    noise = torch.randn(1, cfg.action_horizon, cfg.action_dim, generator=g)
    with torch.no_grad():
        value = model.solve_value(model.value.video_kv(states), z_val, 3)
        torch.testing.assert_close(model.solve_value(model.value.video_kv(moved), z_val, 3), value)
        value_kv = model.action.value_kv(model.value_states(model.value.video_kv(states), value))
        act = model.solve_action(model.action.video_kv(states), value_kv, state, noise, 3)
        act_moved = model.solve_action(model.action.video_kv(moved), value_kv, state, noise, 3)
    assert (act_moved - act).abs().max() > 1e-3


def test_action_reads_round_trips_and_a_bad_choice_names_the_key(tmp_path):
    model = random_model("future", action_reads="observation")
    save_model(tmp_path / "m", model, ModelCard(config=model.cfg, cameras=list(model.cfg.views)))
    loaded, card = load_model(tmp_path / "m")
    assert card.config.action_reads == "observation" and loaded.action.obs_in is not None
    with pytest.raises(ConfigError, match=re.escape("action_reads: got 'pixels', expected one of ['world', 'observation']")):
        dataclasses.replace(tiny(), action_reads="pixels").validate()


def test_action_readout_round_trips_adds_its_tokens_and_needs_the_observation(tmp_path):
    model = random_model("future", action_reads="observation", action_readout=3)
    cfg = model.cfg
    ctx, _ = observation(model)
    states = model.world_features(ctx, torch.randn(1, *cfg.future_latent_shape))
    k, _ = model.action.video_kv(states)[0]
    assert k.shape[-2] == cfg.action_kv_tokens == cfg.state_tokens + 3
    save_model(tmp_path / "m", model, ModelCard(config=cfg, cameras=list(cfg.views)))
    loaded, card = load_model(tmp_path / "m")
    assert card.config.action_readout == 3
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    with pytest.raises(ConfigError, match=re.escape("action_readout: 2 tokens need action_reads: observation, got action_reads 'world'")):
        dataclasses.replace(tiny(), action_readout=2).validate()
    with pytest.raises(ConfigError, match=re.escape("action_readout: got -1, expected >= 0 tokens")):
        dataclasses.replace(tiny(), action_reads="observation", action_readout=-1).validate()


def test_a_keyframe_goal_round_trips_and_adds_one_token(tmp_path):
    model = random_model("future", action_reads="observation", action_readout=2, keyframe_weight=1.0,
                         keyframe_goal=True, keyframe_goal_noise=0.1)
    cfg = model.cfg
    ctx, _ = observation(model)
    states = model.world_features(ctx, torch.randn(1, *cfg.future_latent_shape))
    k, _ = model.action.video_kv(states)[0]
    assert k.shape[-2] == cfg.action_kv_tokens == cfg.state_tokens + 2 + 1
    save_model(tmp_path / "m", model, ModelCard(config=cfg, cameras=list(cfg.views)))
    loaded, card = load_model(tmp_path / "m")
    assert (card.config.keyframe_goal, card.config.keyframe_reads, card.config.keyframe_goal_noise) == (True, "frame", 0.1)
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name


def test_an_action_value_of_total_reads_the_total_channel_alone(tmp_path):
    model = random_model("future", action_value="total")
    cfg = model.cfg
    ctx, _ = observation(model)
    video_kv = model.value.video_kv(model.world_features(ctx, torch.randn(1, *cfg.future_latent_shape)))
    value = torch.randn(1, *cfg.value_shape)
    others, total = value.clone(), value.clone()
    others[..., :-1] += 1.0
    total[..., -1] += 1.0
    with torch.no_grad():
        states = model.value_states(video_kv, value)
        for a, b in zip(model.value_states(video_kv, others), states):
            torch.testing.assert_close(a, b)
        assert max((a - b).abs().max() for a, b in zip(model.value_states(video_kv, total), states)) > 1e-4
    save_model(tmp_path / "m", model, ModelCard(config=cfg, cameras=list(cfg.views)))
    assert load_model(tmp_path / "m")[1].config.action_value == "total"
    with pytest.raises(ConfigError, match=re.escape("action_value: got 'mean', expected one of ['chunk', 'total']")):
        dataclasses.replace(tiny(), conditioning="future", action_value="mean").validate()
    with pytest.raises(ConfigError, match=re.escape("action_value: total needs conditioning: future, got conditioning 'paper'")):
        dataclasses.replace(tiny(), action_value="total").validate()
