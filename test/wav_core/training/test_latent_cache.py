"""Cached tokenizer latents give the world, value and action stages the same losses as encoding
the frames at every step, without the loader reading a single image."""

import pytest
import torch
from torch.utils.data import default_collate

from wav_core.data.torch_dataset import SampleSpec, WavDataset
from wav_core.model.normalize import Normalizer
from wav_core.model.presets import tiny
from wav_core.model.wav import WAVModel
from wav_core.training.latent_cache import LatentCache
from wav_core.training.objectives import LOSSES


@pytest.mark.parametrize("conditioning", ["paper", "future"])
def test_cached_latents_give_the_same_losses(tiny_dataset, conditioning):
    torch.manual_seed(0)
    cfg = tiny()
    cfg.conditioning = conditioning
    model = WAVModel(cfg).eval()
    ds = WavDataset(str(tiny_dataset), SampleSpec.for_model(cfg))
    idx = [0, 7, len(ds) - 1]
    with_images = default_collate([ds[i] for i in idx])
    cache = LatentCache.build(model.tokenizer, ds)
    ds.images = False
    batch = default_collate([ds[i] for i in idx])
    assert "history" not in batch and "future" not in batch
    batch["history_latents"], batch["future_latents"] = cache.gather(ds, batch["episode"], batch["tick"])
    for stage in ("world", "value", "action"):
        a, _ = LOSSES[stage](model, with_images, Normalizer(), torch.Generator().manual_seed(1))
        b, _ = LOSSES[stage](model, batch, Normalizer(), torch.Generator().manual_seed(1))
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
