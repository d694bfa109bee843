"""Exporting a model directory to ONNX with `wav export`, and running plans on ONNX Runtime: the
graphs pass onnx.checker, have the planner's static shapes, match eager torch, and an export made
for other weights or other planner sizes is detected as stale and rebuilt."""

import copy
import dataclasses
import json
import shutil

import numpy as np
import onnx
import pytest
import torch

from wav_core.cli.main import main
from wav_core.export import MANIFEST_FILE, ensure_onnx, read_manifest, stale_reason
from wav_core.model.files import save_model
from wav_core.planning import PlannerConfig, WAVPolicy, random_policy
from wav_core.planning.backend import make_backend

CFG = PlannerConfig(K=2, M=3, N=2, S=2)


def rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A saved tiny model exported the way a user does it."""
    policy = random_policy("tiny", CFG)
    directory = save_model(tmp_path_factory.mktemp("models") / "tiny", policy.model, policy.card)
    assert main(["export", "--model", str(directory), "--onnx", "--K", "2", "--M", "3", "--N", "2", "--S", "2"]) == 0
    return directory


@pytest.fixture(scope="module")
def observation():
    rng = np.random.default_rng(0)
    policy = random_policy("tiny", CFG)
    return rng.integers(0, 256, policy.image_shape, dtype=np.uint8), np.zeros(14) + 0.3


def test_export_writes_checked_static_graphs_and_a_manifest(model_dir):
    manifest = json.loads((model_dir / "onnx" / MANIFEST_FILE).read_text())
    assert manifest["opset"] >= 17
    assert manifest["planner"] == {"M": 3, "N": 2, "S": 2, "feature_steps": 0}
    assert set(manifest["graphs"]) == {"world_b3", "world_b1", "value_b6", "value_b1", "action_b1"}
    for name, graph in manifest["graphs"].items():
        proto = onnx.load(str(model_dir / "onnx" / graph["file"]))
        onnx.checker.check_model(proto, full_check=True)
        assert proto.opset_import[0].version == manifest["opset"]
        dims = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in proto.graph.input}
        assert dims == {k: shape for k, (shape, _) in graph["inputs"].items()}, name
    assert manifest["graphs"]["value_b6"]["inputs"]["z_val"][0] == [6, 8, 17]
    assert manifest["graphs"]["world_b3"]["inputs"]["z_vid"][0][0] == 3


def test_onnxruntime_matches_eager_torch_network_by_network(model_dir, observation):
    policy = WAVPolicy.load(model_dir, CFG)
    ort_backend = make_backend("onnxruntime", policy, strict=True, threads=1)
    assert ort_backend.onnx_dir == model_dir / "onnx"
    ref = policy.backend
    images, _ = observation
    with torch.no_grad():
        hist = torch.from_numpy(images).permute(0, 1, 4, 2, 3).float()[None] / 255
        ctx = ref.context(hist, ["open the drawer"])
        g = torch.Generator().manual_seed(1)
        z_vid = torch.randn(3, *policy.cfg.future_latent_shape, generator=g)
        z_val = torch.randn(6, *policy.cfg.value_shape, generator=g)
        states_ref, states_ort = ref.features(ctx, z_vid), ort_backend.features(ctx, z_vid)
        assert rel(states_ort, torch.stack(states_ref)) < 1e-4
        assert rel(ort_backend.values(states_ort, z_val), ref.values(states_ref, z_val)) < 1e-4
        one_ref, one_ort = ref.features(ctx, z_vid[:1]), ort_backend.features(ctx, z_vid[:1])
        state, noise = torch.full((1, 14), 0.1), torch.randn(1, 8, 14, generator=g)
        assert rel(ort_backend.actions(one_ort, z_val[:1], state, noise), ref.actions(one_ref, z_val[:1], state, noise)) < 1e-4


def test_onnxruntime_plans_match_eager_plans_on_the_same_noise(model_dir, observation):
    images, state = observation
    policy = WAVPolicy.load(model_dir, CFG)
    eager = [policy.plan(images, state, "open the drawer", seed=s) for s in (0, 1)]
    policy.set_backend("onnxruntime", threads=1)
    assert policy.backend.name == "onnxruntime"
    ort = [policy.plan(images, state, "open the drawer", seed=s) for s in (0, 1)]
    for a, b in zip(ort, eager):
        assert rel(a.actions, b.actions) < 1e-4
        np.testing.assert_allclose(a.iteration_best_snr, b.iteration_best_snr, rtol=1e-4)
        assert a.iterations == b.iterations == 2


def test_a_future_conditioned_model_plans_the_same_on_onnxruntime(tmp_path, observation):
    """Its world graph denoises each candidate to the feature time and its action graph reads the
    denoised value chunk, as the eager planner does."""
    cfg = PlannerConfig(K=1, M=3, N=2, S=4)
    policy = random_policy("tiny", cfg, model_overrides={"conditioning": "future"})
    images, state = observation
    eager = policy.plan(images, state, "open the drawer", seed=0)
    policy.set_backend("onnxruntime", threads=1, onnx_dir=tmp_path / "onnx")
    assert policy.backend.name == "onnxruntime"
    ort = policy.plan(images, state, "open the drawer", seed=0)
    assert rel(ort.actions, eager.actions) < 1e-4
    assert rel(ort.values, eager.values) < 1e-4


@pytest.mark.parametrize("solve", ["unrolled", "step"])
def test_an_action_that_reads_the_observation_plans_the_same_on_onnxruntime(tmp_path, observation, solve):
    """The current frame's latents ride on the world's states into every graph (the action graphs
    also read them through the dense readout); the value graphs, here reading the future tokens
    only, drop them. The action graphs read the value's total channel alone (`action_value`)."""
    cfg = PlannerConfig(K=1, M=2, N=2, S=3)
    policy = random_policy("tiny", cfg, model_overrides={"conditioning": "future", "action_reads": "observation",
                                                         "action_readout": 2, "value_reads": "future",
                                                         "action_value": "total"})
    images, state = observation
    eager = policy.plan(images, state, "open the drawer", seed=3)
    policy.set_backend("onnxruntime", threads=1, onnx_dir=tmp_path / "onnx", solve=solve)
    ort = policy.plan(images, state, "open the drawer", seed=3)
    assert rel(ort.actions, eager.actions) < 1e-4
    assert rel(ort.values, eager.values) < 1e-4


