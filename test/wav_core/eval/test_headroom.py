"""`wav headroom`: each decision's candidate futures are played ahead in the simulator and put back,
and the pick rule decides which of them the control loop executes."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from wav_core.cli.main import main
from wav_core.eval.closed_loop import EvalConfig, run_episode
from wav_core.eval.headroom import (CandidatePicker, Decision, HeadroomConfig, decision_summary, run_headroom,
                                    run_headroom_episode)
from wav_core.model.files import save_model
from wav_core.planning import PlannerConfig, random_policy
from wav_core.planning.policy import EpisodePolicy
from wav_core.sim.env import SimEnv

PLANNER = PlannerConfig(K=0, M=2, N=2, S=2)
CFG = EvalConfig(task="drawer", episodes=1, seed=41, max_seconds=1.6, mode="sync")


@pytest.fixture(scope="module")
def policy():
    return random_policy("tiny", PLANNER, model_overrides={"conditioning": "future"})


@pytest.fixture(scope="module")
def env():
    with SimEnv("drawer") as e:
        yield e


def fields(e):
    return e.seed, e.success, e.subgoals, e.ticks, e.snr, e.value_total, len(e.plan_ms), e.holds, e.stopped, e.closest


def test_the_played_ahead_outcome_of_the_chunk_that_runs_is_where_the_next_decision_starts(policy, env):
    # The look-ahead plays what the control loop would execute (cross-fade and safety filter
    # included), then puts the simulator back; so the picked candidate's outcome is exactly the
    # potential the next decision measures.
    for pick in ("oracle", "first"):
        ep = run_headroom_episode(policy, env, 41, pick, HeadroomConfig(candidates=3), CFG)
        assert len(ep.decisions) >= 2
        for d, after in zip(ep.decisions, ep.decisions[1:]):
            assert d.outcomes[d.picked] == pytest.approx(after.before, abs=1e-9)
            assert after.before != d.before


def test_one_candidate_picked_first_is_the_policy_s_own_episode(policy, env):
    # Candidates are planned in one batched call, as `wav eval --batch` plans episodes: the same
    # plans as one at a time up to float round-off, and bit for bit those of a batch of one.
    own = run_episode(EpisodePolicy(policy), env, 41, CFG)
    picked = run_headroom_episode(policy, env, 41, "first", HeadroomConfig(candidates=1), CFG)
    assert fields(picked.result) == fields(own)
    alone = run_episode(policy, env, 41, CFG)
    assert alone.closest.keys() == own.closest.keys()
    assert all(alone.closest[k] == pytest.approx(own.closest[k], abs=1e-6) for k in own.closest)
    assert np.allclose(alone.snr, own.snr, atol=1e-5)
    assert len(picked.decisions) == own.ticks // policy.cfg.action_horizon


def test_candidate_zero_draws_the_policy_s_own_noise_and_the_others_vary_the_plan(policy, env):
    own = policy.sample_noise(7)
    plan = CandidatePicker(policy, env, "first", HeadroomConfig(candidates=3)).noises(7)
    for name in ("final_video", "final_value", "action"):
        assert torch.equal(getattr(plan[0], name), getattr(own, name))
    for other in plan[1:]:
        assert torch.equal(other.action, own.action)
        assert not torch.equal(other.final_video, own.final_video)
        assert not torch.equal(other.final_value, own.final_value)
    futures = CandidatePicker(policy, env, "first", HeadroomConfig(candidates=3, vary="video")).noises(7)
    for other in futures[1:]:  # one value draw scores every future
        assert torch.equal(other.final_value, own.final_value) and torch.equal(other.action, own.action)
        assert not torch.equal(other.final_video, own.final_video)
    every = CandidatePicker(policy, env, "first", HeadroomConfig(candidates=3, vary="all")).noises(7)
    assert not torch.equal(every[1].action, own.action)


@pytest.mark.parametrize("pick", ["oracle", "value"])
def test_the_pick_rule_decides_which_candidate_runs(policy, env, pick):
    ep = run_headroom_episode(policy, env, 41, pick, HeadroomConfig(candidates=4), CFG)
    assert ep.decisions
    for d in ep.decisions:
        chosen = d.outcomes if pick == "oracle" else d.scores
        assert d.picked == int(np.argmax(chosen))
    # The candidates lead to different places, or there would be nothing to choose.
    assert any(np.ptp(d.outcomes) > 0 for d in ep.decisions)
    first = run_headroom_episode(policy, env, 41, "first", HeadroomConfig(candidates=4), CFG)
    # Both episodes start from the same observation, so their first decisions saw the same candidates.
    assert first.decisions[0].outcomes == ep.decisions[0].outcomes and first.decisions[0].picked == 0


def test_the_decision_summary_compares_the_value_s_choice_with_the_best():
    agree = Decision(scores=[0.1, 0.3, 0.2], outcomes=[-0.5, -0.2, -0.4], before=-0.6, picked=1)
    disagree = Decision(scores=[0.3, 0.1, 0.2], outcomes=[-0.5, -0.2, -0.4], before=-0.6, picked=0)
    s = decision_summary([agree, disagree])
    assert s["decisions"] == 2 and s["candidates"] == 3
    assert s["value_outcome_spearman"] == pytest.approx(0.0)  # +1 and -1
    assert s["value_picks_best"] == 0.5
    assert s["gain_m"]["oracle"] == pytest.approx(0.3)
    assert s["gain_m"]["value"] == pytest.approx((0.3 + 0.0) / 2)
    assert s["progress_per_chunk_m"] == pytest.approx((0.4 + 0.1) / 2)


def test_headroom_needs_the_sync_protocol_and_known_picks(policy, env):
    with pytest.raises(ValueError, match="mode 'sync'"):
        run_headroom(None, dataclasses.replace(CFG, mode="async"), PLANNER, ["first"], HeadroomConfig())
    with pytest.raises(ValueError, match="picks: got 'best'"):
        run_headroom(None, CFG, PLANNER, ["best"], HeadroomConfig())
    with pytest.raises(ValueError, match="vary: got 'actions'"):
        CandidatePicker(policy, env, "first", HeadroomConfig(vary="actions"))
    with pytest.raises(ValueError, match="pick: got 'max'"):
        CandidatePicker(policy, env, "max", HeadroomConfig())


def test_wav_headroom_writes_the_table_and_resumes_from_its_journal(policy, tmp_path, capsys):
    model = save_model(tmp_path / "tiny", policy.model, policy.card)
    args = ["headroom", "--model", str(model), "--episodes", "1", "--seed", "41", "--max-seconds", "0.8",
            "--candidates", "3", "--picks", "first,oracle", "--S", "2", "--M", "2", "--journal",
            str(tmp_path / "episodes.jsonl")]
    assert main(args + ["--json", str(tmp_path / "a.json")]) == 0
    first = json.loads((tmp_path / "a.json").read_text())
    assert set(first["picks"]) == {"first", "oracle"}
    oracle = first["picks"]["oracle"]
    assert oracle["decision_stats"]["decisions"] == oracle["episodes"][0]["plans"] >= 1
    assert "| oracle |" in first["table"] and (tmp_path / "a.png").stat().st_size > 0
    capsys.readouterr()
    assert main(args + ["--json", str(tmp_path / "b.json")]) == 0
    assert "2 episodes taken from the journals" in capsys.readouterr().err
    again = json.loads((tmp_path / "b.json").read_text())
    assert again["picks"]["oracle"]["decision_stats"] == first["picks"]["oracle"]["decision_stats"]
    assert main(args[:-2] + ["--picks", "first,best", "--json", str(tmp_path / "c.json")]) == 2
    assert "--picks: got 'first,best'" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()
