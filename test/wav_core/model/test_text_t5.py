"""The frozen T5 text encoder stays out of the module tree: checkpoints hold only the trained
empty-prompt features, a fresh model loads them, and no stage can unfreeze T5."""

import dataclasses

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

from wav_core.model.config import TextConfig
from wav_core.model.files import ModelCard, load_model, save_model
from wav_core.model.presets import tiny
from wav_core.model.wav import WAVModel
from wav_core.training.objectives import set_trainable


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory):
    """A T5-architecture encoder of width 16 with a word-level tokenizer, saved like a local T5."""
    d = tmp_path_factory.mktemp("t5")
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, "open": 3, "the": 4, "drawer": 5}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>").save_pretrained(d)
    torch.manual_seed(0)
    T5EncoderModel(T5Config(vocab_size=8, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2)).save_pretrained(d)
    return d


def t5_model(t5_dir) -> WAVModel:
    return WAVModel(dataclasses.replace(tiny(), text=TextConfig(backend="t5", dim=16, max_len=6, t5_path=str(t5_dir))))


def test_t5_is_used_but_not_saved_or_unfrozen(t5_dir, tmp_path):
    model = t5_model(t5_dir)
    feats, mask = model.text(["open the drawer"])
    assert feats.shape == (1, 7, 16) and mask.tolist() == [[True, True, True, True, False, False, False]]
    assert [k for k in model.state_dict() if k.startswith("text.")] == ["text.null"]
    set_trainable(model, "action")  # stage 3 under `paper` trains the text encoder
    assert not any(p.requires_grad for p in model.text._t5.model.parameters())
    save_model(tmp_path / "m", model, ModelCard(config=model.cfg, cameras=list(model.cfg.views)))
    loaded, _ = load_model(tmp_path / "m")
    again, _ = loaded.text(["open the drawer"])
    torch.testing.assert_close(again, feats)


def test_t5_width_mismatch_names_the_directory(t5_dir):
    model = WAVModel(dataclasses.replace(tiny(), text=TextConfig(backend="t5", dim=32, max_len=6, t5_path=str(t5_dir))))
    with pytest.raises(ValueError, match=r"text.t5_path: .* has width 16, text.dim is 32"):
        model.text(["open the drawer"])
