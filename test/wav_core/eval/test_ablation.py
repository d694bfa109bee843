"""`wav ablation` tabulates evals per conditioning and K, pools trainings, compares planning with K = 0
seed by seed, and refuses a planned cell on seeds its K = 0 lacks."""

import json

import pytest

from wav_core.cli.main import main
from wav_core.eval.ablation import load_runs, mcnemar, table, wilson

SEEDS = list(range(1000, 1010))


def _run(k, wins, seeds=SEEDS, blind=False, final="draw"):
    """A `wav eval --json` result whose episodes with the given seeds succeed (and placed the block)."""
    eps = [{"seed": s, "success": s in wins, "subgoals": {"placed": s in wins}} for s in seeds]
    return {"K": k, "success_rate": len(wins) / len(seeds), "seeds": list(seeds), "blind_scores": blind,
            "final": final, "episodes": eps}


def _write(tmp_path, name, result):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(result))
    return str(path)


def test_table_and_plot(tmp_path, capsys):
    p = _write(tmp_path, "p", {"sweep": [_run(0, {1000}), _run(3, {1000})]})
    f = _write(tmp_path, "f", {"sweep": [_run(0, {1000}), _run(3, {1000, 1001})]})
    diag = {"action_spread": {"video": 0.2, "value": 0.1, "action_noise": 0.3}, "value_spread": {"video": 0.05},
            "value_rank": {"spearman": 0.8}}
    d = _write(tmp_path, "d", diag)
    assert main(["ablation", "--eval", f"paper={p}", "--eval", f"future={f}", "--diagnose", f"future={d}",
                 "--out", str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "ablation.md").read_text()
    assert "| future | 1 | **10 %** 1/10 (placed 10 %) | **20 %** 2/10 (placed 20 %) |" in md
    assert "| future | 3 | 10 | +10 | 1 | 0 | 1.000 |" in md
    assert "| future | 0.2000 | 0.1000 | 0.3000 | 0.0500 | 0.800 |" in md
    assert (tmp_path / "out" / "ablation.png").stat().st_size > 5000


def test_trainings_pool_and_pair_within_their_own_training(tmp_path):
    # Two trainings, one file per K: planning completes seeds 1000-1005 in training a and 1006-1009 in b,
    # K = 0 none in a and 1006-1009 in b. Paired within each training, planning wins 6 and loses none.
    runs = [("future@a", _run(0, set())), ("future@a", _run(3, set(range(1000, 1006)))),
            ("future@b", _run(0, set(range(1006, 1010)))), ("future@b", _run(3, set(range(1006, 1010)))),
            ("future@a", _run(3, {1000}, blind=True)), ("future@b", _run(3, {1000}, final="best"))]
    rows = load_runs([(label, _write(tmp_path, f"r{i}", r)) for i, (label, r) in enumerate(runs)])
    assert list(rows) == ["future", "future (blind scores)", "future (final best)"]
    assert [len(c.episodes) for c in rows["future"].values()] == [20, 20]
    assert rows["future"][3].successes == 10
    m = mcnemar(rows["future"][0], rows["future"][3])
    assert (m["pairs"], m["only_a"], m["only_b"]) == (20, 0, 6)
    assert m["p"] == pytest.approx(2 / 64)
    # The blind row has training a only: it is paired with a's K = 0.
    blind = mcnemar(rows["future"][0], rows["future (blind scores)"][3])
    assert (blind["pairs"], blind["only_b"]) == (10, 1)
    md = table(rows)
    assert "| future (final best) | 3 | 10 | -30 | 1 | 4 | 0.375 |" in md  # training b: 1000 won, 1006-1009 lost


def test_bad_inputs_are_refused(tmp_path, capsys):
    p = _write(tmp_path, "p", _run(0, {1000}))
    f = _write(tmp_path, "f", _run(3, {1000}, seeds=(7, 8)))
    assert main(["ablation", "--eval", f"paper={p}", "--eval", f"paper={f}", "--out", str(tmp_path / "out")]) == 2
    assert "paper K=3 was evaluated on seeds its K = 0 was not (2: (one):7, (one):8)" in capsys.readouterr().err
    assert main(["ablation", "--eval", f"paper={p}", "--eval", f"paper={p}", "--out", str(tmp_path / "out")]) == 2
    assert "seed 1000 at K=0 appears twice for paper" in capsys.readouterr().err
    bare = _write(tmp_path, "bare", {"K": 0, "success_rate": 0.1, "seeds": SEEDS})
    assert main(["ablation", "--eval", f"paper={bare}", "--out", str(tmp_path / "out")]) == 2
    assert "has no per-episode results" in capsys.readouterr().err
    assert main(["ablation", "--eval", "paper", "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_wilson_interval_brackets_the_rate_and_stays_within_zero_and_one():
    lo, hi = wilson(3, 20)
    assert lo < 0.15 < hi and lo == pytest.approx(0.052, abs=1e-3) and hi == pytest.approx(0.360, abs=1e-3)
    assert wilson(0, 20)[0] == 0.0 and wilson(20, 20)[1] == 1.0


def test_planner_variants_get_rows_of_their_own():
    from wav_core.eval.ablation import row_name

    assert row_name("future", {"final": "draw"}) == "future"
    run = {"final": "best", "value_noise": "shared", "video_score": "mean", "blind_scores": True}
    assert row_name("future", run) == "future (final best, shared value noise, mean of value samples, blind scores)"


def test_a_training_may_add_seed_blocks_its_k0_covers(tmp_path):
    more = list(range(2000, 2010))
    runs = [("future", _run(0, {1000}, seeds=SEEDS)), ("future", _run(0, set(), seeds=more)),
            ("future", _run(3, {1000, 1001}, seeds=SEEDS)), ("future", _run(3, {2000}, seeds=more)),
            ("future", _run(3, {2000}, seeds=more, blind=True))]
    rows = load_runs([(label, _write(tmp_path, f"r{i}", r)) for i, (label, r) in enumerate(runs)])
    m = mcnemar(rows["future"][0], rows["future"][3])
    assert (m["pairs"], m["only_a"], m["only_b"]) == (20, 0, 2)
    md = table(rows)
    planned_only = load_runs([("bowl", _write(tmp_path, "k1", _run(1, {1000}))),
                              ("bowl", _write(tmp_path, "k3", _run(3, set(), seeds=more)))])
    assert [c.successes for c in planned_only["bowl"].values()] == [1, 0]  # nothing to pair with, nothing refused
    assert "on each cell's held-out seeds" in md and "| future (blind scores) | 3 | 10 | +10 | 1 | 0 | 1.000 |" in md