@pytest.mark.parametrize("entry", ["token", "context"])
def test_an_action_that_reads_its_keyframe_goal_plans_the_same_on_onnxruntime(tmp_path, observation, entry):
    """The keyframe head's prediction enters the action graphs as one more token, or shifts them all."""
    cfg = PlannerConfig(K=1, M=2, N=2, S=3)
    policy = random_policy("tiny", cfg, model_overrides={"conditioning": "future", "action_reads": "observation",
                                                         "keyframe_weight": 1.0, "keyframe_goal": True,
                                                         "keyframe_goal_entry": entry})
    with torch.no_grad():  # a goal that moves the chunk
        policy.model.action.goal_in.weight.normal_(0, 1.0)
    images, state = observation
    eager = policy.plan(images, state, "open the drawer", seed=3)
    policy.set_backend("onnxruntime", threads=1, onnx_dir=tmp_path / "onnx")
    ort = policy.plan(images, state, "open the drawer", seed=3)
    assert rel(ort.actions, eager.actions) < 1e-4


@pytest.mark.parametrize("solve", ["unrolled", "step"])
def test_an_action_prior_plans_the_same_on_onnxruntime(tmp_path, observation, solve):
    """The prior's chunk is part of the unrolled action graph, and added after the step-wise solve."""
    cfg = PlannerConfig(K=1, M=2, N=2, S=3)
    policy = random_policy("tiny", cfg, model_overrides={"conditioning": "future", "action_reads": "observation",
                                                         "action_prior": True})
    with torch.no_grad():  # a prior whose chunk is far from the flow's
        policy.model.action.prior[-1].bias.fill_(0.5)
    images, state = observation
    eager = policy.plan(images, state, "open the drawer", seed=3)
    policy.set_backend("onnxruntime", threads=1, onnx_dir=tmp_path / "onnx", solve=solve)
    ort = policy.plan(images, state, "open the drawer", seed=3)
    assert rel(ort.actions, eager.actions) < 1e-4


def test_a_stale_export_is_detected_and_rebuilt(model_dir, tmp_path):
    policy = WAVPolicy.load(model_dir, CFG)
    model = copy.deepcopy(policy.model)
    out = tmp_path / "onnx"
    assert "no export manifest" in stale_reason(out, model, CFG, 17)
    shutil.copytree(model_dir / "onnx", out)
    assert stale_reason(out, model, CFG, 17) is None
    assert "planner sizes" in stale_reason(out, model, PlannerConfig(K=2, M=4, N=2, S=2), 17)
    assert "planner sizes" in stale_reason(out, model, dataclasses.replace(CFG, value_steps=1), 17)
    assert stale_reason(out, model, dataclasses.replace(CFG, value_steps=CFG.S), 17) is None  # the same solve
    assert "opset" in stale_reason(out, model, CFG, 18)
    assert "attention 'fused', expected 'standard'" in stale_reason(out, model, CFG, 17, attention="standard")
    with torch.no_grad():
        model.action.out.bias.add_(0.5)
    assert stale_reason(out, model, CFG, 17) == "weights changed since the export"
    before = read_manifest(out).weights_sha256
    ensure_onnx(model, CFG, out)
    assert stale_reason(out, model, CFG, 17) is None and read_manifest(out).weights_sha256 != before
    (out / "action_b1.onnx").unlink()
    assert "missing graph files ['action_b1.onnx']" in stale_reason(out, model, CFG, 17)


