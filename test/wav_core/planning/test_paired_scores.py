"""`value_noise: shared` and `video_score: mean`: candidates scored with the same value draws and
ranked by their mean, so the future, not its draws' luck, decides the choice."""

import pytest
import torch

from wav_core.config.loader import ConfigError
from wav_core.model.wav import Context
from wav_core.planning.config import PlannerConfig
from wav_core.planning.gaussian import Gaussians
from wav_core.planning.iteration import Networks, iterate

M, N, H, C = 4, 3, 2, 2
FUTURES = torch.tensor([0.0, 0.3, 0.2, 0.1])  # candidate 1 has the best future


def _nets():
    """A value that scores a candidate's future (the first element of its video noise) plus its own
    value noise at ten times the weight: lucky draws outweigh the futures unless shared."""
    def values(states, z_val):
        future = states.flatten(1)[:, 0].repeat_interleave(N)
        total = future + 10 * z_val[:, 0, 0]
        return total[:, None, None].expand(-1, H, C).clone()

    return Networks(lambda ctx, z: z, values, actions=None)


def _plan(**options):
    cfg = PlannerConfig(K=1, M=M, N=N, S=1, video_elite_frac=0.25, value_elite_frac=1 / (M * N), alpha_smooth=0.0,
                        sigma_decay=1.0, final="best", **options)
    cfg.validate()
    g = Gaussians(torch.zeros(3), torch.ones(3), torch.zeros(H, C), torch.ones(H, C))
    video = torch.cat([FUTURES[:, None], torch.arange(M, dtype=torch.float32)[:, None].expand(M, 2)], 1)
    value = torch.zeros(M * N, H, C)
    value[:, 0, 0] = torch.tensor([0.0, 0.5, -0.5, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, 0.0, 0.0, 0.0])
    ctx = Context(torch.zeros(1, 1), torch.zeros(1, 1, 1), torch.ones(1, 1, dtype=torch.bool))
    new, scores, best = iterate(_nets(), ctx, g, video, value, cfg)
    return new, scores.view(M, N), best, video


def test_own_draws_pick_the_luckiest_candidate():
    new, scores, best, video = _plan()
    torch.testing.assert_close(best.video[0], video[2])  # candidate 2 drew the largest value noise
    torch.testing.assert_close(new.video_mean, video[2])


def test_shared_draws_pick_the_best_future():
    for rank in ("best", "mean"):
        new, scores, best, video = _plan(value_noise="shared", video_score=rank)
        torch.testing.assert_close(scores - scores[:, :1], (scores - scores[:, :1])[:1].expand(M, N))  # same draws
        torch.testing.assert_close(best.video[0], video[1])
        torch.testing.assert_close(new.video_mean, video[1])
        torch.testing.assert_close(best.value[0, 0, 0], torch.tensor(0.5))  # the best of its draws (0, 0.5, -0.5)


def test_the_mean_ranks_by_all_draws_not_the_luckiest():
    # own draws: candidate 2's best (1.0) wins under best; by the mean (-1/3 + 0.2) candidate 3 (0 + 0.1) does
    _, _, best, video = _plan(video_score="mean")
    torch.testing.assert_close(best.video[0], video[3])


def test_unknown_settings_name_the_key():
    with pytest.raises(ConfigError, match="value_noise: got 'paired'"):
        PlannerConfig(value_noise="paired").validate()
    with pytest.raises(ConfigError, match="video_score: got 'max'"):
        PlannerConfig(video_score="max").validate()
