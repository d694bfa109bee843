"""`wav ablation` tabulates eval sweeps per conditioning and refuses runs on different seeds."""

import json

from wav_core.cli.main import main


def _sweep(rates, seeds=(1000, 1001)):
    return {"sweep": [{"K": k, "success_rate": r, "seeds": list(seeds), "subgoal_rates": {"grasped": 1.0}}
                      for k, r in rates.items()]}


def test_table_and_plot(tmp_path, capsys):
    (tmp_path / "p.json").write_text(json.dumps(_sweep({0: 0.5, 3: 0.5})))
    (tmp_path / "f.json").write_text(json.dumps(_sweep({0: 0.5, 3: 1.0})))
    diag = {"action_spread": {"video": 0.2, "value": 0.1, "action_noise": 0.3}, "value_spread": {"video": 0.05},
            "value_rank": {"spearman": 0.8}}
    (tmp_path / "d.json").write_text(json.dumps(diag))
    assert main(["ablation", "--eval", f"paper={tmp_path / 'p.json'}", "--eval", f"future={tmp_path / 'f.json'}",
                 "--diagnose", f"future={tmp_path / 'd.json'}", "--out", str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "ablation.md").read_text()
    assert "| future | **50 %** (grasped 100 %) | **100 %** (grasped 100 %) |" in md
    assert "| future | 0.2000 | 0.1000 | 0.3000 | 0.0500 | 0.800 |" in md
    assert (tmp_path / "out" / "ablation.png").stat().st_size > 5000


def test_runs_on_different_seeds_are_refused(tmp_path, capsys):
    (tmp_path / "p.json").write_text(json.dumps(_sweep({0: 0.5})))
    (tmp_path / "f.json").write_text(json.dumps(_sweep({0: 0.5}, seeds=(7,))))
    assert main(["ablation", "--eval", f"paper={tmp_path / 'p.json'}", "--eval", f"future={tmp_path / 'f.json'}",
                 "--out", str(tmp_path / "out")]) == 2
    assert "evaluated on different seeds" in capsys.readouterr().err
    assert main(["ablation", "--eval", "paper", "--out", str(tmp_path / "out")]) == 2
