"""`wav diagnose` tells a model whose action follows the plan from one whose action cannot."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from wav_core.eval.diagnose import Observation, diagnose, spearman
from wav_core.model.files import ModelCard, save_model
from wav_core.planning import PlannerConfig, WAVPolicy
from wav_core.planning.policy import random_policy


def _observations(policy, n=2):
    rng = np.random.default_rng(0)
    return [Observation(rng.integers(0, 255, policy.image_shape, dtype=np.uint8), np.zeros(14), "open the drawer")
            for _ in range(n)]


def _cut_action_from_the_plan(policy):
    """The action expert no longer attends to the world or the value expert: only its own flow noise
    (and the observation) shapes the chunk."""
    with torch.no_grad():
        for blk in policy.model.action.blocks:
            for attn in (blk.video_attn, blk.value_attn):
                attn.out.weight.zero_()
                attn.out.bias.zero_()


def test_diagnose_separates_a_plan_following_action_from_an_inert_one():
    follows = random_policy("tiny", PlannerConfig(K=0, S=3))
    inert = random_policy("tiny", PlannerConfig(K=0, S=3))
    _cut_action_from_the_plan(inert)
    result = diagnose(follows, _observations(follows), variants=6)
    a = result["action_spread"]
    b = diagnose(inert, _observations(inert), variants=6)["action_spread"]
    assert result["value_spread"]["video"] > 1e-4 and result["value_spread"]["value"] > 1e-4  # both move the value
    assert a["video"] > 1e-3 and a["value"] > 1e-3
    assert b["video"] < 1e-6 and b["value"] < 1e-6
    assert b["action_noise"] > 1e-3  # the inert model still decodes: its spread is its own noise


def test_plan_effect_shows_whether_the_chosen_future_reaches_the_chunk():
    follows = random_policy("tiny", PlannerConfig(K=0, M=4, N=2, S=3), model_overrides={"conditioning": "future"})
    inert = random_policy("tiny", PlannerConfig(K=0, M=4, N=2, S=3), model_overrides={"conditioning": "future"})
    _cut_action_from_the_plan(inert)
    a = diagnose(follows, _observations(follows), variants=2, plan_k=1)["plan_effect"]
    b = diagnose(inert, _observations(inert), variants=2, plan_k=1)["plan_effect"]
    assert a["K"] == 1 and a["chunk_best"] > 1e-4 and a["chunk_draw"] > 1e-4
    assert a["chunk_paired"] > 1e-4
    assert max(b["chunk_best"], b["chunk_draw"], b["chunk_paired"]) < 1e-6  # whatever the plan chose, the same chunk
    for e in (a, b):  # one iteration: the best candidate is the best the search saw
        assert e["score_best"] == pytest.approx(e["score_seen_best"], rel=1e-5)
    assert "plan_effect" not in diagnose(follows, _observations(follows, 1), variants=2)
    # the policy's own planner settings do not change which decode each column measures
    follows.set_planner(PlannerConfig(K=0, M=4, N=2, S=3, final="best", blind_scores=True, value_noise="shared",
                                      video_score="mean"))
    assert diagnose(follows, _observations(follows), variants=2, plan_k=1)["plan_effect"] == a


def test_spearman_is_rank_correlation():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(x, x ** 3) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert spearman(x, np.ones(4)) == 0.0


def _run(*args):
    return subprocess.run([sys.executable, "-m", "wav_core.cli.main", "diagnose", *args],
                          capture_output=True, text=True, timeout=600)


def test_cli_writes_the_figures_for_held_out_data(tmp_path, tiny_dataset):
    policy = random_policy("tiny")
    save_model(tmp_path / "m", policy.model, ModelCard(config=policy.cfg, cameras=list(policy.cfg.views)))
    out = tmp_path / "d.json"
    r = _run("--model", str(tmp_path / "m"), "--data", str(tiny_dataset), "--episodes", "1",
             "--ticks-per-episode", "2", "--variants", "3", "--plan-K", "1", "--M", "2", "--N", "2", "--S", "3",
             "--json", str(out))
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert result["plan_effect"]["K"] == 1 and "a plan of K = 1 against K = 0" in r.stdout
    assert set(result["action_spread"]) == {"video", "value", "action_noise"}
    assert set(result["value_spread"]) == {"video", "value"} and "spearman" in result["value_rank"]
    assert result["value_readout"]["points"] == 2 and "spearman" in result["value_readout"]["imagined"]
    assert "true_future" not in result["value_readout"]  # a paper-conditioned value never saw true futures
    assert result["value_choice"] is None and "value choice: n/a" in r.stdout  # its action reads no value chunk
    assert result["tokenizer"]["frames"] > 0 and result["tokenizer"]["detail_mse"] > 0
    assert "most detailed pixels" in r.stdout
    assert "video noise" in r.stdout and "value ranking given imagined futures (mean of 3 draws)" in r.stdout


def test_the_readout_feeds_the_true_future_to_a_future_conditioned_value(tiny_dataset):
    from wav_core.data.torch_dataset import SampleSpec, WavDataset
    from wav_core.eval.value_readout import readout_at, value_readout

    policy = random_policy("tiny", PlannerConfig(K=0, S=3), model_overrides={"conditioning": "future"})
    sample = WavDataset(str(tiny_dataset), SampleSpec.for_model(policy.cfg))[3]
    other = dict(sample, future=1.0 - sample["future"])  # another future after the same history
    with torch.no_grad():
        a, b = (readout_at(policy, s, 4, torch.Generator().manual_seed(0)) for s in (sample, other))
    assert a["imagined"] == b["imagined"]  # imagined futures depend on the history only
    assert a["true_future"] != pytest.approx(b["true_future"], abs=1e-6)
    # The still future holds the last history frame: a demonstration that really stood still scores the same.
    stood = dict(sample, future=sample["history"][:, -1:].expand(sample["future"].shape).clone())
    with torch.no_grad():
        c = readout_at(policy, stood, 4, torch.Generator().manual_seed(0))
    assert c["true_future"] == c["still_future"] == a["still_future"] != pytest.approx(a["true_future"], abs=1e-6)
    result = value_readout(policy, tiny_dataset, ticks_per_episode=3, samples=2, max_episodes=1)
    assert len(result["points"]) == 3 and set(result) >= {"imagined", "true_future", "true_beats_still"}
    assert [set(e) for e in result["episodes"]] == [{"episode", "true", "imagined", "true_future", "still_future"}]
    beats = result["true_beats_still"]
    assert beats["success_ticks"] == 3 and 0.0 <= beats["successes"] <= 1.0  # the tiny demonstrations count as successes
    assert all(-1.0 <= result[s]["spearman"] <= 1.0 for s in ("imagined", "true_future"))
    # Shifted futures: the future that followed tick t + D, after the history of t, is scored like a
    # true future would be.
    ds = WavDataset(str(tiny_dataset), SampleSpec.for_model(policy.cfg))
    later = ds[3 + 4]["future"]
    with torch.no_grad():
        d = readout_at(policy, sample, 4, torch.Generator().manual_seed(0), {"later_future": later})
        e = readout_at(policy, dict(sample, future=later), 4, torch.Generator().manual_seed(0))
    assert d["later_future"] == e["true_future"] and d["true_future"] == a["true_future"]
    result = value_readout(policy, tiny_dataset, ticks_per_episode=5, samples=2, max_episodes=1, shift_ticks=4)
    last = ds.data.episodes[0].ticks - 1
    inner = [p for p in result["points"] if "later_future" in p]
    assert inner and all(4 <= p["tick"] <= last - 4 for p in inner)
    assert all(p["true_later"] == float(ds.chunk(0, p["tick"] + 4, "value")[0, -1]) for p in inner)
    shifted = result["shifted"]
    assert shifted["ticks"] == len(inner) and shifted["shift_ticks"] == 4 and 0.0 <= shifted["later_beats_earlier"] <= 1.0


def test_cli_bad_model_or_data_names_the_problem_and_writes_nothing(tmp_path, tiny_dataset):
    out = tmp_path / "d.json"
    r = _run("--model", str(tmp_path / "missing"), "--data", str(tiny_dataset), "--json", str(out))
    assert r.returncode == 2 and "missing: model directory not found" in r.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "model.yaml").write_text("config: {conditioning: dreamer}\n")
    r = _run("--model", str(tmp_path / "bad"), "--data", str(tiny_dataset), "--json", str(out))
    assert r.returncode == 2 and "conditioning: got 'dreamer'" in r.stderr
    policy = random_policy("tiny")
    cfg = policy.cfg
    cfg.views = ["cam_high", "cam_left_wrist", "cam_elbow"]
    save_model(tmp_path / "m", policy.model, ModelCard(config=cfg, cameras=list(cfg.views)))
    r = _run("--model", str(tmp_path / "m"), "--data", str(tiny_dataset), "--json", str(out))
    assert r.returncode == 2 and "cameras ['cam_elbow'] of the model are not in the dataset" in r.stderr
    assert not out.exists()


def test_closed_loop_observations_are_the_policys_own_decisions():
    from wav_core.eval.diagnose_sim import sim_observations

    policy = random_policy("tiny", PlannerConfig(K=0, S=2))
    obs = sim_observations(policy, "bowl", seed=2000, episodes=1, decisions=2)
    assert 1 <= len(obs) <= 2
    assert obs[0].images.shape == policy.image_shape and obs[0].images.dtype == np.uint8
    assert obs[0].instruction == "put the cup into the bowl"
    result = diagnose(policy, obs, variants=3)
    assert result["observations"] == len(obs) and result["action_spread"]["action_noise"] > 0
