"""Backends behind one interface: an unavailable backend falls back to eager torch and says why;
the CUDA-graph plan (static buffers, pure tensor work) equals the reference planner when run eagerly
on any machine and when captured on a GPU; compiled networks plan like eager ones (step by step on
the CPU, captured on a GPU); TensorRT engines plan like eager torch."""

import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from wav_core.model.config import WorldConfig
from wav_core.planning import LatentPlanner, PlannerConfig, PlanNoise, random_policy
from wav_core.planning.backend import Backend, BackendFallbackWarning, BackendUnavailable, make_backend
from wav_core.planning.backend.static_plan import StaticPlan

CFG = PlannerConfig(K=2, M=3, N=2, S=2)


def rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module")
def policy():
    return random_policy("tiny", CFG)


def observation(policy, seed=0):
    images = np.random.default_rng(seed).integers(0, 256, policy.image_shape, dtype=np.uint8)
    return images, np.zeros(14) + 0.2


def context(policy, images, device="cpu"):
    hist = torch.from_numpy(images).to(device).permute(0, 1, 4, 2, 3).float()[None] / 255
    return policy.model.context(hist, ["open the drawer"])


def test_a_static_plan_without_iterations_decodes_like_the_reference(policy):
    cfg = replace(CFG, K=0)
    static = StaticPlan(Backend(policy.model, cfg), policy.card.normalization, cfg)
    planner = LatentPlanner(policy.model, policy.card.normalization, cfg)
    state = torch.full((1, 14), 0.2)
    noise = PlanNoise.sample(policy.cfg, cfg, torch.Generator().manual_seed(4), "cpu")
    with torch.no_grad():
        ctx = context(policy, observation(policy)[0])
        ref = planner.plan(ctx, state, noise)
        static.load(ctx, state, noise, None)
        static.run()
        got = static.result({})
    assert got.iterations == ref.iterations == 0 and got.best_snr == []
    assert rel(got.actions, ref.actions) < 1e-5


@pytest.mark.parametrize("ranking", [{}, {"value_noise": "shared", "video_score": "mean"}])
def test_a_static_plan_decodes_the_best_candidate_like_the_reference(ranking):
    """`final: best`: the captured pieces carry the best candidate in buffers; run eagerly they plan
    as the reference planner does, with every iteration count the deadline can leave, whatever ranks
    the candidates."""
    cfg = replace(CFG, final="best", **ranking)
    policy = random_policy("tiny", cfg, model_overrides={"conditioning": "future"})
    planner = LatentPlanner(policy.model, policy.card.normalization, cfg)
    static = StaticPlan(Backend(policy.model, cfg), policy.card.normalization, cfg)
    drawn = LatentPlanner(policy.model, policy.card.normalization, CFG)
    state = torch.full((1, 14), 0.2)
    with torch.no_grad():
        ctx = context(policy, observation(policy, 5)[0])
        noise = policy.sample_noise(5)
        ref = planner.plan(ctx, state, noise)
        static.load(ctx, state, noise, None)
        static.run()
        got = static.result({})
        assert rel(got.actions, ref.actions) < 1e-5 and rel(got.values, ref.values) < 1e-5
        if not ranking:  # ranked by their best sample, the chosen candidate holds the best score seen
            assert float(ref.chosen_score) == pytest.approx(float(ref.best_snr[-1]), rel=1e-5)
        assert not np.allclose(ref.actions, drawn.plan(ctx, state, noise).actions)
        for iterations in (0, 1):  # what a deadline leaves: the draw, or the first iteration's best
            static.begin()
            for k in range(iterations):
                static.select(k)
                static.run_iteration()
            static.run_decode()
            short = LatentPlanner(policy.model, policy.card.normalization, replace(cfg, K=iterations))
            want = short.plan(ctx, state, PlanNoise(noise.video[:iterations], noise.value[:iterations],
                                                    noise.final_video, noise.final_value, noise.action))
            assert rel(static.out["actions"], want.actions) < 1e-5


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback on a machine without CUDA")
def test_cudagraph_without_cuda_falls_back_to_torch_and_says_why(policy):
    with pytest.warns(BackendFallbackWarning, match=r"backend 'torch-cudagraph' unavailable \(CUDA not available"):
        backend = make_backend("torch-cudagraph", policy, CFG)
    assert type(backend) is Backend and backend.name == "torch"


def test_tensorrt_fallback_names_the_reason(policy):
    try:
        import tensorrt  # noqa: F401
        reason = "CUDA not available" if not torch.cuda.is_available() else "needs it on a CUDA device"
    except ImportError:
        reason = "tensorrt not importable"
    with pytest.warns(BackendFallbackWarning, match=reason):
        backend = make_backend("tensorrt", policy, CFG)
    assert backend.name == "torch"
    with pytest.raises(BackendUnavailable, match=reason):
        make_backend("tensorrt", policy, CFG, strict=True)


