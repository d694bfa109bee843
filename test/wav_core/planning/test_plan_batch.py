"""Several plans made in one call (episodes evaluated in lockstep): the networks see every plan's
candidates at once, but each plan keeps its own noise, Gaussians and elites, so plan b of a batch is
the plan made alone on the same inputs.

Batched and single plans run the same arithmetic on larger matrices, whose products may sum in a
different order: they agree to float32 round-off (observed about 1e-6 on the tiny model), so the
comparisons allow 1e-5. The elite update itself works row by row and is compared exactly."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from wav_core.planning import Gaussians, PlannerConfig, PlanNoise, elite_update, random_policy
from wav_core.planning.backend import Backend
from wav_core.planning.iteration import Networks, iterate, iterate_batch
from wav_core.planning.policy import EpisodePolicy

CFG = PlannerConfig(K=2, M=4, N=3, S=2, warm_start=0.5)
TOL = dict(rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def policy():
    return random_policy("tiny", CFG)


def observations(policy, count, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, policy.image_shape, dtype=np.uint8), rng.normal(size=14) * 0.1, "open the drawer")
            for _ in range(count)]


def context(policy, images):
    hist = torch.from_numpy(np.stack(images)).permute(0, 1, 2, 5, 3, 4).float() / 255
    return policy.model.context(hist, ["open the drawer"] * len(images))


def test_a_batched_elite_update_is_one_update_per_plan_exactly():
    g = torch.Generator().manual_seed(0)
    mean, std = torch.randn(4, 3, 5, generator=g), torch.rand(4, 3, 5, generator=g)
    samples, scores = torch.randn(4, 32, 3, 5, generator=g), torch.randn(4, 32, generator=g)
    # Plan 0's scores dwarf the others': elites pooled over the batch would all come from plan 0.
    scores[0] += 100
    new_mean, new_std = elite_update(mean, std, samples, scores, 0.1, 0.9, 0.5)
    for b in range(4):
        alone = elite_update(mean[b], std[b], samples[b], scores[b], 0.1, 0.9, 0.5)
        assert torch.equal(new_mean[b], alone[0]) and torch.equal(new_std[b], alone[1])
    with pytest.raises(ValueError, match=r"scores: got shape \(4, 31\), expected \[4, 32\]"):
        elite_update(mean, std, samples, scores[:, :31], 0.1, 0.9, 0.5)


def test_a_batched_iteration_equals_one_iteration_per_plan(policy):
    obs = observations(policy, 3)
    ctx = context(policy, [o[0] for o in obs])
    gen = torch.Generator().manual_seed(1)
    noises = [PlanNoise.sample(policy.cfg, CFG, gen) for _ in obs]
    # Different starts per plan, as warm starts give them.
    starts = [Gaussians.standard(policy.model, "cpu")]
    for scale in (0.3, 0.7):
        s = Gaussians.standard(policy.model, "cpu")
        starts.append(Gaussians(s.video_mean + scale, s.video_std * scale, s.value_mean - scale, s.value_std + scale))
    nets = Networks.of(policy.backend)
    with torch.no_grad():
        g_batch, scores_batch, best_batch = iterate_batch(nets, ctx, Gaussians.stack(starts),
                                              torch.stack([n.video[0] for n in noises]),
                                              torch.stack([n.value[0] for n in noises]), CFG)
        for b, (start, noise) in enumerate(zip(starts, noises)):
            one = type(ctx)(ctx.memory[b:b + 1], ctx.text[b:b + 1], ctx.text_mask[b:b + 1])
            g_one, scores_one, best_one = iterate(nets, one, start, noise.video[0], noise.value[0], CFG)
            torch.testing.assert_close(scores_batch[b], scores_one, **TOL)
            torch.testing.assert_close(best_batch.video[b], best_one.video[0], **TOL)
            torch.testing.assert_close(best_batch.value[b], best_one.value[0], **TOL)
            for name in ("video_mean", "video_std", "value_mean", "value_std"):
                torch.testing.assert_close(getattr(g_batch.unstack()[b], name), getattr(g_one, name), **TOL)
    # The plans differ from each other, so the comparison above is not between identical plans.
    assert not torch.allclose(scores_batch[0], scores_batch[1])


def test_plan_batch_equals_each_plan_made_alone_with_its_own_warm_start(policy):
    obs = observations(policy, 3, seed=2)
    seeds = [5, 6, 7]
    first = policy.plan_batch(obs, seeds)
    second = policy.plan_batch(obs, [s + 10 for s in seeds], [g for _, g in first], warm=True)
    for b, o in enumerate(obs):
        policy.reset()
        alone_first = policy.plan(*o, seed=seeds[b], warm=True)
        alone_second = policy.plan(*o, seed=seeds[b] + 10, warm=True)
        for alone, (batched, _) in ((alone_first, first[b]), (alone_second, second[b])):
            np.testing.assert_allclose(batched.actions, alone.actions, **TOL)
            np.testing.assert_allclose(batched.values, alone.values, **TOL)
            np.testing.assert_allclose(batched.iteration_best_snr, alone.iteration_best_snr, **TOL)
            np.testing.assert_allclose(batched.iteration_mean_snr, alone.iteration_mean_snr, **TOL)
            np.testing.assert_allclose(batched.score, alone.score, **TOL)
            assert batched.iterations == alone.iterations == CFG.K
    # The warm start changed the second plans (against the same seeds planned cold).
    cold = policy.plan_batch(obs, [s + 10 for s in seeds])
    assert not np.allclose(cold[0][0].actions, second[0][0].actions)


def test_an_episode_policy_keeps_its_own_warm_start_memory(policy):
    (images, state, text), = observations(policy, 1, seed=3)
    a, b = EpisodePolicy(policy), EpisodePolicy(policy)
    a.plan(images, state, text, seed=1, warm=True)
    assert a.last is not None and b.last is None
    warm = a.plan(images, state, text, seed=2, warm=True)
    cold = b.plan(images, state, text, seed=2, warm=True)
    assert not np.allclose(warm.actions, cold.actions)
    policy.reset()
    policy.plan(images, state, text, seed=1, warm=True)
    np.testing.assert_allclose(policy.plan(images, state, text, seed=2, warm=True).actions, warm.actions, **TOL)
    a.reset()
    np.testing.assert_allclose(a.plan(images, state, text, seed=2, warm=True).actions, cold.actions, **TOL)


class FixedSizeBackend(Backend):
    """Stands for a backend of exported graphs, which run one batch size only."""

    name = "fixed-size"


def test_plan_batch_names_what_is_wrong(policy):
    obs = observations(policy, 2)
    with pytest.raises(ValueError, match="got 2 observations, 1 seeds"):
        policy.plan_batch(obs, [1])
    fixed = random_policy("tiny", CFG)
    fixed.planner.backend = FixedSizeBackend(fixed.model, CFG)
    with pytest.raises(ValueError, match=r"backend 'fixed-size' runs exported graphs of fixed batch size"):
        fixed.plan_batch(obs, [1, 2])
    assert fixed.plan_batch(obs[:1], [1])[0][0].actions.shape == (fixed.cfg.action_horizon, 14)
    noise = PlanNoise.stack([fixed.sample_noise(seed=1), fixed.sample_noise(seed=2)])
    noise.check(fixed.cfg, CFG, batch=2)
    with pytest.raises(ValueError, match=r"noise.video: got shape"):
        noise.check(fixed.cfg, replace(CFG, M=5), batch=2)
