"""`wav card`: MODEL_CARD.md written from the recipe's own files, so every figure in it has a source."""

import json

from wav_core.cli.main import main
from wav_core.model.files import load_model, save_model
from wav_core.planning import random_policy


def _sweep(k: int, success: float) -> dict:
    return {"task": "drawer", "K": k, "M": 8, "N": 4, "S": 10, "seeds": list(range(1000, 1050)),
            "success_rate": success, "subgoal_rates": {"opened": 0.9, "placed": 0.7, "closed": success},
            "mean_episode_ticks": 410.0, "plan_latency_ms": {"median": 20.0 + 15 * k, "p90": 25.0 + 15 * k},
            "episodes": [{"seed": 1000, "success": True, "mean_snr": 1.5}]}


def test_card_lists_data_training_ablation_calibration_and_commands(tmp_path, capsys):
    policy = random_policy("tiny")
    policy.card.notes = {"training": {"world": {"steps": 6000, "seconds": 840.0, "hardware": "1x NVIDIA H100 (16 CPUs)"}}}
    model = save_model(tmp_path / "sim_drawer", policy.model, policy.card)
    (tmp_path / "summary.json").write_text(json.dumps(
        {"task": "drawer", "episodes": 200, "seeds": list(range(200)), "noise": 0.0, "success_rate": 1.0}))
    (tmp_path / "eval.json").write_text(json.dumps({"sweep": [_sweep(0, 0.62), _sweep(3, 0.84)]}))
    (tmp_path / "calibration.json").write_text(json.dumps(
        {"calibration": {"episodes": 20, "points": [{}] * 400, "K": 0, "pearson_r": 0.91, "mae": 0.05},
         "snr_by_outcome": {"runs": [{"K": 3, "success": [2.0], "failure": [1.0, 0.5],
                                      "median_success": 2.0, "median_failure": 0.75}]}}))
    (tmp_path / "bench.json").write_text(json.dumps(
        {"K": 3, "M": 8, "N": 4, "S": 10, "machine": "1x NVIDIA H100 (16 CPUs), 1 torch threads",
         "batched": {"median_ms": 41.0, "p90_ms": 43.5},
         "backend": {"used": "torch-cudagraph", "median_ms": 9.0, "p90_ms": 9.2, "ratio_to_eager": 4.56,
                     "max_rel_diff_actions": 2e-5}}))
    (tmp_path / "mixed.json").write_text(json.dumps(
        {"task": "bowl", "episodes": 3, "seeds": [0, 1, 2], "noise": 0.0, "success_rate": 2 / 3, "quality": "mixed",
         "by_mode": {"expert": {"episodes": 2, "successes": 2}, "drop": {"episodes": 1, "successes": 0}}}))
    (tmp_path / "commands.txt").write_text("wav sim record --episodes 200\nwav train --config config/train_sim.yaml\n")
    assert main(["card", "--model", str(model), "--commands", str(tmp_path / "commands.txt"),
                 "--record", f"training demonstrations={tmp_path / 'summary.json'}",
                 "--record", f"held-out={tmp_path / 'mixed.json'}",
                 "--eval", str(tmp_path / "eval.json"), "--calibration", str(tmp_path / "calibration.json"), "--bench", str(tmp_path / "bench.json"),
                 "--status", "Solves the drawer in 84 % of held-out episodes at K = 3."]) == 0
    card = (model / "MODEL_CARD.md").read_text()
    assert "## Status\n\n- Solves the drawer in 84 % of held-out episodes at K = 3.\n\n## Data" in card
    assert "training demonstrations: 200 scripted-expert episodes of `drawer`, seeds 0-199" in card
    assert "held-out: 3 episodes of `bowl` of mixed quality" in card and "expert 2/2, drop 0/1" in card
    assert "| world | 6000 | 14.0 min | 1x NVIDIA H100 (16 CPUs) |" in card
    assert "50 seeds (1000-1049) not used for training" in card
    assert "| 3 | 0 | 0.84 | 65.0 | 70.0 | 410 |" in card
    assert "on 1x NVIDIA H100 (16 CPUs), 1 torch threads: eager torch median 41.0 ms" in card
    assert "`torch-cudagraph`: median 9.0 ms, p90 9.2 ms (4.56x eager" in card
    assert "Pearson r 0.91" in card and "median episode SNR 2.00 in successes (1) vs 0.75 in failures (2)" in card
    assert card.rstrip().endswith("wav train --config config/train_sim.yaml\n```")
    load_model(model)  # the card sits beside the model files without disturbing them


def test_card_names_missing_or_malformed_inputs(tmp_path, capsys):
    policy = random_policy("tiny")
    model = save_model(tmp_path / "m", policy.model, policy.card)
    (tmp_path / "commands.txt").write_text("wav train\n")
    assert main(["card", "--model", str(model), "--commands", str(tmp_path / "commands.txt"),
                 "--eval", str(tmp_path / "nope.json")]) == 2
    assert "eval result: " in capsys.readouterr().err
    assert main(["card", "--model", str(model), "--commands", str(tmp_path / "commands.txt"), "--record", "no-equals"]) == 2
    assert "expected LABEL=PATH" in capsys.readouterr().err
