"""target_following tells a tool that goes where the object is from one that goes where objects
usually are: both can end the same distance away."""

import numpy as np
import pytest

from wav_core.eval.closed_loop import EpisodeResult
from wav_core.eval.following import following_line, target_following


def _episodes(targets, tools, name="right tool to block"):
    return [EpisodeResult(seed=i, success=False, subgoals={}, ticks=1,
                          closest_points={name: {"tool": list(tool), "target": list(target)}})
            for i, (target, tool) in enumerate(zip(targets, tools))]


def test_a_tool_that_follows_the_object_has_slope_one_and_one_that_ignores_it_slope_zero():
    rng = np.random.default_rng(0)
    targets = np.c_[rng.uniform(0.28, 0.38, 12), rng.uniform(-0.36, -0.24, 12), np.full(12, 0.02)]
    short = targets + [0.0, 0.03, 0.05]  # aims at the object, stops 5.8 cm away
    usual = np.tile([0.33, -0.27, 0.07], (12, 1)) + rng.normal(0, 0.002, (12, 3))  # aims at the mean place
    follows = target_following(_episodes(targets, short))["right tool to block"]
    ignores = target_following(_episodes(targets, usual))["right tool to block"]
    assert follows["episodes"] == 12
    assert follows["x"]["slope"] == pytest.approx(1.0) and follows["y"]["slope"] == pytest.approx(1.0)
    assert follows["x"]["corr"] == pytest.approx(1.0)
    # Where it ends: 3 cm beside the object and 5 cm above it.
    assert follows["beside_m"] == pytest.approx(0.03) and follows["above_m"] == pytest.approx(0.05)
    assert abs(ignores["x"]["slope"]) < 0.2 and abs(ignores["y"]["slope"]) < 0.2
    assert ignores["y"]["target_std_m"] == pytest.approx(targets[:, 1].std(), abs=1e-5)
    line = following_line({"right tool to block": ignores})
    assert line.startswith("right tool to block x ") and " y " in line and "above 5." in line


def test_too_few_episodes_or_an_object_that_never_moves_gives_no_slope():
    targets = np.array([[0.3, -0.3, 0.02], [0.35, -0.3, 0.02], [0.32, -0.3, 0.02]])
    assert target_following(_episodes(targets[:2], targets[:2])) == {}
    still_y = target_following(_episodes(targets, targets))["right tool to block"]
    assert "x" in still_y and "y" not in still_y
    assert target_following(_episodes(np.tile(targets[0], (4, 1)), targets[:1].repeat(4, 0))) == {}