def test_missing_onnxruntime_falls_back_and_the_policy_still_plans(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what `import onnxruntime` sees when it is not installed
    with pytest.warns(BackendFallbackWarning, match="onnxruntime not installed"):
        policy = random_policy("tiny", CFG, backend="onnxruntime")
    assert policy.backend.name == "torch"
    images, state = observation(policy)
    assert policy.plan(images, state, seed=0).actions.shape == (8, 14)


def test_unknown_backend_and_bad_options_are_errors(policy):
    with pytest.raises(ValueError, match=r"backend: got 'tensorflow', expected one of \['torch', 'torch-cudagraph'"):
        make_backend("tensorflow", policy, CFG)
    with pytest.raises(ValueError, match="backend 'torch': takes no options"):
        policy.set_backend("torch", threads=2)


def test_planner_rejects_a_backend_built_for_other_sizes(policy):
    with pytest.raises(ValueError, match="backend 'torch' was built for"):
        LatentPlanner(policy.model, policy.card.normalization, CFG, Backend(policy.model, PlannerConfig(K=2, M=4, N=2, S=2)))


@pytest.mark.parametrize("overrides", [{"conditioning": "paper"}, {"conditioning": "future"},
                                       {"conditioning": "future", "action_reads": "observation"},
                                       {"conditioning": "future", "action_reads": "observation", "action_readout": 2},
                                       {"conditioning": "future", "action_value": "total"},
                                       {"conditioning": "future", "action_reads": "observation", "keyframe_weight": 1.0,
                                        "keyframe_goal": True},
                                       {"conditioning": "future", "action_reads": "observation", "keyframe_weight": 1.0,
                                        "keyframe_goal": True, "keyframe_goal_entry": "context"},
                                       {"conditioning": "future", "action_reads": "observation", "action_prior": True}])
def test_static_plan_run_eagerly_equals_the_reference_planner_with_reused_buffers(overrides):
    policy = random_policy("tiny", CFG, model_overrides=overrides)
    planner = LatentPlanner(policy.model, policy.card.normalization, CFG)
    static = StaticPlan(Backend(policy.model, CFG), policy.card.normalization, CFG)
    state = torch.full((1, 14), 0.2)
    with torch.no_grad():
        for seed, warm in ((0, None), (1, None), (2, "warm")):
            ctx = context(policy, observation(policy, seed)[0])
            noise = policy.sample_noise(seed)
            start = planner.plan(ctx, state, policy.sample_noise(99)).gaussians.blend_toward_standard(0.5) if warm else None
            ref = planner.plan(ctx, state, noise, start)
            fresh = static.load(ctx, state, noise, start)
            assert fresh == (seed == 0), "context buffers are allocated once and then refilled in place"
            if seed == 0:
                pointers = [static.ctx.memory.data_ptr(), static.noise.video.data_ptr(), static.out["actions"].data_ptr()]
            static.run()
            got = static.result({})
            assert [static.ctx.memory.data_ptr(), static.noise.video.data_ptr(), static.out["actions"].data_ptr()] == pointers
            assert rel(got.actions, ref.actions) < 1e-5
            assert rel(got.values, ref.values) < 1e-5
            np.testing.assert_allclose(torch.stack(got.best_snr), torch.stack(ref.best_snr), rtol=1e-5)
            assert got.iterations == ref.iterations == CFG.K
            assert rel(got.gaussians.video_std, ref.gaussians.video_std) < 1e-5
            assert rel(got.gaussians.value_mean, ref.gaussians.value_mean) < 1e-5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graph capture needs CUDA")
def test_captured_cuda_graph_plans_match_eager_on_the_gpu():
    policy = random_policy("tiny", replace(CFG, warm_start=0.5), device="cuda")
    images, state = observation(policy)
    eager = [policy.plan(images, state, seed=s, warm=s > 0) for s in range(3)]
    policy.set_backend("torch-cudagraph")
    assert policy.backend.name == "torch-cudagraph" and policy.backend.captures_plan
    policy.reset()  # the graph run warm-starts from its own previous plans, as the eager run did
    graph = [policy.plan(images, state, seed=s, warm=s > 0) for s in range(3)]
    for a, b in zip(graph, eager):
        assert rel(a.actions, b.actions) < 1e-3
        np.testing.assert_allclose(a.iteration_best_snr, b.iteration_best_snr, rtol=1e-3)


def test_compiled_networks_plan_like_eager_and_leave_the_policy_model_as_it_was():
    # one world block: compilation on two CPU cores takes seconds per block
    policy = random_policy("tiny", replace(CFG, warm_start=0.5), model_overrides={"world": WorldConfig(dim=64, depth=1, heads=4)})
    images, state = observation(policy)
    eager = [policy.plan(images, state, seed=s, warm=s > 0) for s in range(2)]
    world = policy.model.world
    policy.set_backend("torch-compile")
    assert policy.backend.name == "torch-compile" and not policy.backend.captures_plan  # CPU: the planner drives it
    assert policy.model.world is world and policy.backend.model.world is not world
    policy.reset()
    compiled = [policy.plan(images, state, seed=s, warm=s > 0) for s in range(2)]
    for a, b in zip(compiled, eager):
        assert rel(a.actions, b.actions) < 1e-4
        np.testing.assert_allclose(a.iteration_best_snr, b.iteration_best_snr, rtol=1e-4)


def test_padded_single_batches_let_each_network_compile_once_and_the_bench_reports_the_first_plan():
    """A plan calls the world with M candidates and with the chosen one, the value with M x N samples and
    with one: static shapes compile a graph for each (8 for this model). With a batch of one padded to
    two and a dynamic batch dimension, the world and the action compile once and the value twice (its
    N samples per candidate, then one per future)."""
    from torch._dynamo.utils import counters

    from wav_core.bench.planner import bench_planner

    policy = random_policy("tiny", CFG, model_overrides={"world": WorldConfig(dim=64, depth=1, heads=4),
                                                         "conditioning": "future"})
    torch._dynamo.reset()
    counters.clear()
    res = bench_planner(policy, CFG, repeats=2, warmup=0, naive=False, backend="torch-compile",
                        backend_options={"pad_single": True})
    assert policy.backend.name == "torch-compile"
    assert counters["stats"]["unique_graphs"] == 4
    assert res["backend"]["max_rel_diff_actions"] < 1e-4
    assert np.isfinite(res["backend"]["first_ms"])  # recorded: compilation and capture, kept apart from the median


def test_compiled_backend_refuses_precisions_it_cannot_run(policy):
    with pytest.raises(ValueError, match=r"precision got 'fp16', expected one of \['fp32', 'bf16', 'bf16-world'\]"):
        make_backend("torch-compile", policy, CFG, precision="fp16")
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailable, match="bf16 planning is for CUDA devices"):
            make_backend("torch-compile", policy, CFG, strict=True, precision="bf16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graph capture needs CUDA")
