"""A one-line description of the hardware a figure was measured on, for reports and model cards."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(device: str = "cpu", world_size: int = 1) -> str:
    """e.g. "1x NVIDIA H100 80GB HBM3 (16 CPUs)" or "CPU: AMD EPYC 7B13 (2 CPUs)"."""
    import torch

    cpus = f"{os.cpu_count()} CPUs"
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return f"{world_size}x {torch.cuda.get_device_name()} ({cpus})"
    return f"CPU: {cpu_name()} ({cpus}{f', {world_size} processes' if world_size > 1 else ''})"
