"""The export manifest: what was exported, at which sizes, from which weights.

A backend reads it before loading graphs; any mismatch (other weights, other model config, other
planner sizes, missing files) marks the export stale so it is rebuilt instead of silently running an
old network.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..config.loader import to_dict
from ..model.wav import WAVModel
from ..planning.config import PlannerConfig

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1


def weights_digest(model: WAVModel) -> str:
    """sha256 over every parameter and buffer (name, dtype, shape, bytes), in name order."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().contiguous().cpu()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def config_digest(model: WAVModel) -> str:
    """Head counts and strides change the network without changing any weight shape."""
    return hashlib.sha256(json.dumps(to_dict(model.cfg), sort_keys=True).encode()).hexdigest()


def planner_sizes(cfg: PlannerConfig) -> dict[str, int]:
    """The planner settings baked into the graphs (K only repeats them, so it is not one)."""
    return {"M": cfg.M, "N": cfg.N, "S": cfg.S, "feature_steps": cfg.feature_steps,
            **({"value_steps": cfg.value_steps} if cfg.value_solve_steps != cfg.S else {})}


@dataclass
class Manifest:
    opset: int
    weights_sha256: str
    config_sha256: str
    planner: dict[str, int]
    solve: str
    """"unrolled": each value/action graph runs the whole S-step flow solve; "step": one flow step."""
    graphs: dict[str, dict] = field(default_factory=dict)
    """name -> {"file": ..., "inputs": {name: [shape, dtype]}, "outputs": {name: [shape, dtype]}}."""
    torch_version: str = ""
    attention: str = "standard"
    """"fused": attention as ONNX Runtime's MultiHeadAttention operator; "standard": ONNX ops only."""
    format: int = FORMAT_VERSION

    def write(self, directory: Path) -> Path:
        path = Path(directory) / MANIFEST_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)
        return path


def read_manifest(directory: str | Path) -> Manifest:
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no export manifest (run `wav export --model DIR --onnx`)")
    try:
        data = json.loads(path.read_text())
        return Manifest(**data)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"{path}: malformed export manifest ({exc})") from None


def stale_reason(directory: str | Path, model: WAVModel, cfg: PlannerConfig, opset: int,
                 digest: str | None = None, solve: str = "unrolled", attention: str = "fused") -> str | None:
    """Why the export in `directory` cannot serve this model at these planner sizes (None: current)."""
    try:
        m = read_manifest(directory)
    except (FileNotFoundError, ValueError) as exc:
        return str(exc)
    if m.format != FORMAT_VERSION:
        return f"manifest format {m.format}, expected {FORMAT_VERSION}"
    if m.opset != opset:
        return f"opset {m.opset}, expected {opset}"
    if m.solve != solve:
        return f"solve {m.solve!r}, expected {solve!r}"
    if m.attention != attention:
        return f"attention {m.attention!r}, expected {attention!r}"
    if m.planner != planner_sizes(cfg):
        return f"planner sizes {m.planner}, expected {planner_sizes(cfg)}"
    if m.config_sha256 != config_digest(model):
        return "model config changed since the export"
    if m.weights_sha256 != (digest or weights_digest(model)):
        return "weights changed since the export"
    missing = [g["file"] for g in m.graphs.values() if not (Path(directory) / g["file"]).is_file()]
    if missing:
        return f"missing graph files {missing}"
    return None