def test_export_command_reports_a_current_export_and_bad_arguments(model_dir, capsys, tmp_path):
    assert main(["export", "--model", str(model_dir), "--onnx", "--M", "3", "--N", "2", "--S", "2"]) == 0
    assert "current" in capsys.readouterr().out
    assert main(["export", "--model", str(model_dir)]) == 2
    assert "nothing to do; add --onnx" in capsys.readouterr().err
    assert main(["export", "--run", str(tmp_path / "no-run")]) == 2
    assert "--run: needs --out" in capsys.readouterr().err
    assert main(["export", "--run", str(tmp_path / "no-run"), "--out", str(tmp_path / "m")]) == 2
    assert "is " + str(tmp_path / "no-run") + " a training run directory" in capsys.readouterr().err


def test_fused_attention_is_one_operator_and_standard_graphs_plan_the_same(model_dir, observation):
    """`--onnx` exports attention as ONNX Runtime's MultiHeadAttention node; `--attention standard`
    (what TensorRT parses) writes plain ONNX ops next to it, in onnx-standard/."""
    def ops(folder):
        manifest = read_manifest(model_dir / folder)
        return {n.op_type for g in manifest.graphs.values()
                for n in onnx.load(str(model_dir / folder / g["file"])).graph.node}

    assert main(["export", "--model", str(model_dir), "--onnx", "--attention", "standard",
                 "--K", "2", "--M", "3", "--N", "2", "--S", "2"]) == 0
    assert read_manifest(model_dir / "onnx").attention == "fused"
    assert read_manifest(model_dir / "onnx-standard").attention == "standard"
    assert "MultiHeadAttention" in ops("onnx")
    assert "MultiHeadAttention" not in ops("onnx-standard") and "Softmax" in ops("onnx-standard")
    images, state = observation
    policy = WAVPolicy.load(model_dir, CFG)
    eager = policy.plan(images, state, seed=3)
    policy.set_backend("onnxruntime", attention="standard", threads=1)
    assert policy.backend.onnx_dir == model_dir / "onnx-standard"
    assert rel(policy.plan(images, state, seed=3).actions, eager.actions) < 1e-4


def test_step_wise_graphs_plan_like_the_unrolled_ones(tmp_path, observation):
    """solve="step": one session run per flow step (flow time as an input), the cached states
    projected once per solve."""
    images, state = observation
    cfg = PlannerConfig(K=1, M=2, N=2, S=3)
    policy = random_policy("tiny", cfg)
    eager = policy.plan(images, state, seed=5)
    policy.set_backend("onnxruntime", onnx_dir=tmp_path / "step", solve="step", threads=1)
    graphs = read_manifest(tmp_path / "step").graphs
    assert set(graphs) == {"world_b2", "world_b1", "value_kv_b2", "value_step_b4", "value_kv_b1", "value_step_b1",
                           "action_kv_b1", "action_step_b1"}
    assert graphs["value_step_b4"]["inputs"]["t"][0] == [4]
    assert rel(policy.plan(images, state, seed=5).actions, eager.actions) < 1e-4
    assert "solve 'step', expected 'unrolled'" in stale_reason(tmp_path / "step", policy.model, cfg, 17)


def _cuda_provider() -> bool:
    import onnxruntime as ort

    return torch.cuda.is_available() and "CUDAExecutionProvider" in ort.get_available_providers()


@pytest.mark.skipif(not _cuda_provider(), reason="needs CUDA and onnxruntime's CUDA execution provider")
def test_onnxruntime_on_the_gpu_matches_eager_on_the_gpu(tmp_path, observation):
    """The fused-attention graphs on the CUDA execution provider, inputs and outputs bound in GPU memory."""
    images, state = observation
    policy = random_policy("tiny", CFG, device="cuda")
    eager = [policy.plan(images, state, seed=s) for s in (0, 1)]
    policy.set_backend("onnxruntime", onnx_dir=tmp_path / "onnx")
    assert policy.backend.name == "onnxruntime" and policy.backend.providers[0] == "CUDAExecutionProvider"
    for seed, ref in zip((0, 1), eager):
        assert rel(policy.plan(images, state, seed=seed).actions, ref.actions) < 1e-4
