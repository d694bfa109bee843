"""`snr` and `elite_update` match their written definitions on random inputs."""

import math

import pytest
import torch

from wav_core.planning import elite_count, elite_update, snr


def test_snr_is_mean_over_std_of_the_total_channel():
    g = torch.Generator().manual_seed(1)
    values = torch.randn(7, 12, 17, generator=g) + 0.5
    total = values[:, :, -1]
    expected = torch.stack([row.mean() / (row.std() + 1e-6) for row in total])
    assert torch.allclose(snr(values), expected)
    # Other channels do not matter.
    values2 = values.clone()
    values2[..., :-1] = 1e3
    assert torch.equal(snr(values2), snr(values))
    assert torch.allclose(snr(values, eps=1.0), total.mean(1) / (total.std(1) + 1.0))


def test_snr_rewards_high_and_stable_values():
    steady = torch.full((1, 10, 2), 2.0) + torch.linspace(0, 0.1, 10)[None, :, None]
    noisy = torch.full((1, 10, 2), 2.0) + torch.linspace(-1, 1, 10)[None, :, None]
    assert snr(steady) > snr(noisy)
    with pytest.raises(ValueError, match=r"values: got shape \(3, 4\)"):
        snr(torch.zeros(3, 4))


@pytest.mark.parametrize("frac,pop,k", [(0.1, 30, 3), (0.1, 150, 15), (0.9, 30, 27), (0.1, 5, 1), (0.01, 4, 1), (1.0, 8, 8)])
def test_elite_count_is_ceil_with_at_least_one(frac, pop, k):
    assert elite_count(frac, pop) == k


def test_elite_update_matches_its_definition():
    g = torch.Generator().manual_seed(2)
    mean, std = torch.randn(3, 4, generator=g), torch.rand(3, 4, generator=g) + 0.5
    samples, scores = torch.randn(20, 3, 4, generator=g), torch.randn(20, generator=g)
    alpha, decay, frac = 0.9, 0.5, 0.25
    new_mean, new_std = elite_update(mean, std, samples, scores, frac, alpha, decay)
    k = math.ceil(frac * 20)
    top = sorted(range(20), key=lambda i: -scores[i].item())[:k]
    elites = samples[top]
    e_mean = elites.sum(0) / k
    e_std = ((elites - e_mean) ** 2).sum(0).div(k).sqrt() * decay
    assert torch.allclose(new_mean, alpha * mean + (1 - alpha) * e_mean, atol=1e-6)
    assert torch.allclose(new_std, alpha * std + (1 - alpha) * e_std, atol=1e-6)


def test_elite_update_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="samples: got shape"):
        elite_update(torch.zeros(3), torch.ones(3), torch.zeros(5, 4), torch.zeros(5), 0.5, 0.9, 0.5)
    with pytest.raises(ValueError, match="scores: got shape"):
        elite_update(torch.zeros(3), torch.ones(3), torch.zeros(5, 3), torch.zeros(4), 0.5, 0.9, 0.5)


def test_score_values_mean_and_snr_on_the_total_channel():
    from wav_core.planning import score_values

    values = torch.randn(5, 6, 3)
    torch.testing.assert_close(score_values(values, "mean"), values[..., -1].mean(1))
    torch.testing.assert_close(score_values(values, "snr"), snr(values))
    with pytest.raises(ValueError, match=r"score: got 'max', expected one of \['snr', 'mean'\]"):
        score_values(values, "max")
