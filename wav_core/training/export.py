"""Turn a training run into a model directory (model.yaml + weights.safetensors)."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..config.loader import from_dict
from ..model.files import ModelCard, load_card, save_model
from ..model.wav import WAVModel
from .checkpoint import checkpoint_info, load_checkpoint
from .config import STAGES
from .trainer import RUN_FILE, latest_weights, load_stage_weights, stage_dir


def _stage_records(run: Path) -> dict[str, dict]:
    """Steps, wall time and hardware of every trained stage, from the checkpoints' JSON part."""
    out = {}
    for stage in STAGES:
        directory = stage_dir(run, stage)
        if (directory / "state.json").is_file():
            extra = checkpoint_info(directory)
            out[stage] = {"steps": int(extra.get("step", 0)), "seconds": round(float(extra.get("seconds", 0.0)), 1),
                          "hardware": extra.get("hardware", "unknown")}
    return out


def export_run(run_dir: str | Path, out_dir: str | Path) -> Path:
    run = Path(run_dir)
    if not (run / RUN_FILE).is_file():
        raise FileNotFoundError(f"{run / RUN_FILE}: missing; is {run} a training run directory?")
    found = latest_weights(run)
    if found is None:
        raise FileNotFoundError(f"{run}/checkpoints: no stage checkpoint to export")
    stage, ck = found
    content = yaml.safe_load((run / RUN_FILE).read_text())
    card = from_dict(ModelCard, content["card"])
    weights, extra = load_checkpoint(ck)
    model = WAVModel(card.config)
    load_stage_weights(model, weights, stage, ck)
    card.notes = {"run": str(run.resolve()), "stage": stage, "step": int(extra["step"]),
                  "data": content.get("data", ""), "training": _stage_records(run)}
    if content.get("init"):
        # The base model's own training travels with the card: its directory may be replaced later.
        base = load_card(content["init"])
        card.notes["init"] = {"model": content["init"], "data": base.notes.get("data", ""),
                              "training": base.notes.get("training", {})}
    return save_model(out_dir, model, card)
