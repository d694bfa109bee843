"""The learning-rate schedule and the weight average: a cosine stage ends at lr_final, the
checkpoint's model is the average (what export and the next stage read) while a resumed run
continues from the raw weights exactly, and bad settings name their key."""

import pytest
import torch
from safetensors.torch import load_file

from wav_core.config.loader import ConfigError
from wav_core.training.checkpoint import load_checkpoint
from wav_core.training.config import StageConfig, TrainConfig
from wav_core.training.ema import WeightAverage
from wav_core.training.export import export_run
from wav_core.training.objectives import lr_factor
from wav_core.training.run_config import RunConfig, load_run_config
from wav_core.training.trainer import train
from wav_test_support import synthetic_dataset


def test_cosine_warms_up_like_constant_then_decays_to_lr_final():
    const = StageConfig(steps=100, warmup=10, schedule="constant")
    cos = StageConfig(steps=100, warmup=10, schedule="cosine", lr_final=0.1)
    assert [lr_factor(s, cos) for s in range(9)] == [lr_factor(s, const) for s in range(9)]
    assert lr_factor(9, cos) == pytest.approx(1.0)
    assert lr_factor(54, cos) == pytest.approx(0.55)
    assert lr_factor(99, cos) == pytest.approx(0.1)
    factors = [lr_factor(s, cos) for s in range(9, 100)]
    assert all(a >= b for a, b in zip(factors, factors[1:]))
    assert {lr_factor(s, const) for s in range(9, 100)} == {1.0}


def test_the_average_trails_the_weights():
    layer = torch.nn.Linear(2, 1)
    avg = WeightAverage(layer, 0.5)
    start = layer.weight.detach().clone()
    with torch.no_grad():
        layer.weight.add_(1.0)
    avg.update(step=100)  # past the ramp: decay 0.5
    assert torch.allclose(avg.average["weight"], start + 0.5)
    avg.apply()
    assert torch.allclose(layer.weight, start + 0.5)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return synthetic_dataset(tmp_path_factory.mktemp("ema_data"))


def _run(ema: float) -> RunConfig:
    stage = StageConfig(steps=6, warmup=2, batch_size=2, lr=1e-3, schedule="cosine", lr_final=0.1, ema=ema)
    return RunConfig(preset="tiny", num_workers=0, checkpoint_every=2, image_every=0, log_every=1,
                     train=TrainConfig(value=stage))


def test_checkpoint_holds_the_average_and_resume_continues_from_the_raw_weights(dataset, tmp_path):
    quiet = dict(progress=False, log=lambda s: None)
    full = train(tmp_path / "full", _run(0.9), dataset, ["value"], **quiet)
    weights, extra = load_checkpoint(tmp_path / "full" / "checkpoints" / "value")
    name = "value.out.weight"
    # The stage ends holding the average, which differs from where the optimiser left the weights.
    assert torch.equal(full.model.state_dict()[name], weights[name])
    assert not torch.equal(extra["raw"][name], weights[name])
    assert extra["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    # Export reads the average.
    exported = load_file(str(export_run(tmp_path / "full", tmp_path / "model") / "weights.safetensors"))
    assert torch.equal(exported[name], weights[name])
    # Interrupted after 2 steps and resumed: the same losses and the same averaged weights.
    train(tmp_path / "cut", _run(0.9), dataset, ["value"], max_steps=2, **quiet)
    resumed = train(tmp_path / "cut", _run(0.9), dataset, ["value"], resume=True, **quiet)
    assert resumed.losses["value"] == pytest.approx(full.losses["value"], rel=1e-6)
    for key, value in full.model.state_dict().items():
        assert torch.allclose(resumed.model.state_dict()[key], value, atol=1e-6), key


def test_switching_the_average_off_resumes_from_the_raw_weights(dataset, tmp_path):
    """The raw weights follow the same path with or without an average, so a run cut with one and
    resumed without continues with the same losses."""
    quiet = dict(progress=False, log=lambda s: None)
    full = train(tmp_path / "full", _run(0.9), dataset, ["value"], **quiet)
    train(tmp_path / "cut", _run(0.9), dataset, ["value"], max_steps=2, **quiet)
    resumed = train(tmp_path / "cut", _run(0.0), dataset, ["value"], resume=True, **quiet)
    assert resumed.losses["value"] == pytest.approx(full.losses["value"], rel=1e-6)


def test_resuming_with_ema_a_run_that_had_none_names_the_key(dataset, tmp_path):
    quiet = dict(progress=False, log=lambda s: None)
    train(tmp_path / "run", _run(0.0), dataset, ["value"], max_steps=2, **quiet)
    with pytest.raises(ValueError, match=r"without train.value.ema, cannot resume with ema 0.9"):
        train(tmp_path / "run", _run(0.9), dataset, ["value"], resume=True, **quiet)


@pytest.mark.parametrize("line, message", [
    ("schedule: linear", r"schedule: got 'linear', expected one of \['constant', 'cosine'\]"),
    ("ema: 1.0", r"ema: got 1.0, expected a decay in \[0, 1\)"),
    ("lr_final: 2", r"train.action: lr_final: got 2.0, expected a fraction of lr in \[0, 1\]"),
])
def test_bad_schedule_settings_name_the_key(tmp_path, line, message):
    path = tmp_path / "run.yaml"
    path.write_text(f"preset: tiny\ntrain:\n  action: {{{line}}}\n")
    with pytest.raises(ConfigError, match=message):
        load_run_config(path)
