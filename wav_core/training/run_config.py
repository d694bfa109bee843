"""The YAML of a training run: the model (a preset plus overrides), the stage settings, data loading."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.loader import ConfigError, from_dict, read_yaml, to_dict
from ..model.config import ModelConfig
from ..model.presets import preset
from .config import TrainConfig

COMPILE_MODES = ("off", "default", "reduce-overhead")


@dataclass
class RunConfig:
    preset: str = "sim"
    model: dict[str, Any] = field(default_factory=dict)
    """Overrides applied on top of the preset (same keys as ModelConfig, nested)."""
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    num_workers: int = 2
    log_every: int = 20
    checkpoint_every: int = 500
    image_every: int = 500
    """TensorBoard image summaries (reconstructions, predicted futures, values) every N steps; only
    where a stage reads images (the tokenizer's, or any stage with latent_cache off)."""
    latent_cache: bool = True
    """World, value and action stages read tokenizer latents computed once per stage instead of
    encoding every sample's frames at every step (same losses, no images loaded)."""
    compile: str = "off"
    """torch.compile of each stage's loss (forward and backward): "off", "default" (inductor's fused
    kernels) or "reduce-overhead" (fused kernels replayed as CUDA graphs: on a GPU a small model's
    step is bound by launching kernels from Python). Compiling costs seconds to minutes per stage
    before its first step; `wav bench --train --variants bf16,bf16-compile,bf16-graphs` measures both."""

    def validate(self) -> None:
        if self.compile not in COMPILE_MODES:
            raise ConfigError(f"compile: got {self.compile!r}, expected one of {list(COMPILE_MODES)}")
        value = self.train.value
        if (value.shifted_futures > 0 or value.still_futures > 0) and not self.latent_cache:
            raise ConfigError("train.value.shifted_futures/still_futures: need latent_cache: true (the futures "
                              "are gathered from the cached latents)")

    def model_config(self) -> ModelConfig:
        base = to_dict(preset(self.preset))
        return from_dict(ModelConfig, _merge(base, self.model), "model")


def _merge(base: dict, over: dict, where: str = "model") -> dict:
    out = dict(base)
    for k, v in over.items():
        if k not in out:
            raise ConfigError(f"{where}.{k}: unknown key; expected one of {sorted(out)}")
        out[k] = _merge(out[k], v, f"{where}.{k}") if isinstance(v, dict) and isinstance(out[k], dict) else v
    return out


def load_run_config(path: str | Path | None) -> RunConfig:
    if path is None:
        return RunConfig()
    try:
        cfg = from_dict(RunConfig, read_yaml(path))
        cfg.model_config()
        return cfg
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
