"""`wav probe` reads an object's position back from a representation that holds it, and not from one
that does not."""

import json

import numpy as np
import pytest

from wav_core.cli.main import main
from wav_core.eval.probe import probe_samples, ridge_probe


def test_a_representation_that_holds_the_position_has_slope_one_and_one_that_does_not_slope_zero():
    rng = np.random.default_rng(0)
    xy = np.c_[rng.uniform(0.28, 0.38, 90), rng.uniform(-0.36, -0.24, 90)]
    mixing = rng.normal(size=(2, 40))
    holds = np.tanh((xy - xy.mean(0)) / xy.std(0) @ mixing * 0.3) + rng.normal(0, 0.01, (90, 40))
    blind = rng.normal(size=(90, 40))
    good, bad = ridge_probe(holds, xy), ridge_probe(blind, xy)
    for axis in ("x", "y"):
        assert good[axis]["slope"] > 0.9 and good[axis]["rmse"] < 0.2 * good[axis]["target_std"]
        assert abs(bad[axis]["slope"]) < 0.3 and bad[axis]["r2"] < 0.1
    with pytest.raises(ValueError, match="too few"):
        ridge_probe(holds[:8], xy[:8])


def test_samples_hold_the_models_input_frames_and_each_reach_target_of_the_seed():
    a = probe_samples("drawer", ["cam_high", "cam_right_wrist"], (32, 32), [3, 4])
    b = probe_samples("drawer", ["cam_high", "cam_right_wrist"], (32, 32), [4])
    assert a.frames.shape == (2, 2, 3, 32, 32) and a.frames.dtype == np.float32 and 0 <= a.frames.min() <= a.frames.max() <= 1
    assert set(a.targets) == {"left tool to handle", "right tool to block"}
    np.testing.assert_array_equal(a.targets["right tool to block"][1], b.targets["right tool to block"][0])
    assert not np.allclose(a.targets["right tool to block"][0], a.targets["right tool to block"][1])
    np.testing.assert_array_equal(a.frames[1], b.frames[0])


def test_cli_probes_every_representation_for_every_reach(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "probe.json"
    assert main(["probe", "--model", str(tiny_model_dir), "--task", "bowl", "--episodes", "12", "--seed", "7",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["seeds"] == [7, 18] and result["train_seeds"] == 8
    reps = result["targets"]["nearest tool to cup"]
    blocks = 3  # the tiny preset's world depth
    assert set(reps) == {"latents"} | {f"world {k} {part}" for k in range(blocks) for part in ("history", "future")}
    assert all(np.isfinite(reps[r][a]["rmse"]) for r in reps for a in ("x", "y"))
    assert "nearest tool to cup" in capsys.readouterr().out


def test_cli_names_a_missing_model_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "probe.json"
    assert main(["probe", "--model", str(tmp_path / "nomodel"), "--episodes", "12", "--json", str(out)]) != 0
    assert "nomodel: model directory not found" in capsys.readouterr().err
    assert main(["probe", "--model", str(tmp_path), "--episodes", "5", "--json", str(out)]) != 0
    assert "--episodes: got 5" in capsys.readouterr().err
    assert not out.exists()
