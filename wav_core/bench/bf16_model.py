"""A randomly initialised model built straight in bf16 on its device, for plan latency at scale.

The model is constructed on the meta device (shapes only, no memory, no init kernels), cast to bf16
there, then given uninitialised bf16 storage on the target device with `to_empty` and filled in
place. No fp32 copy of any weight exists at any point, so the 2.3 B-parameter `paper` preset takes
4.7 GB on the GPU instead of passing through 9.3 GB of fp32 (on the host or the device), and the
build costs one fill per tensor. Setting the default dtype while constructing on the device would
also avoid the fp32 copy, but would run the modules' own init on 2.3 B values just to overwrite the
zero-initialised output heads; filling once is simpler and deterministic per seed.

Weights are random: timing and memory do not depend on their values, only on their being finite
and of a sane scale (linear and conv weights ~ N(0, 1/fan_in), norm gains 1, biases 0, embeddings
N(0, 0.02)), so activations neither vanish nor overflow bf16.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ..model.config import ModelConfig, TextConfig
from ..model.wav import WAVModel


def without_t5(cfg: ModelConfig) -> ModelConfig:
    """`cfg` with a T5 text backend replaced by the trainable embedding encoder of the same width and
    prompt length: its features have the shape T5's have ([B, 1 + max_len, dim]), so the planner's
    networks do the same work. The T5 encoder runs once per decision, outside the planner, from a
    local checkpoint that a random-weight bench does not have; its time is not measured."""
    if cfg.text.backend != "t5":
        return cfg
    text = TextConfig(backend="embedding", dim=cfg.text.dim, max_len=cfg.text.max_len)
    return dataclasses.replace(cfg, text=text)


def _fill(module: nn.Module, generator: torch.Generator) -> None:
    for name, p in module.named_parameters(recurse=False):
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) and name == "weight":
            p.normal_(0.0, p[0].numel() ** -0.5, generator=generator)  # fan-in as nn.init counts it
        elif name == "bias":
            p.zero_()
        elif name == "weight" and p.dim() == 1:
            p.fill_(1.0)
        else:
            p.normal_(0.0, 0.02, generator=generator)


def meta_parameters(cfg: ModelConfig) -> int:
    """Parameter count of the model `build_bf16` builds, from a meta-device copy (no memory)."""
    with torch.device("meta"):
        return sum(p.numel() for p in WAVModel(without_t5(cfg)).parameters())


@torch.no_grad()
def build_bf16(cfg: ModelConfig, device: str | torch.device, seed: int = 0) -> WAVModel:
    """WAVModel of `cfg` (a T5 text backend replaced, see `without_t5`) with random bf16 weights
    allocated directly on `device`; in eval mode."""
    cfg = without_t5(cfg)
    with torch.device("meta"):
        model = WAVModel(cfg)
    model = model.to(dtype=torch.bfloat16).to_empty(device=device)
    if any(True for _ in model.buffers()):
        raise ValueError("build_bf16: the model has buffers, which to_empty leaves uninitialised")
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    for module in model.modules():
        _fill(module, generator)
    return model.eval()
