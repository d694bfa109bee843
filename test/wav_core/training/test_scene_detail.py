"""world.detail_weight: the world's loss weighs what differs between scenes (an object placed at
random) above the background every scene shares, so a future that leaves the object out costs more
than one equally wrong everywhere."""

import pytest
import torch

from wav_core.config.loader import ConfigError
from wav_core.model import WAVModel, preset
from wav_core.model.files import ModelCard, load_model, save_model
from wav_core.model.flow import flow_loss
from wav_core.training.objectives import world_loss
from wav_core.training.scene_detail import scene_detail_weights


def _scenes(n=8, seed=0):
    """[n, V=1, F=1, C=4, 6, 6] latents: one shared background, a block at a different position in each."""
    g = torch.Generator().manual_seed(seed)
    background = torch.randn(1, 1, 1, 4, 6, 6, generator=g).expand(n, -1, -1, -1, -1, -1).clone()
    where = [(int(i), int(j)) for i, j in torch.randint(0, 6, (n, 2), generator=g)]
    for k, (i, j) in enumerate(where):
        background[k, 0, 0, :, i, j] += 3.0
    return background, where


def test_the_block_weighs_most_and_a_shared_scene_weighs_one_everywhere():
    scenes, where = _scenes()
    w = scene_detail_weights(scenes, 4.0)
    assert w.shape == (8, 1, 1, 1, 6, 6)
    for k, (i, j) in enumerate(where):
        assert w[k, 0, 0, 0, i, j] == w[k].max() and w[k, 0, 0, 0, i, j] > 3.0
    assert torch.allclose(scene_detail_weights(scenes[:1], 4.0), torch.ones(1, 1, 1, 1, 6, 6))
    assert torch.allclose(scene_detail_weights(scenes[:1].expand(4, -1, -1, -1, -1, -1), 4.0), torch.ones(4, 1, 1, 1, 6, 6))


def test_a_future_without_its_block_costs_more_than_an_equal_error_spread_evenly():
    x0, where = _scenes()
    noise = torch.zeros_like(x0)
    no_block = -x0.clone()  # the exact velocity (noise - x0) ...
    for k, (i, j) in enumerate(where):
        no_block[k, 0, 0, :, i, j] += 3.0  # ... except the block, left out
    even = -x0 + (no_block + x0).pow(2).mean().sqrt()  # the same squared error on every element
    assert flow_loss(no_block, x0, noise).item() == pytest.approx(flow_loss(even, x0, noise).item(), rel=1e-5)
    w = scene_detail_weights(x0, 4.0)
    assert flow_loss(no_block, x0, noise, w).item() > 2 * flow_loss(even, x0, noise, w).item()
    # A uniform error costs what it does unweighted.
    assert flow_loss(even, x0, noise, w).item() == pytest.approx(flow_loss(even, x0, noise).item(), rel=1e-5)


def test_the_world_loss_uses_the_weight_only_when_asked():
    cfg = preset("tiny")
    torch.manual_seed(0)
    model = WAVModel(cfg).eval()
    g = torch.Generator().manual_seed(1)
    v, c, (h, w) = len(cfg.views), cfg.tokenizer.latent_channels, cfg.latent_hw
    batch = {"history_latents": torch.randn(4, v, cfg.n_history, c, h, w, generator=g),
             "future_latents": torch.randn(4, v, cfg.n_future, c, h, w, generator=g),
             "instruction": ["open the drawer"] * 4}
    plain, _ = world_loss(model, batch, None, torch.Generator().manual_seed(2))
    again, _ = world_loss(model, batch, None, torch.Generator().manual_seed(2))
    model.cfg.world.detail_weight = 4.0
    weighted, _ = world_loss(model, batch, None, torch.Generator().manual_seed(2))
    assert plain.item() == again.item() and weighted.item() != pytest.approx(plain.item(), rel=1e-4)


def test_detail_weight_round_trips_and_a_negative_one_names_the_key(tmp_path):
    cfg = preset("tiny")
    cfg.world.detail_weight = 4.0
    save_model(tmp_path / "m", WAVModel(cfg), ModelCard(config=cfg))
    assert load_model(tmp_path / "m")[1].config.world.detail_weight == 4.0
    cfg.world.detail_weight = -1.0
    with pytest.raises(ConfigError, match=r"world.detail_weight: got -1.0, expected a number >= 0"):
        cfg.validate()
