"""`wav trace`: a policy beside the scripted expert from the same seed, and where it falls behind."""

import json

import pytest

from wav_core.cli.main import main
from wav_core.eval.trace import Trace, compare, expert_trace
from wav_core.sim import SimEnv


def _trace(who, times, distances, phases=()):
    return Trace(who, times=list(times), measures={"tool to handle": list(distances)},
                 grippers=[[0.0, 0.0]] * len(times), phases=list(phases))


def test_the_first_tick_the_policy_is_behind_is_named_by_the_experts_phase():
    expert = _trace("expert", [0.0, 0.5, 1.0, 1.5, 2.0], [0.30, 0.15, 0.04, 0.00, 0.00],
                    ["reach", "reach", "descend", "grasp", "pull"])
    close = _trace("policy", expert.times, [0.30, 0.16, 0.05, 0.02, 0.01])
    lost = _trace("policy", expert.times, [0.30, 0.16, 0.05, 0.06, 0.10])
    slow = _trace("policy", expert.times, [0.30, 0.19, 0.04, 0.01, 0.00])
    assert compare(expert, close, 0.03, behind_s=1.0)["tool to handle"]["behind_at_s"] is None
    assert compare(expert, slow, 0.03, behind_s=1.0)["tool to handle"]["behind_at_s"] is None, "a moment's lag"
    assert compare(expert, slow, 0.03, behind_s=0.0)["tool to handle"]["behind_at_s"] == 0.5
    c = compare(expert, lost, 0.03, behind_s=1.0)["tool to handle"]
    assert (c["behind_at_s"], c["behind_phase"]) == (1.5, "grasp")
    assert (c["expert_min_m"], c["expert_min_at_s"], c["expert_min_phase"]) == (0.0, 1.5, "grasp")
    assert (c["policy_min_m"], c["policy_min_at_s"]) == (0.05, 1.0)


def test_the_bowl_experts_trace_reaches_lifts_and_places_the_cup():
    with SimEnv("bowl", render=False) as env:
        trace = expert_trace(env, 1, 12.0)
    assert trace.success and trace.subgoals == {"grasped": True, "placed": True}
    m = trace.measures
    assert m["nearest tool to cup"][0] > 0.1 and min(m["nearest tool to cup"]) < 0.02
    assert max(m["cup height"]) > 0.03 and m["cup to bowl"][-1] < m["cup to bowl"][0] - 0.05
    assert len(trace.phases) == len(trace.times) == len(trace.grippers) and trace.phases[0] == "reach"


def test_cli_writes_both_runs_and_where_the_policy_falls_behind(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "trace"
    assert main(["trace", "--model", str(tiny_model_dir), "--seed", "31", "--max-seconds", "1.2", "--M", "2", "--N", "2",
                 "--S", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "trace.json").read_text())
    assert (out / "trace.png").stat().st_size > 0
    expert, policy = result["expert"], result["policy"]
    names = ["left tool to handle", "right tool to block", "drawer short of open", "block to drawer"]
    assert list(result["comparison"]) == names and all(name in printed for name in names)
    assert len(expert["times"]) == len(policy["times"]) == 24, "20 Hz ticks for 1.2 s, both runs"
    assert expert["times"] == policy["times"]
    handle = expert["measures"]["left tool to handle"]
    assert handle[-1] < handle[0] - 0.1, "the expert reaches for the handle"
    assert result["comparison"]["drawer short of open"]["expert_min_m"] > 0.1, "not opened so soon"
    assert policy["measures"]["left tool to handle"][0] == handle[0], "the same seed, the same start"


def test_cli_rejects_bad_arguments_before_running(tiny_model_dir, tmp_path, capsys):
    assert main(["trace", "--model", str(tiny_model_dir), "--max-seconds", "0", "--out", str(tmp_path / "t")]) == 2
    assert "--max-seconds: got 0.0, expected sim seconds > 0" in capsys.readouterr().err
    assert main(["trace", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "t")]) == 2
    assert "is not a model directory" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_a_trace_replays_the_episode_wav_eval_ran_with_the_same_seed_and_settings(tiny_model_dir, tmp_path, capsys):
    common = ["--model", str(tiny_model_dir), "--seed", "33", "--max-seconds", "1.0", "--K", "0", "--M", "2", "--N", "2", "--S", "2",
              "--mode", "sync", "--action-temperature", "0"]
    assert main(["trace", *common, "--out", str(tmp_path / "t")]) == 0
    assert main(["eval", *common, "--episodes", "1", "--json", str(tmp_path / "e.json")]) == 0
    traced = json.loads((tmp_path / "t" / "trace.json").read_text())
    evaluated = json.loads((tmp_path / "e.json").read_text())["episodes"][0]["closest_m"]
    assert traced["action_temperature"] == 0.0
    # the trace samples each tick as it starts, eval after it runs: from the second sample on they see the same states
    for name, closest in evaluated.items():
        assert min(traced["policy"]["measures"][name][1:]) == pytest.approx(closest, abs=1e-5), name
    assert main(["trace", *common[:-1], "-1", "--out", str(tmp_path / "u")]) == 2
    assert "action_temperature" in capsys.readouterr().err and not (tmp_path / "u").exists()
