"""Choosing a backend by name, falling back to eager PyTorch (with a warning that says why) when the
requested one cannot run here, so a robot never stops for want of an accelerator library."""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING

from ..config import PlannerConfig
from .base import Backend

if TYPE_CHECKING:
    from ..policy import WAVPolicy

BACKENDS = ("torch", "torch-cudagraph", "torch-compile", "onnxruntime", "tensorrt")
log = logging.getLogger("wav_core.planning.backend")


class BackendUnavailable(RuntimeError):
    """The backend cannot run on this machine; the message says why."""


class BackendFallbackWarning(UserWarning):
    """A requested backend was replaced by eager PyTorch."""


def _build(name: str, policy: "WAVPolicy", cfg: PlannerConfig, options: dict) -> Backend:
    model = policy.model
    if name == "torch":
        if options:
            raise ValueError(f"backend 'torch': takes no options, got {sorted(options)}")
        return Backend(model, cfg)
    if name == "torch-cudagraph":
        from .cudagraph import CudaGraphBackend

        return CudaGraphBackend(model, cfg, **options)
    if name == "torch-compile":
        from .compiled import CompiledBackend

        return CompiledBackend(model, cfg, **options)
    if name == "onnxruntime":
        from .onnxruntime import OnnxRuntimeBackend

        return OnnxRuntimeBackend(model, cfg, model_dir=policy.directory, **options)
    if name == "tensorrt":
        from .tensorrt import TensorRTBackend

        return TensorRTBackend(model, cfg, model_dir=policy.directory, **options)
    raise ValueError(f"backend: got {name!r}, expected one of {list(BACKENDS)}")


def make_backend(name: str, policy: "WAVPolicy", cfg: PlannerConfig | None = None, *, strict: bool = False,
                 **options) -> Backend:
    """The backend `name` for `policy` at planner settings `cfg` (default: the policy's).

    If it cannot run here (library missing, no CUDA), returns the eager torch backend and warns with
    the reason, unless `strict`, which raises BackendUnavailable instead. Unknown names and bad
    options are errors either way.
    """
    cfg = cfg or policy.planner.cfg
    try:
        return _build(name, policy, cfg, options)
    except BackendUnavailable as exc:
        if strict:
            raise
        msg = f"backend {name!r} unavailable ({exc}); falling back to 'torch'"
        if log.hasHandlers():  # an application that configured logging sees it in its log too
            log.warning(msg)
        warnings.warn(msg, BackendFallbackWarning, stacklevel=2)
        return Backend(policy.model, cfg)
