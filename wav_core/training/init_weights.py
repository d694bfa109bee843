"""Fine-tuning: a run that starts from a model directory's weights instead of a fresh initialisation.

A user with a trained model and new recordings retrains some stages (say value and action) without
paying for the tokenizer and world again. The model directory must describe the same network as the
run; parameters the directory lacks are accepted only where a stage from the run's first on trains them
(an option added since, such as `action_readout`)."""

from __future__ import annotations

from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file

from ..model.files import WEIGHTS_FILE, load_card
from ..model.wav import WAVModel
from .config import STAGES
from .objectives import stage_modules

# Shapes the weights do not show but the network's input does.
_INPUT_FIELDS = ("views", "image_size", "n_history", "history_stride", "n_future", "future_stride",
                 "action_horizon", "action_space", "conditioning")


def load_init_weights(model: WAVModel, directory: str | Path, stages: list[str]) -> list[str]:
    """Load `directory`'s weights into `model`; returns the parameter names left at initialisation."""
    card = load_card(directory)
    wpath = Path(directory) / WEIGHTS_FILE
    for name in _INPUT_FIELDS:
        have, want = getattr(card.config, name), getattr(model.cfg, name)
        if (list(have) if isinstance(have, (list, tuple)) else have) != \
                (list(want) if isinstance(want, (list, tuple)) else want):
            raise ValueError(f"{directory}: model.{name} is {have!r}, the run's model has {want!r}; "
                             f"--init needs a model of the same shape")
    if not wpath.is_file():
        raise FileNotFoundError(f"{wpath}: missing weights file")
    try:
        state = load_file(str(wpath), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{wpath}: corrupt or unreadable safetensors file ({exc})") from None
    expected = model.state_dict()
    for k, v in state.items():
        if k in expected and tuple(v.shape) != tuple(expected[k].shape):
            raise ValueError(f"{wpath}: tensor {k} has shape {tuple(v.shape)}, the run's model expects "
                             f"{tuple(expected[k].shape)}")
    # A stage run later (`--stage value`, then `--stage action`) trains what this one leaves fresh.
    first = min(STAGES.index(s) for s in stages)
    trained = [m for s in STAGES[first:] for m in stage_modules(model, s)]
    return load_leaving_fresh(model, state, [m for m in model.children() if any(m is x for x in trained)],
                              wpath, f"no stage from {STAGES[first]} on trains them")


def load_leaving_fresh(model: WAVModel, weights: dict, may_be_fresh: list, source: Path, why: str) -> list[str]:
    """Load `weights`; tensors they lack may keep their initialisation only inside the modules
    `may_be_fresh`. Returns the names left fresh."""
    fresh = {f"{name}.{k}" for name, m in model.named_children() if any(m is x for x in may_be_fresh)
             for k in m.state_dict()}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    foreign = [k for k in missing if k not in fresh]
    if foreign or unexpected:
        raise ValueError(f"{source}: weights do not match the run's model: missing {foreign[:5]} ({why}), "
                         f"unexpected {unexpected[:5]}")
    return sorted(missing)
