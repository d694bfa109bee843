"""Closed-loop evaluation under the robot's control loop. Spread over worker processes it gives the
same episodes as a serial run: each worker loads the model directory itself, and with a fixed plan
latency an episode depends only on its seed and settings."""

from dataclasses import replace

import numpy as np
import pytest

from wav_core.cli.main import main
from wav_core.eval.closed_loop import EvalConfig, PolicySource, run_episodes, summarize
from wav_core.eval.journal import EpisodeJournal, weights_digest
from wav_core.model.files import save_model
from wav_core.planning import PlannerConfig, random_policy

PLANNERS = [PlannerConfig(K=0, M=2, N=2, S=2), PlannerConfig(K=1, M=2, N=2, S=2)]
CFG = EvalConfig(task="drawer", episodes=2, seed=31, max_seconds=1.0, plan_latency_s=0.1)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    policy = random_policy("tiny", PLANNERS[0])
    return save_model(tmp_path_factory.mktemp("models") / "tiny", policy.model, policy.card)


def episode_fields(e):
    """Everything about an episode except its timings."""
    return e.seed, e.success, e.subgoals, e.ticks, e.snr, e.value_total, len(e.plan_ms), e.holds, e.stopped, e.closest


def test_two_workers_give_the_serial_episodes_in_seed_order(model_dir, capsys):
    source = PolicySource(model_dir)
    serial = run_episodes(source, CFG, PLANNERS, workers=1, threads=1)
    capsys.readouterr()
    parallel = run_episodes(source, CFG, PLANNERS, workers=2)
    lines = capsys.readouterr().err.splitlines()

    assert [[e.seed for e in run] for run in parallel] == [[31, 32], [31, 32]]
    for s_run, p_run in zip(serial, parallel):
        assert [episode_fields(e) for e in p_run] == [episode_fields(e) for e in s_run]
        assert all(e.ticks == 20 and e.snr for e in p_run)
    # Different K plan differently, so the comparison above is not between identical episodes.
    assert serial[0][0].snr != serial[1][0].snr
    for s_run, p_run, planner in zip(serial, parallel, PLANNERS):
        s_sum, p_sum = summarize(s_run, CFG, planner), summarize(p_run, CFG, planner)
        s_sum.pop("plan_latency_ms"), p_sum.pop("plan_latency_ms")
        assert p_sum == s_sum
    # One progress line per finished episode.
    assert len(lines) == 4 and all("success=" in line and "ticks=20" in line for line in lines)
    assert sorted(line.split("] ", 1)[1].split(" success")[0] for line in lines) == \
        ["K=0 seed=31", "K=0 seed=32", "K=1 seed=31", "K=1 seed=32"]


def test_a_journalled_evaluation_resumes_without_running_its_finished_episodes_again(model_dir, tmp_path, capsys):
    source, path = PolicySource(model_dir), tmp_path / "episodes.jsonl"
    journal = EpisodeJournal(path, weights_digest(model_dir), CFG)
    first = run_episodes(source, replace(CFG, episodes=1), PLANNERS, journal=journal)
    assert len(path.read_text().splitlines()) == 2  # one seed, two planner settings
    path.write_text(path.read_text() + '{"key": "torn by a kill')  # the process died mid-line
    capsys.readouterr()
    resumed = run_episodes(source, CFG, PLANNERS, journal=EpisodeJournal(path, weights_digest(model_dir), CFG))
    err = capsys.readouterr().err
    assert "2 of 4 episodes taken from the journal" in err
    assert sorted(line.split("] ", 1)[1].split(" success")[0] for line in err.splitlines()[1:]) == \
        ["K=0 seed=32", "K=1 seed=32"]  # only the missing seed ran
    assert [[e.seed for e in run] for run in resumed] == [[31, 32], [31, 32]]
    assert [episode_fields(run[0]) for run in resumed] == [episode_fields(run[0]) for run in first]
    # Another model's or another setting's episodes are never taken.
    other = EpisodeJournal(path, "0" * 16, CFG)
    assert other.load(PLANNERS) == {}
    assert EpisodeJournal(path, weights_digest(model_dir), replace(CFG, max_seconds=2.0)).load(PLANNERS) == {}
    assert set(EpisodeJournal(path, weights_digest(model_dir), CFG).load(PLANNERS[1:])) == {(0, 31), (0, 32)}


def test_a_journal_line_that_is_not_an_episode_is_an_error_naming_the_file(model_dir, tmp_path):
    path = tmp_path / "episodes.jsonl"
    path.write_text("not json\n{}\n")
    with pytest.raises(ValueError, match=r"episodes.jsonl: line 1 is not a journalled episode"):
        EpisodeJournal(path, weights_digest(model_dir), CFG).load(PLANNERS)


def test_a_worker_that_cannot_load_the_policy_ends_the_run_with_its_error(model_dir):
    with pytest.raises(ValueError, match="backend: got 'no-such-backend'"):
        run_episodes(PolicySource(model_dir, backend="no-such-backend"), CFG, PLANNERS[:1], workers=2,
                     progress=False)


def test_workers_need_a_policy_source_and_a_positive_count(model_dir):
    policy = random_policy("tiny", PLANNERS[0])
    with pytest.raises(ValueError, match="workers: got 0, expected an integer >= 1"):
        run_episodes(PolicySource(model_dir), CFG, PLANNERS, workers=0)
    with pytest.raises(ValueError, match="expected a PolicySource"):
        run_episodes(policy, CFG, PLANNERS, workers=2)


