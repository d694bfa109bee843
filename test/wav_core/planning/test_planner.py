"""The iterative latent planner: it climbs toward high-SNR futures, K = 0 is plain sampling, the
batched planner equals the naive loop, and plans are reproducible."""

import numpy as np
import pytest
import torch

from wav_core.config.loader import ConfigError
from wav_core.model.normalize import Normalizer
from wav_core.planning import LatentPlanner, PlannerConfig, PlanNoise, random_policy
from wav_core.planning.budget import IterationBudget
from wav_core.planning.naive import NaivePlanner


class KnownOptimumPlanner(LatentPlanner):
    """A synthetic problem for the planner's search: each candidate's "features" are its video noise;
    the total value of a value chunk has mean 10 * exp(-mean((z_vid - target)^2)) and a spread that
    grows with the value noise's distance to its own target. The best latents are known exactly."""

    def __init__(self, cfg, model_cfg, vid_target, val_target):
        self.cfg, self.normalizer = cfg, Normalizer()
        self.model = type("M", (), {"cfg": model_cfg})()
        self.budget = IterationBudget(cfg.deadline_ms)
        self._sync = lambda: None
        self.vid_target, self.val_target = vid_target, val_target

    def _features(self, ctx, z_vid):
        return [z_vid]

    def _values(self, states, z_val):
        n = z_val.shape[0] // states[0].shape[0]
        quality = 10 * torch.exp(-((states[0] - self.vid_target) ** 2).flatten(1).mean(1)).repeat_interleave(n)
        spread = ((z_val - self.val_target) ** 2).flatten(1).mean(1)
        h, c = z_val.shape[1:]
        wiggle = torch.linspace(-1, 1, h)
        total = quality[:, None] + (0.1 + spread[:, None]) * wiggle
        values = torch.zeros(z_val.shape[0], h, c)
        values[..., -1] = total
        return self.normalizer.value(values)

    def _actions(self, states, z_val, state, noise):
        return noise[0]


@pytest.fixture()
def tiny_cfg():
    return random_policy("tiny").cfg


def test_planning_raises_the_chosen_snr_over_iterations(tiny_cfg):
    g = torch.Generator().manual_seed(0)
    vid_target = 0.8 * torch.ones(tiny_cfg.future_latent_shape)
    val_target = 0.5 * torch.ones(tiny_cfg.value_shape)
    chosen = {}
    for K in (0, 1, 3, 8):
        cfg = PlannerConfig(K=K, M=24, N=4, alpha_smooth=0.5)
        planner = KnownOptimumPlanner(cfg, tiny_cfg, vid_target, val_target)
        scores = []
        for seed in range(4):
            noise = PlanNoise.sample(tiny_cfg, cfg, g.manual_seed(seed))
            out = planner.plan(None, torch.zeros(1, 14), noise)
            scores.append(float(out.chosen_snr))
            if K >= 3:
                assert out.iterations == K
                assert out.best_snr[-1] >= out.best_snr[0]
                assert out.mean_snr[-1] > out.mean_snr[0]
        chosen[K] = np.mean(scores)
    assert chosen[1] > chosen[0] and chosen[3] > chosen[1] and chosen[8] > chosen[3], chosen


