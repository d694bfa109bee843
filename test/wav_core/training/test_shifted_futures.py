"""Shifted futures: a value sample shows the future of another tick of its episode, and its target
is that tick's value chunk, so the value learns to score what a future shows."""

import pytest
import torch
from torch.utils.data import default_collate

from wav_core.config.loader import ConfigError
from wav_core.data.torch_dataset import SampleSpec, WavDataset
from wav_core.model.presets import tiny
from wav_core.training.config import StageConfig, TrainConfig
from wav_core.training.latent_cache import LatentCache
from wav_core.training.run_config import RunConfig, load_run_config
from wav_core.training.shifted_futures import shift_futures
from wav_core.training.trainer import train


def _tick_latents(ds: WavDataset) -> LatentCache:
    """Latents whose every element is the frame's tick: a gathered future names the ticks it shows."""
    return LatentCache({ep.index: torch.arange(ep.ticks, dtype=torch.float32).view(1, -1, 1, 1, 1)
                        .expand(len(ds.cameras), ep.ticks, 2, 3, 3).clone() for ep in ds.data.episodes})


def _batch(ds: WavDataset, cache: LatentCache, idx: list[int]) -> dict:
    ds.images = False
    batch = default_collate([ds[i] for i in idx])
    batch["history_latents"], batch["future_latents"] = cache.gather(ds, batch["episode"], batch["tick"])
    return batch


def test_a_shifted_sample_shows_and_scores_the_other_tick(tiny_dataset):
    ds = WavDataset(str(tiny_dataset), SampleSpec.for_model(tiny()))
    cache = _tick_latents(ds)
    idx = list(range(4, len(ds) - 4, 3))
    batch = _batch(ds, cache, idx)
    history = batch["history_latents"].clone()
    moved, still = shift_futures(batch, ds, cache, 1.0, 3, torch.Generator().manual_seed(0))
    assert not still.any()
    ticks = batch["tick"].tolist()
    assert all(1 <= abs(m - t) <= 3 for m, t in zip(moved.tolist(), ticks))
    assert torch.equal(batch["history_latents"], history)
    for i, (ep, t2) in enumerate(zip(batch["episode"].tolist(), moved.tolist())):
        _, fut = ds.frame_ticks(ep, t2)
        assert batch["future_latents"][i, 0, :, 0, 0, 0].tolist() == fut
        assert torch.equal(batch["values"][i], ds.chunk(ep, t2, "value"))


def test_fraction_zero_changes_nothing_and_a_half_moves_some(tiny_dataset):
    ds = WavDataset(str(tiny_dataset), SampleSpec.for_model(tiny()))
    cache = _tick_latents(ds)
    idx = list(range(0, len(ds), 2))
    batch = _batch(ds, cache, idx)
    before = {k: batch[k].clone() for k in ("future_latents", "values")}
    moved, still = shift_futures(batch, ds, cache, 0.0, 4, torch.Generator().manual_seed(0))
    assert moved.tolist() == batch["tick"].tolist() and not still.any()
    assert all(torch.equal(batch[k], v) for k, v in before.items())
    moved, _ = shift_futures(batch, ds, cache, 0.5, 4, torch.Generator().manual_seed(0))
    changed = moved != batch["tick"]
    assert 0 < int(changed.sum()) < len(idx)
    # Samples left in place keep their own future.
    assert torch.equal(batch["future_latents"][~changed], before["future_latents"][~changed])


def test_a_still_future_holds_the_present_frame_and_value(tiny_dataset):
    ds = WavDataset(str(tiny_dataset), SampleSpec.for_model(tiny()))
    cache = _tick_latents(ds)
    idx = list(range(0, len(ds), 2))
    batch = _batch(ds, cache, idx)
    values = batch["values"].clone()
    moved, still = shift_futures(batch, ds, cache, 0.0, 4, torch.Generator().manual_seed(0), still=1.0)
    assert still.all() and moved.tolist() == batch["tick"].tolist()
    for i, t in enumerate(batch["tick"].tolist()):
        assert set(batch["future_latents"][i].flatten().tolist()) == {float(t)}
        assert torch.equal(batch["values"][i], values[i][:1].expand_as(values[i]))


def test_value_training_with_shifted_futures_runs_and_resumes(tiny_dataset, tmp_path):
    def run():
        stage = StageConfig(steps=4, warmup=1, batch_size=2, lr=1e-3, shifted_futures=0.5, shift_ticks=4,
                             still_futures=0.25)
        return RunConfig(preset="tiny", num_workers=0, checkpoint_every=2, image_every=0, log_every=1,
                         model={"conditioning": "future"}, train=TrainConfig(value=stage))
    full = train(tmp_path / "full", run(), tiny_dataset, ["value"], progress=False, log=lambda s: None)
    train(tmp_path / "cut", run(), tiny_dataset, ["value"], max_steps=2, progress=False, log=lambda s: None)
    resumed = train(tmp_path / "cut", run(), tiny_dataset, ["value"], resume=True, progress=False, log=lambda s: None)
    assert resumed.losses["value"] == pytest.approx(full.losses["value"], rel=1e-6)


@pytest.mark.parametrize("text, message", [
    ("train: {value: {shifted_futures: 1.5}}", r"shifted_futures: got 1.5, expected a fraction in \[0, 1\]"),
    ("train: {value: {shifted_futures: 0.5, still_futures: 0.6}}", r"still_futures: got 0.6, expected a fraction"),
    ("train: {world: {still_futures: 0.5}}", r"train.world.still_futures: only the value stage changes futures"),
    ("latent_cache: false\ntrain: {value: {shifted_futures: 0.5}}", r"need latent_cache: true"),
])
def test_bad_shift_settings_name_the_key(tmp_path, text, message):
    path = tmp_path / "run.yaml"
    path.write_text(f"preset: tiny\n{text}\n")
    with pytest.raises(ConfigError, match=message):
        load_run_config(path)