def test_cli_rejects_workers_below_one(model_dir, capsys):
    assert main(["eval", "--model", str(model_dir), "--workers", "0"]) == 2
    assert "--workers: got 0, expected an integer >= 1" in capsys.readouterr().err


def test_sweeps_over_k_or_over_the_warm_start_blend(model_dir, tmp_path, capsys):
    """`--sweep K=...` is the paper's ablation; `--sweep warm=0,0.5` compares cold and warm starts at
    --K on the same seeds. Both write the JSON, the table and the plot."""
    import json

    base = ["eval", "--model", str(model_dir), "--episodes", "1", "--seed", "40", "--M", "2", "--N", "2", "--S", "2",
            "--max-seconds", "1.0", "--threads", "1"]
    assert main(base + ["--K", "1", "--sweep", "warm=0,0.5", "--json", str(tmp_path / "warm.json")]) == 0
    warm = json.loads((tmp_path / "warm.json").read_text())
    assert [(r["K"], r["warm_start"]) for r in warm["sweep"]] == [(1, 0.0), (1, 0.5)]
    assert "| 1 | 0.5 |" in warm["table"] and (tmp_path / "warm.png").stat().st_size > 5_000
    # Within an episode a warm start changes every plan after the first.
    cold_snr, warm_snr = (r["episodes"][0]["mean_snr"] for r in warm["sweep"])
    assert cold_snr != warm_snr
    assert main(base + ["--sweep", "K=0,1", "--json", str(tmp_path / "k.json")]) == 0
    sweep = json.loads((tmp_path / "k.json").read_text())["sweep"]
    assert [r["K"] for r in sweep] == [0, 1]
    # How near each episode came to the task's targets, and the median over episodes.
    closest = sweep[0]["episodes"][0]["closest_m"]
    assert list(closest) == ["left tool to handle", "right tool to block", "drawer short of open", "block to drawer"]
    assert sweep[0]["closest_median_m"] == pytest.approx(closest, abs=1e-5)
    assert 0 < closest["left tool to handle"] < 0.5 and closest["drawer short of open"] == pytest.approx(0.11, abs=0.01)
    # The tool and target points at each reach's closest approach are that distance apart.
    points = sweep[0]["episodes"][0]["closest_points"]
    assert sorted(points) == ["left tool to handle", "right tool to block"]
    for name, p in points.items():
        assert np.linalg.norm(np.subtract(p["tool"], p["target"])) == pytest.approx(closest[name], abs=1e-4)
    assert sweep[0]["target_following"] == {}  # one episode cannot show a slope
    capsys.readouterr()
    assert main(base + ["--sweep", "M=2,4"]) == 2
    assert "expected K=<comma-separated integers>" in capsys.readouterr().err


def test_async_episodes_keep_moving_while_planning_and_sync_episodes_wait(model_dir):
    """async: plans overlap execution (no plan-late holds when planning is fast enough); sync: one
    plan per executed chunk, no holds at all because the world waits for the planner."""
    import dataclasses

    policy = PolicySource(model_dir).load(PLANNERS[1])
    horizon_s = policy.cfg.action_horizon / 20.0
    fast = dataclasses.replace(CFG, episodes=1, max_seconds=2.0, plan_latency_s=0.3 * horizon_s)
    slow = dataclasses.replace(fast, plan_latency_s=1.5 * horizon_s)
    sync = dataclasses.replace(fast, mode="sync", plan_latency_s=None)
    (a,), (s_,), (y,) = (run_episodes(policy, c, PLANNERS[1:], progress=False)[0] for c in (fast, slow, sync))
    assert a.holds.get("plan_late", 0) == 0 and len(a.plan_ms) > 2.0 / horizon_s
    assert s_.holds["plan_late"] > 0 and len(s_.plan_ms) < len(a.plan_ms)
    assert y.holds == {} and len(y.plan_ms) == int(np.ceil(2.0 / horizon_s))
    assert summarize([a], fast, PLANNERS[1])["mode"] == "async" and summarize([y], sync, PLANNERS[1])["mode"] == "sync"


def test_feature_steps_choose_where_a_future_model_reads_its_imagined_future(tmp_path, capsys):
    """`--feature-steps` sets the world's denoising before the experts read a future (here t = 0.5
    of S = 2); the JSON records it, and a time outside what the model was trained on is refused with
    its range."""
    import json

    policy = random_policy("tiny", PLANNERS[0], model_overrides={"conditioning": "future"})
    model = save_model(tmp_path / "future", policy.model, policy.card)
    base = ["eval", "--model", str(model), "--episodes", "1", "--seed", "45", "--K", "0", "--M", "2", "--N", "2",
            "--S", "2", "--max-seconds", "0.5", "--threads", "1"]
    runs = {}
    for steps in (0, 1):
        out = tmp_path / f"fs{steps}.json"
        assert main(base + ["--feature-steps", str(steps), "--json", str(out)]) == 0
        runs[steps] = json.loads(out.read_text())
    assert (runs[0]["feature_steps"], runs[1]["feature_steps"]) == (0, 1)
    capsys.readouterr()
    assert main(base + ["--S", "10", "--feature-steps", "1"]) == 2
    assert "feature_steps: 1 of S=10 takes world features at t=0.900" in capsys.readouterr().err
