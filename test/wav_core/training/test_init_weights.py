"""Fine-tuning from a model directory (`wav train --init MODEL_DIR`): the stages not trained keep the
directory's weights, an option added since starts fresh, and a model of another shape is refused
before any run is left behind."""

import re
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from wav_core.eval.model_card import model_card
from wav_core.model.files import load_model
from wav_core.training.export import export_run
from wav_core.training.trainer import train
from wav_test_support import synthetic_dataset

from .test_train import tiny_run


def future_run(**model):
    """Under `future` conditioning the action stage trains the action expert alone."""
    return tiny_run(model={"conditioning": "future", **model})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("init")
    data = synthetic_dataset(root / "data")
    train(root / "run", future_run(), data, ["tokenizer", "world", "value", "action"], progress=False, log=lambda s: None)
    return data, export_run(root / "run", root / "model")


def _quiet(**kw):
    return dict(progress=False, log=lambda s: None, **kw)


def test_untrained_modules_keep_the_model_directorys_weights(trained, tmp_path):
    data, model_dir = trained
    source, _ = load_model(model_dir)
    result = train(tmp_path / "tuned", future_run(), data, ["value"], init=model_dir, **_quiet())
    tuned = result.model.state_dict()
    for name, value in source.state_dict().items():
        if name.startswith(("tokenizer.", "world.", "action.")):
            assert torch.equal(tuned[name], value), name
    changed = [n for n in tuned if n.startswith("value.") and not torch.equal(tuned[n], source.state_dict()[n])]
    assert changed, "the value stage trained nothing"
    # A later stage of the same run continues from this run's checkpoints, not the directory's: under
    # `future` conditioning the action stage leaves the value it read as the value stage left it.
    cfg = future_run()
    train(tmp_path / "future", cfg, data, ["value"], init=model_dir, **_quiet())
    value = {n: v.clone() for n, v in train(tmp_path / "future", cfg, data, ["value"], resume=True,
                                             **_quiet()).model.state_dict().items() if n.startswith("value.")}
    later = train(tmp_path / "future", cfg, data, ["action"], resume=True, **_quiet())
    assert all(torch.equal(later.model.state_dict()[n], v) for n, v in value.items())
    assert any(not torch.equal(v, source.state_dict()[n]) for n, v in value.items())


def test_an_option_added_since_starts_fresh_in_the_stage_that_trains_it(trained, tmp_path):
    data, model_dir = trained
    cfg = future_run(action_reads="observation", action_readout=2)
    logs = []
    result = train(tmp_path / "tuned", cfg, data, ["action"], max_steps=1, init=model_dir, progress=False,
                   log=logs.append)
    assert any("left fresh in action.obs_in, action.obs_pos, action.readout" in line for line in logs), logs
    assert any(n.startswith("action.readout") for n in result.model.state_dict())


def test_a_stage_run_later_trains_what_this_one_leaves_fresh(trained, tmp_path):
    data, model_dir = trained
    cfg = future_run(action_reads="observation", action_readout=2)
    train(tmp_path / "tuned", cfg, data, ["world"], max_steps=1, init=model_dir, **_quiet())
    before = train(tmp_path / "tuned", cfg, data, ["world"], resume=True, **_quiet()).model.state_dict()
    after = train(tmp_path / "tuned", cfg, data, ["action"], resume=True, **_quiet()).model.state_dict()
    readout = [n for n in after if n.startswith("action.readout")]
    assert readout and all(not torch.equal(after[n], before[n]) for n in readout)


def test_weights_missing_where_no_later_stage_trains_them_are_refused(trained, tmp_path):
    data, model_dir = trained
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    state = load_file(str(broken / "weights.safetensors"))
    dropped = next(k for k in state if k.startswith("tokenizer."))
    del state[dropped]
    save_file(state, str(broken / "weights.safetensors"))
    with pytest.raises(ValueError, match=rf"weights\.safetensors: weights do not match.*{re.escape(dropped)}.*"
                                         r"no stage from world on trains them"):
        train(tmp_path / "tuned", future_run(), data, ["world"], max_steps=1, init=broken, **_quiet())
    assert not (tmp_path / "tuned").exists()


def test_a_model_of_another_shape_is_named(trained, tmp_path):
    data, model_dir = trained
    with pytest.raises(ValueError, match=r"model\.history_stride is \d+, the run's model has 7"):
        train(tmp_path / "tuned", future_run(history_stride=7), data, ["value"], max_steps=1,
              init=model_dir, **_quiet())
    assert not (tmp_path / "tuned").exists()
    with pytest.raises(FileNotFoundError, match="model directory not found"):
        train(tmp_path / "tuned", future_run(), data, ["value"], init=tmp_path / "nowhere", **_quiet())


def test_the_exported_card_carries_the_base_models_training(trained, tmp_path):
    data, model_dir = trained
    train(tmp_path / "tuned", future_run(), data, ["value"], init=model_dir, **_quiet())
    tuned = export_run(tmp_path / "tuned", tmp_path / "model")
    _, card = load_model(tuned)
    assert card.notes["init"]["model"] == str(model_dir.resolve())
    assert list(card.notes["init"]["training"]) == ["tokenizer", "world", "value", "action"]
    assert list(card.notes["training"]) == ["value"]
    text = model_card(tuned, ["wav train --init ..."])
    assert "| tokenizer (base model) | 4 |" in text and "| value | 4 |" in text
