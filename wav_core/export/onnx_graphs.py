"""ONNX export of the planner's networks at static shapes.

Five graphs cover a plan: the world forward at batch M (iterations) and 1 (the final decode), the
value solve at batch M*N (against M candidates' states) and 1, and the action solve at batch 1.
By default each value/action graph holds the whole unrolled S-step Euler solve: one session call
per solve instead of S (`solve="step"` exports single flow steps instead; `wav bench` compares them).
Attention is exported as ONNX Runtime's fused operator by default (`attention="fused"`) or as
standard ONNX ops (`"standard"`, what TensorRT parses); the two live in separate folders.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from ..model.layers import attention_kernel, sdpa_attention
from ..model.wav import WAVModel
from ..planning.config import PlannerConfig
from .fused_attention import ATTENTION, fused_attention
from .graphs import GRAPH_MODULES
from .manifest import Manifest, config_digest, planner_sizes, read_manifest, stale_reason, weights_digest

OPSET = 17
F32, BOOL = "float32", "bool"


SOLVES = ("unrolled", "step")


def graph_specs(model: WAVModel, cfg: PlannerConfig, solve: str = "unrolled") -> dict[str, dict]:
    """name -> {"inputs": {input: (shape, dtype)}, "outputs": {...}} for every exported graph.

    solve "unrolled": value/action graphs run the whole S-step solve; "step": one flow step per
    graph run (flow time as an input) plus graphs projecting the cached states once per solve."""
    if solve not in SOLVES:
        raise ValueError(f"solve: got {solve!r}, expected one of {list(SOLVES)}")
    mc = model.cfg
    vid, (h, c) = mc.future_latent_shape, mc.value_shape
    memory = (1, len(mc.views), mc.n_history, *vid[2:])
    text = (1, mc.text.max_len + 1, mc.text.dim)
    tokens = mc.state_tokens
    value_tokens = mc.value_tokens
    depth, wdim = mc.world.depth, mc.world.dim
    heads, dh = mc.expert.heads, mc.expert.dim // mc.expert.heads
    action = (1, mc.action_horizon, mc.action_dim)

    def states(b):
        return (depth, b, tokens, wdim)

    def kv(b, length):
        return (depth, 2, b, heads, length, dh)

    def world(b):
        return {"inputs": {"memory": (memory, F32), "text": (text, F32), "text_mask": (text[:2], BOOL),
                           "z_vid": ((b, *vid), F32)},
                "outputs": {"states": (states(b), F32)}}

    specs = {f"world_b{cfg.M}": world(cfg.M), "world_b1": world(1)}
    for b, n in ((cfg.M, cfg.N), (1, 1)):
        if solve == "unrolled":
            specs[f"value_b{b * n}"] = {"inputs": {"states": (states(b), F32), "z_val": ((b * n, h, c), F32)},
                                        "outputs": {"values": ((b * n, h, c), F32)}}
        else:
            specs[f"value_kv_b{b}"] = {"inputs": {"states": (states(b), F32)},
                                        "outputs": {"kv": (kv(b, value_tokens), F32)}}
            specs[f"value_step_b{b * n}"] = {
                "inputs": {"kv": (kv(b, value_tokens), F32), "x": ((b * n, h, c), F32), "t": ((b * n,), F32)},
                "outputs": {"velocity": ((b * n, h, c), F32)}}
    if solve == "unrolled":
        specs["action_b1"] = {"inputs": {"states": (states(1), F32), "z_val": ((1, h, c), F32),
                                         "state": ((1, mc.state_dim), F32), "noise": (action, F32)},
                              "outputs": {"actions": (action, F32)}}
    else:
        specs["action_kv_b1"] = {"inputs": {"states": (states(1), F32), "z_val": ((1, h, c), F32)},
                                 "outputs": {"video_kv": (kv(1, mc.action_kv_tokens), F32), "value_kv": (kv(1, h), F32)}}
        specs["action_step_b1"] = {
            "inputs": {"video_kv": (kv(1, mc.action_kv_tokens), F32), "value_kv": (kv(1, h), F32), "x": (action, F32),
                       "t": ((1,), F32), "state": ((1, mc.state_dim), F32)},
            "outputs": {"velocity": (action, F32)}}
    return specs


def _example(shape, dtype, gen: torch.Generator, device) -> torch.Tensor:
    if dtype == BOOL:
        mask = torch.ones(shape, dtype=torch.bool)
        mask[..., shape[-1] // 2:] = False
        return mask.to(device)
    return torch.randn(shape, generator=gen).to(device)


def export_onnx(model: WAVModel, cfg: PlannerConfig, out_dir: str | Path, opset: int = OPSET,
                digest: str | None = None, solve: str = "unrolled", attention: str = "fused") -> Manifest:
    """Write every graph and the manifest into out_dir (replacing what was there) and check each
    graph with onnx.checker. The model's weights are not changed."""
    import onnx

    if attention not in ATTENTION:
        raise ValueError(f"attention: got {attention!r}, expected one of {list(ATTENTION)}")
    if opset < 17:
        raise ValueError(f"opset: got {opset}, expected >= 17 (LayerNormalization)")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(0)
    manifest = Manifest(opset=opset, weights_sha256=digest or weights_digest(model), config_sha256=config_digest(model),
                        planner=planner_sizes(cfg), solve=solve, torch_version=torch.__version__,
                        attention=attention)
    was_training, threads = model.training, torch.get_num_threads()
    model.eval()
    # Tracing runs thousands of tiny ops: extra threads only add synchronisation.
    torch.set_num_threads(1)
    try:
        for name, spec in graph_specs(model, cfg, solve).items():
            module = GRAPH_MODULES[name.rsplit("_b", 1)[0]](model, cfg).eval()
            args = tuple(_example(s, d, gen, device) for s, d in spec["inputs"].values())
            path = tmp / f"{name}.onnx"
            kernel = fused_attention if attention == "fused" else sdpa_attention
            with torch.no_grad(), warnings.catch_warnings(), attention_kernel(kernel):
                # Tracing notes about shape-dependent Python branches: the shapes are static by design.
                warnings.simplefilter("ignore")
                torch.onnx.export(module, args, str(path), dynamo=False, opset_version=opset,
                                  input_names=list(spec["inputs"]), output_names=list(spec["outputs"]),
                                  do_constant_folding=True, custom_opsets={"com.microsoft": 1})
            onnx.checker.check_model(str(path), full_check=True)
            manifest.graphs[name] = {
                "file": path.name,
                "inputs": {k: [list(s), d] for k, (s, d) in spec["inputs"].items()},
                "outputs": {k: [list(s), d] for k, (s, d) in spec["outputs"].items()},
            }
        manifest.write(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.replace(out_dir)
    finally:
        model.train(was_training)
        torch.set_num_threads(threads)
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def ensure_onnx(model: WAVModel, cfg: PlannerConfig, out_dir: str | Path, opset: int = OPSET,
                digest: str | None = None, solve: str = "unrolled", attention: str = "fused") -> Manifest:
    """The current export in out_dir, rebuilt first when missing or stale."""
    digest = digest or weights_digest(model)
    if stale_reason(out_dir, model, cfg, opset, digest, solve, attention) is None:
        return read_manifest(out_dir)
    return export_onnx(model, cfg, out_dir, opset, digest, solve, attention)


def export_dir_for(model: WAVModel, cfg: PlannerConfig, model_dir: str | Path | None,
                   onnx_dir: str | Path | None = None, solve: str = "unrolled",
                   attention: str = "fused") -> tuple[Path, str]:
    """Where a backend keeps its export: the given onnx_dir, else MODEL_DIR/onnx (fused attention)
    or MODEL_DIR/onnx-standard, else (a model with no directory, or a read-only one) a per-weights
    cache folder in the temp directory."""
    digest = weights_digest(model)
    if onnx_dir is not None:
        return Path(onnx_dir), digest
    if model_dir is not None:
        target = Path(model_dir) / onnx_folder(attention)
        if target.is_dir() or _writable(Path(model_dir)):
            return target, digest
    sizes = "-".join(f"{k}{v}" for k, v in planner_sizes(cfg).items())
    return Path(tempfile.gettempdir()) / "wav-onnx" / f"{digest[:16]}-{sizes}-{solve}-{attention}", digest


def onnx_folder(attention: str) -> str:
    """The export's folder name inside a model directory."""
    return "onnx" if attention == "fused" else f"onnx-{attention}"


def _writable(directory: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False