def test_k0_is_plain_sampling_with_the_same_seed():
    policy = random_policy("tiny", PlannerConfig(K=0, M=4, N=2, S=4))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, policy.image_shape, dtype=np.uint8)
    state = np.full(14, 0.1)
    res = policy.plan(images, state, "open the drawer", seed=7)
    noise = policy.sample_noise(seed=7)
    model, norm = policy.model, policy.card.normalization
    with torch.no_grad():
        hist = torch.from_numpy(images).permute(0, 1, 4, 2, 3).float()[None] / 255
        ctx = model.context(hist, ["open the drawer"])
        states = model.world_features(ctx, noise.final_video)
        vstates = model.value_states(model.value.video_kv(states), noise.final_value)
        actions = model.solve_action(model.action.video_kv(states), model.action.value_kv(vstates),
                                     norm.state(torch.tensor(state, dtype=torch.float32))[None], noise.action, 4)
    assert res.iterations == 0 and res.iteration_best_snr == []
    np.testing.assert_allclose(res.actions, norm.action_inverse(actions[0]).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("value_steps", [0, 3])
def test_batched_planner_equals_the_naive_loop(value_steps):
    cfg = PlannerConfig(K=2, M=3, N=2, S=2, value_steps=value_steps)
    policy = random_policy("tiny", cfg)
    images = np.random.default_rng(1).integers(0, 256, policy.image_shape, dtype=np.uint8)
    batched = policy.plan(images, np.zeros(14) + 0.2, seed=3)
    policy.planner = NaivePlanner(policy.model, policy.card.normalization, cfg)
    naive = policy.plan(images, np.zeros(14) + 0.2, seed=3)
    np.testing.assert_allclose(batched.actions, naive.actions, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(batched.iteration_best_snr, naive.iteration_best_snr, rtol=1e-4)


def test_value_steps_below_zero_are_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"value_steps: got -1, expected >= 0 \(0: S\)"):
        PlannerConfig(value_steps=-1).validate()
    assert PlannerConfig(S=10).value_solve_steps == 10 and PlannerConfig(S=10, value_steps=4).value_solve_steps == 4


def test_plan_result_is_in_robot_units_and_reproducible():
    policy = random_policy("tiny", PlannerConfig(K=2, M=4, N=2, S=3))
    images = np.random.default_rng(2).integers(0, 256, policy.image_shape, dtype=np.uint8)
    a = policy.plan(images, np.zeros(14) + 0.1, seed=11)
    b = policy.plan(images, np.zeros(14) + 0.1, seed=11)
    c = policy.plan(images, np.zeros(14) + 0.1, seed=12)
    assert a.actions.shape == (policy.cfg.action_horizon, 14) and a.values.shape == (policy.cfg.action_horizon, 17)
    np.testing.assert_array_equal(a.actions, b.actions)
    assert not np.array_equal(a.actions, c.actions)
    assert len(a.iteration_best_snr) == 2 and set(a.timings_ms) >= {"world", "value", "action", "total"}


@pytest.mark.parametrize("images,state,match", [
    (np.zeros((3, 2, 32, 31, 3), np.uint8), np.zeros(14), r"images: got uint8 \(3, 2, 32, 31, 3\), expected uint8 array of shape \(3, 2, 32, 32, 3\)"),
    (np.zeros((3, 2, 32, 32, 3), np.float32), np.zeros(14), "images: got float32"),
    (np.zeros((3, 2, 32, 32, 3), np.uint8), np.zeros(12), r"state: got shape \(12,\), expected \(14,\)"),
    (np.zeros((3, 2, 32, 32, 3), np.uint8), np.r_[np.zeros(13), np.nan], r"state: contains NaN or inf at indices \[13\]"),
])
def test_bad_inputs_name_the_input_and_expected_shape(images, state, match):
    policy = random_policy("tiny", PlannerConfig(K=1, M=2, N=2, S=2))
    with pytest.raises(ValueError, match=match):
        policy.plan(images, state)


def test_plans_without_a_seed_draw_fresh_noise():
    policy = random_policy("tiny", PlannerConfig(K=0, S=2))
    h, w = policy.cfg.image_size
    images = np.zeros((3, 2, h, w, 3), dtype=np.uint8)
    a, b = (policy.plan(images, np.zeros(14)).actions for _ in range(2))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(policy.plan(images, np.zeros(14), seed=4).actions,
                                  policy.plan(images, np.zeros(14), seed=4).actions)


def test_default_elite_fractions_select():
    from wav_core.planning import elite_count

    cfg = PlannerConfig()
    assert elite_count(cfg.video_elite_frac, 8) == 2 and elite_count(cfg.video_elite_frac, 30) == 8
    assert elite_count(cfg.value_elite_frac, 8 * 4) == 4 and elite_count(cfg.value_elite_frac, 30 * 5) == 15


def test_action_temperature_scales_only_the_action_noise(tiny_cfg):
    one = PlanNoise.sample(tiny_cfg, PlannerConfig(K=2), torch.Generator().manual_seed(3))
    for temperature in (0.0, 0.5):
        scaled = PlanNoise.sample(tiny_cfg, PlannerConfig(K=2, action_temperature=temperature),
                                  torch.Generator().manual_seed(3))
        torch.testing.assert_close(scaled.action, one.action * temperature)
        for key in ("video", "value", "final_video", "final_value"):
            assert torch.equal(getattr(scaled, key), getattr(one, key)), key
    with pytest.raises(ConfigError, match=r"action_temperature: got -1.0, expected a number in \[0, 1\]"):
        PlannerConfig(action_temperature=-1.0).validate()


def test_plan_temperature_scales_the_planned_noise_only(tiny_cfg):
    one = PlanNoise.sample(tiny_cfg, PlannerConfig(K=2), torch.Generator().manual_seed(3))
    scaled = PlanNoise.sample(tiny_cfg, PlannerConfig(K=2, plan_temperature=0.5), torch.Generator().manual_seed(3))
    for key in ("video", "value", "final_video", "final_value"):
        torch.testing.assert_close(getattr(scaled, key), getattr(one, key) * 0.5)
    assert torch.equal(scaled.action, one.action)
    with pytest.raises(ConfigError, match=r"plan_temperature: got 2.0, expected a number in \[0, 1\]"):
        PlannerConfig(plan_temperature=2.0).validate()


def test_at_zero_temperatures_a_plan_without_iterations_is_the_mode():
    """K = 0 with both temperatures 0: every seed decodes the same chunk, the one from the modes."""
    policy = random_policy("tiny", PlannerConfig(K=0, S=2, plan_temperature=0.0, action_temperature=0.0))
    h, w = policy.cfg.image_size
    images = np.zeros((3, 2, h, w, 3), dtype=np.uint8)
    np.testing.assert_array_equal(policy.plan(images, np.zeros(14), seed=1).actions,
                                  policy.plan(images, np.zeros(14), seed=2).actions)
    sampled = random_policy("tiny", PlannerConfig(K=0, S=2, action_temperature=0.0))
    assert not np.allclose(sampled.plan(images, np.zeros(14), seed=1).actions, sampled.plan(images, np.zeros(14), seed=2).actions)


class FirstElementPlanner(KnownOptimumPlanner):
    """A value that reads one element of each candidate's future: the search can find candidates far
    out along it, while the Gaussians, smoothed, move toward them slowly."""

    def _values(self, states, z_val):
        n = z_val.shape[0] // states[0].shape[0]
        values = torch.zeros(z_val.shape[0], *z_val.shape[1:])
        values[..., -1] = states[0].flatten(1)[:, 0].repeat_interleave(n)[:, None]
        return values


def test_the_best_candidate_is_what_the_search_found_and_a_draw_at_the_papers_smoothing_is_not(tiny_cfg):
    """`final: best` decodes the last iteration's best-scored candidate, so the chosen score is that
    iteration's best; `draw` (the paper's) samples the final Gaussians, which at alpha_smooth 0.9 have
    moved about a quarter of the way toward the elites after three iterations."""
    chosen = {}
    for K, final in ((0, "draw"), (0, "best"), (3, "draw"), (3, "best")):
        cfg = PlannerConfig(K=K, M=16, N=2, alpha_smooth=0.9, final=final, score="mean")
        planner = FirstElementPlanner(cfg, tiny_cfg, None, None)
        scores = []
        for seed in range(8):
            out = planner.plan(None, torch.zeros(1, 14), PlanNoise.sample(tiny_cfg, cfg, torch.Generator().manual_seed(seed)))
            scores.append(float(out.chosen_score))
            if K and final == "best":
                assert float(out.chosen_score) == pytest.approx(float(out.best_snr[-1]), rel=1e-6)
        chosen[K, final] = np.mean(scores)
    assert chosen[0, "draw"] == chosen[0, "best"]  # no iteration: the same draw
    assert chosen[3, "best"] > 1.5 > chosen[3, "draw"], chosen
    with pytest.raises(ConfigError, match=r"final: got 'elite', expected one of \['draw', 'best'\]"):
        PlannerConfig(final="elite").validate()
