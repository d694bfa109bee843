"""Every preset builds and produces correctly shaped outputs; the paper preset matches the paper's size."""

import pytest
import torch

from wav_core.model import WAVModel, preset


def _batch(cfg, b=2):
    h, w = cfg.image_size
    v = len(cfg.views)
    return torch.rand(b, v, cfg.n_history, 3, h, w), torch.rand(b, v, cfg.n_future, 3, h, w)


@pytest.mark.parametrize("name", ["tiny", "sim"])
def test_forward_shapes(name):
    torch.manual_seed(0)
    cfg = preset(name)
    model = WAVModel(cfg).eval()
    history, future = _batch(cfg)
    with torch.no_grad():
        ctx = model.context(history, ["open the drawer", "put the cup in the bowl"])
        latents = model.tokenizer.latents(future)
        assert latents.shape == (2, *cfg.future_latent_shape)
        assert model.tokenizer.decode(latents).shape == future.shape
        vel = model.world(ctx.memory, latents, torch.full((2,), 0.5), ctx.text, ctx.text_mask)
        assert vel.shape == latents.shape
        states = model.world_features(ctx, torch.randn(2, *cfg.future_latent_shape))
        assert len(states) == cfg.world.depth
        assert states[0].shape == (2, len(cfg.views) * (cfg.n_history + cfg.n_future) * cfg.tokens_per_frame, cfg.world.dim)
        vkv = model.value.video_kv(states)
        # N = 3 value samples per video candidate share that candidate's features.
        values = model.solve_value(vkv, torch.randn(6, *cfg.value_shape), steps=2)
        assert values.shape == (6, *cfg.value_shape)
        vstates = model.value_states(vkv, torch.randn(2, *cfg.value_shape))
        actions = model.solve_action(model.action.video_kv(states), model.action.value_kv(vstates),
                                     torch.zeros(2, cfg.state_dim), torch.randn(2, cfg.action_horizon, cfg.action_dim), 2)
        assert actions.shape == (2, cfg.action_horizon, cfg.action_dim)


def test_sim_preset_is_a_few_million_parameters():
    n = sum(p.numel() for p in WAVModel(preset("sim")).parameters())
    assert 2e6 <= n <= 8e6


def test_paper_preset_builds_on_meta_within_ten_percent_of_2p2b():
    cfg = preset("paper")
    assert cfg.image_size == (256, 256) and cfg.world.depth == 28 and cfg.world.dim == 2048
    assert cfg.expert.dim == 512 and cfg.text.dim == 4096
    with torch.device("meta"):
        model = WAVModel(cfg)
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - 2.2e9) / 2.2e9 < 0.10, n
    world_states = model.world(
        torch.randn(1, *cfg.future_latent_shape[:1], cfg.n_history, *cfg.future_latent_shape[2:], device="meta"),
        torch.randn(1, *cfg.future_latent_shape, device="meta"), torch.ones(1, device="meta"),
        torch.randn(1, 65, cfg.text.dim, device="meta"), torch.ones(1, 65, dtype=torch.bool, device="meta"),
        return_states=True, return_velocity=False)[1]
    assert len(world_states) == 28 and world_states[-1].shape[-1] == 2048
