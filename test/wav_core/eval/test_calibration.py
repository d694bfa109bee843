"""`wav calibrate`: predicted vs true reward-to-go on demonstrations the model did not train on, and
the planner's SNR split by closed-loop outcome, as JSON and one figure."""

import json

import pytest

from wav_core.cli.main import main
from wav_core.eval.calibration import snr_by_outcome
from wav_core.model.files import save_model
from wav_core.planning import random_policy


@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    """One short recorded and imported episode, and a model directory to check against it."""
    root = tmp_path_factory.mktemp("calib")
    assert main(["sim", "record", "--task", "drawer", "--episodes", "1", "--seed", "7", "--max-duration", "1.0",
                 "--config", "config/sim_drawer.yaml", "--out", str(root / "bags")]) == 0
    assert main(["data", "import", "--bags", str(root / "bags"), "--config", "config/sim_drawer.yaml",
                 "--out", str(root / "data")]) == 0
    policy = random_policy("tiny")
    return root, save_model(root / "model", policy.model, policy.card)


def test_calibration_pairs_every_sampled_tick_with_its_true_reward_to_go(heldout, tmp_path):
    root, model = heldout
    ev = {"sweep": [{"K": 0, "episodes": [{"success": True, "mean_snr": 2.0}, {"success": False, "mean_snr": 0.5}]},
                    {"K": 3, "episodes": [{"success": False, "mean_snr": 1.0}]}]}
    (tmp_path / "eval.json").write_text(json.dumps(ev))
    assert main(["calibrate", "--model", str(model), "--data", str(root / "data"), "--eval", str(tmp_path / "eval.json"),
                 "--ticks-per-episode", "4", "--K", "1", "--M", "2", "--N", "2", "--threads", "1", "--backend", "onnxruntime",
                 "--out", str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "calibration.json").read_text())
    points = result["calibration"]["points"]
    assert [p["tick"] for p in points][0] == 0 and len(points) == 4
    assert all(isinstance(p["true"], float) and isinstance(p["predicted"], float) for p in points)
    assert -1.0 <= result["calibration"]["pearson_r"] <= 1.0
    assert [r["K"] for r in result["snr_by_outcome"]["runs"]] == [0, 3]
    assert (tmp_path / "out" / "calibration.png").stat().st_size > 10_000


def test_snr_split_by_outcome_and_bad_inputs(tmp_path, capsys):
    runs = snr_by_outcome({"K": 1, "episodes": [{"success": True, "mean_snr": 3.0}, {"success": True, "mean_snr": 1.0},
                                                {"success": False, "mean_snr": 0.2}]})["runs"]
    assert runs == [{"K": 1, "success": [3.0, 1.0], "failure": [0.2], "median_success": 2.0, "median_failure": 0.2}]
    with pytest.raises(ValueError, match="no 'episodes' list"):
        snr_by_outcome({"K": 1})
    assert main(["calibrate", "--model", "m", "--out", str(tmp_path)]) == 2
    assert "give --data HELDOUT_DATASET and/or --eval" in capsys.readouterr().err
    assert main(["calibrate", "--model", "m", "--eval", str(tmp_path / "none.json"), "--out", str(tmp_path)]) == 2
    assert "none.json does not exist" in capsys.readouterr().err
