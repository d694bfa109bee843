"""Dense bf16 tensor-core peak of common GPUs (vendor datasheet figures, TFLOPS, without sparsity,
FP32 accumulation), looked up by the name torch.cuda.get_device_name() reports.

The floor of a plan is its FLOPs at this rate: no kernel beats it, so latency / floor says how far
a backend is from the hardware. An unknown GPU gets no figure rather than a guess."""

from __future__ import annotations

PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    # First match wins: more specific names come before the names they contain.
    ("H200 NVL", 835.0),
    ("H200", 989.0),  # also GH200
    ("H100 NVL", 835.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),  # SXM5 ("NVIDIA H100 80GB HBM3")
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("L4", 121.0),
    ("RTX 4090", 165.0),
    ("RTX 6000 Ada", 364.0),
)


def known_peak(device_name: str) -> float | None:
    """Dense bf16 TFLOPS of a GPU by its reported name (case-insensitive substring), else None."""
    name = device_name.lower()
    for key, tflops in PEAK_BF16_TFLOPS:
        if key.lower() in name:
            return tflops
    return None


def resolve_peak(override: float | None, device_name: str | None) -> tuple[float | None, str]:
    """(peak TFLOPS or None, where it came from): the `--peak-tflops` override, else the table's
    figure for `device_name` (None when no GPU is named), else None with the reason."""
    if override is not None:
        if not override > 0:
            raise ValueError(f"--peak-tflops: got {override}, expected a positive number of TFLOPS "
                             "(dense bf16, e.g. 989 for an H100 SXM or H200)")
        return float(override), "--peak-tflops"
    if device_name is None:
        return None, "no GPU named: pass --peak-tflops for a floor"
    peak = known_peak(device_name)
    if peak is None:
        return None, f"{device_name}: bf16 peak unknown, pass --peak-tflops for a floor"
    return peak, f"{device_name} (dense bf16 datasheet figure)"
