"""Checkpoints without pickle: tensors in safetensors, everything else in JSON, written into a
temporary directory and renamed into place so a crash never leaves a half-written checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


def _split(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace every tensor in a nested structure by a reference into `tensors`."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().contiguous().cpu()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {"__dict__": [[_split(k, f"{prefix}.k{i}", tensors), _split(v, f"{prefix}.{i}", tensors)]
                             for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, (list, tuple)):
        return {"__list__" if isinstance(obj, list) else "__tuple__": [_split(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix} in a checkpoint")


def _join(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {_join(k, tensors): _join(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            return [_join(v, tensors) for v in obj["__list__"]]
        if "__tuple__" in obj:
            return tuple(_join(v, tensors) for v in obj["__tuple__"])
    return obj


def save_checkpoint(directory: str | Path, model_state: dict[str, torch.Tensor], extra: dict[str, Any]) -> Path:
    """`extra` may nest optimiser/scheduler state dicts; tensors go to safetensors, the rest to JSON."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp", dir=directory.parent))
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in model_state.items()}, str(tmp / "model.safetensors"))
        tensors: dict[str, torch.Tensor] = {}
        meta = _split(extra, "x", tensors)
        save_file(tensors, str(tmp / "state.safetensors"))
        (tmp / "state.json").write_text(json.dumps(meta))
        if directory.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old", dir=directory.parent))
            os.replace(directory, old / "x")
            os.replace(tmp, directory)
            shutil.rmtree(old)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    directory = Path(directory)
    for name in ("model.safetensors", "state.safetensors", "state.json"):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory / name}: missing checkpoint file")
    model_state = load_file(str(directory / "model.safetensors"), device=str(device))
    tensors = load_file(str(directory / "state.safetensors"), device=str(device))
    extra = _join(json.loads((directory / "state.json").read_text()), tensors)
    return model_state, extra


def checkpoint_info(directory: str | Path) -> dict[str, Any]:
    """The plain top-level entries of a checkpoint's `extra` (step, seconds, hardware, ...), read from
    its JSON part alone, without loading any tensor."""
    meta = json.loads((Path(directory) / "state.json").read_text())
    pairs = meta.get("__dict__", []) if isinstance(meta, dict) else []
    return {k: v for k, v in pairs if isinstance(k, str) and (v is None or isinstance(v, (bool, int, float, str)))}
