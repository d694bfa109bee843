"""The tokenizer's reconstruction loss: `detail_weight` makes a blurred-away small object cost what it
should, and leaves the plain MSE (0, every older model) exactly as it was."""

import pytest
import torch
import torch.nn.functional as F

from wav_core.config.loader import ConfigError
from wav_core.model import WAVModel, preset
from wav_core.model.config import TokenizerConfig
from wav_core.model.files import ModelCard, load_model, save_model
from wav_core.model.tokenizer import VisualTokenizer


def _table_with_block() -> torch.Tensor:
    """A flat brown table with a 2x2 red block: the drawer task's block as the 48x48 camera sees it."""
    img = torch.empty(1, 3, 24, 24)
    img[:, 0], img[:, 1], img[:, 2] = 0.55, 0.35, 0.2
    img[:, :, 10:12, 14:16] = torch.tensor([0.9, 0.1, 0.1]).view(1, 3, 1, 1)
    return img


def _table_without_block(img: torch.Tensor) -> torch.Tensor:
    out = img.clone()
    out[:, :, 10:12, 14:16] = img[:, :, 0:1, 0:1]
    return out


def test_zero_detail_weight_is_plain_mse():
    torch.manual_seed(0)
    tok = VisualTokenizer(TokenizerConfig(channels=[8, 8], latent_channels=2))
    img = _table_with_block()
    _, parts = tok.loss(img, torch.Generator().manual_seed(1))
    mean, logvar = tok.encode(img)
    eps = torch.randn(mean.shape, generator=torch.Generator().manual_seed(1))
    assert tok.detail_weight == 0
    assert torch.equal(parts["recon"], F.mse_loss(tok.decode(mean + torch.exp(0.5 * logvar) * eps), img).detach())


def test_detail_weight_makes_a_missing_block_cost_more_than_uniform_blur():
    img = _table_with_block()
    blockless = _table_without_block(img)
    uniform = img + (blockless - img).pow(2).mean().sqrt()  # the same plain MSE, spread over every pixel
    plain = VisualTokenizer(TokenizerConfig(channels=[8, 8], latent_channels=2))
    detail = VisualTokenizer(TokenizerConfig(channels=[8, 8], latent_channels=2, detail_weight=4.0))
    assert F.mse_loss(blockless, img) == pytest.approx(F.mse_loss(uniform, img).item(), rel=1e-5)
    # Plain MSE cannot tell a lost block from a faint tint of the whole frame; the weighted loss can.
    assert detail._weighted_mse(blockless, img) > 3 * detail._weighted_mse(uniform, img)
    # A uniform error costs the same under both.
    assert detail._weighted_mse(uniform, img).item() == pytest.approx(F.mse_loss(uniform, img).item(), rel=1e-5)
    assert plain.detail_weight == 0


def test_detail_weight_enters_the_training_loss():
    torch.manual_seed(0)
    plain = VisualTokenizer(TokenizerConfig(channels=[8, 8], latent_channels=2))
    detail = VisualTokenizer(TokenizerConfig(channels=[8, 8], latent_channels=2, detail_weight=4.0))
    detail.load_state_dict(plain.state_dict())
    img = _table_with_block()
    loss_plain, _ = plain.loss(img, torch.Generator().manual_seed(1))
    loss_detail, _ = detail.loss(img, torch.Generator().manual_seed(1))
    assert loss_plain.item() != pytest.approx(loss_detail.item(), rel=1e-4)
    # Frames with leading dimensions (sample, view, frame) weigh the same as the flat batch.
    nested, _ = detail.loss(img[None, None], torch.Generator().manual_seed(1))
    assert nested.item() == pytest.approx(loss_detail.item(), rel=1e-6)


def test_detail_weight_round_trips_and_a_negative_one_is_refused(tmp_path):
    cfg = preset("tiny")
    cfg.tokenizer.detail_weight = 4.0
    save_model(tmp_path / "m", WAVModel(cfg), ModelCard(config=cfg))
    model, card = load_model(tmp_path / "m")
    assert card.config.tokenizer.detail_weight == 4.0
    assert model.tokenizer.detail_weight == 4.0
    cfg.tokenizer.detail_weight = -1.0
    with pytest.raises(ConfigError, match="tokenizer.detail_weight"):
        cfg.validate()