@pytest.mark.parametrize("precision,tolerance", [("fp32", 1e-3), ("bf16", 5e-2), ("bf16-world", 2e-2)])
def test_compiled_and_captured_plans_match_eager_on_the_gpu(precision, tolerance):
    policy = random_policy("tiny", replace(CFG, warm_start=0.5), device="cuda")
    images, state = observation(policy)
    eager = [policy.plan(images, state, seed=s, warm=s > 0) for s in range(3)]
    policy.set_backend("torch-compile", precision=precision)
    assert policy.backend.name == "torch-compile" and policy.backend.captures_plan
    policy.reset()
    graph = [policy.plan(images, state, seed=s, warm=s > 0) for s in range(3)]
    for a, b in zip(graph, eager):
        assert rel(a.actions, b.actions) < tolerance


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graph capture needs CUDA")
def test_captured_plans_without_iterations_and_under_a_deadline_on_the_gpu():
    policy = random_policy("tiny", replace(CFG, K=0), device="cuda")
    images, state = observation(policy)
    eager = policy.plan(images, state, seed=1)
    policy.set_backend("torch-cudagraph")
    assert rel(policy.plan(images, state, seed=1).actions, eager.actions) < 1e-3
    # A deadline far below one iteration: the first plan runs one to measure it, the next none.
    policy.set_planner(replace(CFG, K=5, deadline_ms=1e-3))
    assert [policy.plan(images, state, seed=s).iterations for s in range(2)] == [1, 0]


def test_tensorrt_engines_plan_like_eager_and_are_cached(tmp_path):
    pytest.importorskip("tensorrt")
    policy = random_policy("tiny", CFG, device="cuda")
    images, state = observation(policy)
    eager = policy.plan(images, state, seed=0)
    policy.set_backend("tensorrt", onnx_dir=tmp_path / "onnx", precision="fp32")
    assert policy.backend.name == "tensorrt"
    engines = sorted((tmp_path / "onnx" / "tensorrt").glob("*.engine"))
    assert len(engines) == 5
    stamps = [p.stat().st_mtime_ns for p in engines]
    trt = policy.plan(images, state, seed=0)
    assert rel(trt.actions, eager.actions) < 1e-2
    policy.set_backend("tensorrt", onnx_dir=tmp_path / "onnx", precision="fp32")
    assert [p.stat().st_mtime_ns for p in engines] == stamps, "engines are reused from the cache"
    np.testing.assert_allclose(policy.plan(images, state, seed=0).actions, trt.actions, rtol=1e-4, atol=1e-5)
