"""The planner's real-time controls: a deadline cuts the iterations short (keeping the best so far)
using the measured cost per iteration, and a warm start begins from the previous plan's Gaussians
blended toward N(0, I)."""

import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from wav_core.planning import LatentPlanner, PlannerConfig, PlanNoise, random_policy
from wav_core.planning.backend import Backend
from wav_core.planning.backend.static_plan import StaticPlan
from wav_core.planning.budget import IterationBudget
from wav_core.planning.planner import Gaussians

SLEEP_S = 0.05


class SlowWorldBackend(Backend):
    """Eager torch whose world forward takes at least SLEEP_S: a stand-in for a bigger model."""

    def features(self, ctx, z_vid):
        time.sleep(SLEEP_S)
        return super().features(ctx, z_vid)


@pytest.fixture(scope="module")
def policy():
    return random_policy("tiny", PlannerConfig(K=2, M=2, N=2, S=1))


def observation(policy):
    return np.random.default_rng(0).integers(0, 256, policy.image_shape, dtype=np.uint8), np.zeros(14) + 0.2


def slow_planner(policy, cfg):
    return LatentPlanner(policy.model, policy.card.normalization, cfg, SlowWorldBackend(policy.model, cfg))


def test_deadline_stops_iterating_and_keeps_the_best_so_far(policy):
    images, state = observation(policy)
    # 20 iterations cost >= 20 * SLEEP_S = 1 s; the budget fits only a few.
    cfg = PlannerConfig(K=20, M=2, N=2, S=1, deadline_ms=8 * SLEEP_S * 1000)
    policy.planner = slow_planner(policy, cfg)
    cut = policy.plan(images, state, seed=3)
    assert 1 <= cut.iterations < cfg.K
    assert len(cut.iteration_best_snr) == cut.iterations
    # What it returns is exactly the plan that stops after that many iterations on the same draws.
    n, noise = cut.iterations, policy.sample_noise(seed=3)
    short = PlanNoise(noise.video[:n], noise.value[:n], noise.final_video, noise.final_value, noise.action)
    policy.planner = LatentPlanner(policy.model, policy.card.normalization, replace(cfg, K=n, deadline_ms=0))
    ref = policy.plan(images, state, noise=short)
    np.testing.assert_allclose(cut.actions, ref.actions, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cut.iteration_best_snr, ref.iteration_best_snr, rtol=1e-5)


def test_a_captured_plan_cuts_its_replays_by_the_same_rule(policy):
    # StaticPlan.execute is the loop the CUDA-graph backends run over their iteration and decode
    # replays; over the eager pieces it runs anywhere.
    images, state = observation(policy)
    cfg = PlannerConfig(K=20, M=2, N=2, S=1, deadline_ms=8 * SLEEP_S * 1000)
    policy.planner = slow_planner(policy, cfg)
    noise = policy.sample_noise(seed=3)
    hist = torch.from_numpy(images).permute(0, 1, 4, 2, 3).float()[None] / 255
    ctx = policy.model.context(hist, [""])
    state_t = policy.card.normalization.state(torch.from_numpy(state).float()[None])
    static = StaticPlan(policy.planner.backend, policy.card.normalization, cfg)
    budget = IterationBudget(cfg.deadline_ms)
    with torch.no_grad():
        static.load(ctx, state_t, noise, None)
        n = static.execute(static.run_iteration, static.run_decode, budget, time.perf_counter(), lambda: None)
        cut = static.result({})
        assert 1 <= n == cut.iterations < cfg.K and len(cut.best_snr) == n
        assert budget.iter_ms is not None and budget.final_ms is not None  # both measured for the next plan
        short = PlanNoise(noise.video[:n], noise.value[:n], noise.final_video, noise.final_value, noise.action)
        reference = LatentPlanner(policy.model, policy.card.normalization, replace(cfg, K=n, deadline_ms=0))
        ref = reference.plan(ctx, state_t, short)
    torch.testing.assert_close(cut.actions, ref.actions, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.stack(cut.best_snr), torch.stack(ref.best_snr), rtol=1e-5, atol=1e-6)


def test_without_a_deadline_every_iteration_runs(policy):
    images, state = observation(policy)
    policy.planner = slow_planner(policy, PlannerConfig(K=4, M=2, N=2, S=1))
    assert policy.plan(images, state, seed=0).iterations == 4


def test_a_deadline_below_one_iteration_plans_without_iterating_once_calibrated(policy):
    images, state = observation(policy)
    planner = slow_planner(policy, PlannerConfig(K=5, M=2, N=2, S=1, deadline_ms=SLEEP_S * 1000 / 2))
    policy.planner = planner
    first = policy.plan(images, state, seed=0)
    assert first.iterations == 1, "the first plan measures one iteration before it can budget"
    second = policy.plan(images, state, seed=0)
    assert second.iterations == 0 and second.iteration_best_snr == []
    assert np.all(np.isfinite(second.actions)) and second.actions.shape == (8, 14)


def test_blend_toward_standard_interpolates_mean_and_std():
    shape = (3, 2)
    g = Gaussians(torch.full(shape, 2.0), torch.full(shape, 0.2), torch.full((4,), -1.0), torch.full((4,), 3.0))
    assert torch.equal(g.blend_toward_standard(1.0).video_mean, g.video_mean)
    cold = g.blend_toward_standard(0.0)
    assert torch.equal(cold.video_mean, torch.zeros(shape)) and torch.equal(cold.value_std, torch.ones(4))
    half = g.blend_toward_standard(0.25)
    torch.testing.assert_close(half.video_mean, torch.full(shape, 0.5))
    torch.testing.assert_close(half.video_std, torch.full(shape, 0.25 * 0.2 + 0.75))
    torch.testing.assert_close(half.value_mean, torch.full((4,), -0.25))


def test_warm_plans_start_from_the_previous_plan_blended_toward_standard():
    cfg = PlannerConfig(K=2, M=3, N=2, S=1, warm_start=0.6)
    policy = random_policy("tiny", cfg)
    images, state = observation(policy)
    policy.plan(images, state, seed=0)
    previous = policy.last_gaussians
    warm = policy.plan(images, state, seed=1, warm=True)
    policy.reset()
    cold = policy.plan(images, state, seed=1, warm=True)  # nothing to start from after a reset
    assert not np.allclose(warm.actions, cold.actions), "a warm start changes the plan"
    # With K = 0 the plan keeps its start distribution, which exposes it.
    policy.plan(images, state, seed=0)
    policy.set_planner(replace(cfg, K=0))
    policy.plan(images, state, seed=1, warm=True)
    start = policy.last_gaussians
    torch.testing.assert_close(start.video_mean, 0.6 * previous.video_mean)
    torch.testing.assert_close(start.video_std, 0.6 * previous.video_std + 0.4)
    torch.testing.assert_close(start.value_std, 0.6 * previous.value_std + 0.4)
    # warm_start = 0 keeps plans cold even when a warm one is asked for.
    policy.set_planner(replace(cfg, warm_start=0.0))
    policy.plan(images, state, seed=0)
    np.testing.assert_array_equal(policy.plan(images, state, seed=1, warm=True).actions, cold.actions)
