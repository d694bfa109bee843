"""`blind_scores`: the control that keeps the plan's elite updates but ranks each candidate by its
neighbour's value, so what the value's choice adds is the difference from it."""

import pytest
import torch

from wav_core.config.loader import ConfigError
from wav_core.planning.config import PlannerConfig
from wav_core.planning.gaussian import Gaussians
from wav_core.planning.iteration import Networks, iterate
from wav_core.model.wav import Context

M, N, H, C = 4, 2, 3, 2


def _nets():
    """A world whose 'features' are the candidate noise, and a value that scores a candidate by the
    first element of its video noise: the best candidate is the one with the largest."""
    def features(ctx, z_vid):
        return z_vid

    def values(states, z_val):
        per_candidate = states.flatten(1)[:, 0].repeat_interleave(N)
        return per_candidate[:, None, None].expand(-1, H, C).clone()

    return Networks(features, values, actions=None)


def _plan(blind: bool):
    cfg = PlannerConfig(K=1, M=M, N=N, S=1, video_elite_frac=0.25, value_elite_frac=1 / (M * N),
                        alpha_smooth=0.0, sigma_decay=1.0, blind_scores=blind)
    g = Gaussians(torch.zeros(5), torch.ones(5), torch.zeros(H, C), torch.ones(H, C))
    video = torch.tensor([[0.1, 0, 0, 0, 0], [0.9, 1, 1, 1, 1], [0.5, 2, 2, 2, 2], [0.3, 3, 3, 3, 3]])
    value = torch.randn(M * N, H, C, generator=torch.Generator().manual_seed(0))
    ctx = Context(torch.zeros(1, 1), torch.zeros(1, 1, 1), torch.ones(1, 1, dtype=torch.bool))
    new, scores, best = iterate(_nets(), ctx, g, video, value, cfg)
    return new, scores, video, best


def test_the_value_picks_the_best_candidate_and_the_blind_control_its_neighbour():
    seeing, scores, video, best = _plan(blind=False)
    blind, blind_scores, _, blind_best = _plan(blind=True)
    torch.testing.assert_close(seeing.video_mean, video[1])  # the best candidate (0.9) is the elite
    torch.testing.assert_close(blind.video_mean, video[2])   # ranked by candidate 1's score
    torch.testing.assert_close(scores, blind_scores)         # the scores reported are the value's own
    assert seeing.video_std.shape == blind.video_std.shape
    # `final: best` decodes the same choice: the best candidate, or under the control its neighbour
    torch.testing.assert_close(best.video[0], video[1])
    torch.testing.assert_close(blind_best.video[0], video[2])


def test_blind_scores_need_a_neighbour():
    with pytest.raises(ConfigError, match="blind_scores: needs M >= 2"):
        PlannerConfig(M=1, blind_scores=True).validate()
