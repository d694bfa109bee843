"""Sync-mode episodes stepped in lockstep with their plans batched give the episodes a serial run
gives: the same outcomes, the same number of plans, the same chosen values and the same commanded
set-points, and an episode that ends early leaves the batch while the others go on.

A batched plan multiplies larger matrices than a single one, which may sum in another order, so
continuous quantities agree to float32 round-off rather than bit for bit: observed differences are
below 1e-6 (rad for commands, normalised units for scores) after two seconds of closed loop; the
comparisons allow 1e-5. Discrete outcomes (success, subgoals, ticks, holds, why an episode stopped)
must be equal."""

import dataclasses
import json

import numpy as np
import pytest

from wav_core.cli.main import main
from wav_core.eval.batched import check_batch, run_episode_batch
from wav_core.eval.closed_loop import EvalConfig, PolicySource, run_episode, run_episodes
from wav_core.model.files import save_model
from wav_core.planning import PlannerConfig, random_policy
from wav_core.sim.env import SimEnv

# warm_start > 0: every episode must also keep its own warm-start memory.
PLANNER = PlannerConfig(K=1, M=4, N=2, S=2, warm_start=0.5)
CFG = EvalConfig(task="drawer", episodes=4, seed=51, max_seconds=2.0, mode="sync")
TOL = dict(rtol=1e-5, atol=1e-5)


def outcome(e):
    return e.seed, e.success, e.subgoals, e.ticks, e.holds, e.stopped, len(e.plan_ms)


def assert_same_episodes(serial, batched):
    assert [outcome(e) for e in batched] == [outcome(e) for e in serial]
    for s, b in zip(serial, batched):
        np.testing.assert_allclose(b.snr, s.snr, **TOL)
        np.testing.assert_allclose(b.value_total, s.value_total, **TOL)
        assert b.closest.keys() == s.closest.keys()
        np.testing.assert_allclose([b.closest[k] for k in s.closest], list(s.closest.values()), atol=1e-4)


@pytest.fixture(scope="module")
def policy():
    return random_policy("tiny", PLANNER)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, policy):
    return save_model(tmp_path_factory.mktemp("models") / "tiny", policy.model, policy.card)


def test_lockstep_episodes_equal_the_serial_ones_and_drop_out_when_they_end(policy):
    seeds = [CFG.seed + k for k in range(CFG.episodes)]
    serial_commands = [[] for _ in seeds]
    with SimEnv(CFG.task) as env:
        serial = [run_episode(policy, env, seed, CFG, commands=c) for seed, c in zip(seeds, serial_commands)]
    envs = [SimEnv(CFG.task) for _ in seeds]
    try:
        batched_commands = [[] for _ in seeds]
        batched = run_episode_batch(policy, envs, seeds, CFG, commands=batched_commands)
    finally:
        for env in envs:
            env.close()

    assert_same_episodes(serial, batched)
    for s, b in zip(serial_commands, batched_commands):
        assert len(b) == len(s)
        np.testing.assert_allclose(np.array(b), np.array(s), **TOL)
    # The episodes differ, and one of them ends before the others (its arm stops following the
    # random policy's commands): it left the batch and the rest went on to the time limit.
    assert len({tuple(e.snr) for e in serial}) == len(seeds)
    full = int(CFG.max_seconds * 20)
    early = [e for e in batched if e.ticks < full]
    assert early and all(e.stopped for e in early)
    assert any(e.ticks == full and not e.stopped for e in batched)


def test_batches_spread_over_workers_give_the_serial_episodes(model_dir, capsys):
    cfg = dataclasses.replace(CFG, episodes=3, max_seconds=1.0)
    source = PolicySource(model_dir)
    serial = run_episodes(source, cfg, [PLANNER], threads=1)[0]
    capsys.readouterr()
    # Jobs of seeds (51, 52) and (53,): the last batch is shorter.
    parallel = run_episodes(source, cfg, [PLANNER], workers=2, batch=2)[0]
    lines = capsys.readouterr().err.splitlines()
    assert [e.seed for e in parallel] == [51, 52, 53]
    assert_same_episodes(serial, parallel)
    assert len(lines) == 3 and all("success=" in line for line in lines)


def test_batching_needs_sync_mode_and_a_backend_that_takes_any_batch(policy):
    check_batch(1, dataclasses.replace(CFG, mode="async"), "onnxruntime")  # nothing batched: anything goes
    with pytest.raises(ValueError, match="batched episodes need mode 'sync'"):
        check_batch(2, dataclasses.replace(CFG, mode="async"), "torch")
    with pytest.raises(ValueError, match="backend 'onnxruntime', whose exported graphs have a fixed batch size"):
        check_batch(2, CFG, "onnxruntime")
    with pytest.raises(ValueError, match="batch: got 0, expected an integer >= 1"):
        run_episodes(policy, CFG, [PLANNER], batch=0)
    with pytest.raises(ValueError, match="mode: got 'async', expected 'sync'"):
        run_episode_batch(policy, [], [1], dataclasses.replace(CFG, mode="async"))
    with pytest.raises(ValueError, match="envs: got 1 simulators for 2 episodes"):
        run_episode_batch(policy, [object()], [1, 2], CFG)


def test_cli_batch_runs_sync_episodes_and_refuses_async(model_dir, tmp_path, capsys):
    base = ["eval", "--model", str(model_dir), "--episodes", "2", "--seed", "60", "--K", "1", "--M", "2", "--N", "2",
            "--S", "2", "--max-seconds", "0.5", "--threads", "1"]
    assert main(base + ["--mode", "sync", "--batch", "2", "--json", str(tmp_path / "b.json")]) == 0
    out = json.loads((tmp_path / "b.json").read_text())
    assert out["mode"] == "sync" and [e["seed"] for e in out["episodes"]] == [60, 61]
    assert all(e["ticks"] == 10 and e["plans"] == 2 for e in out["episodes"])
    assert out["hardware"].endswith("2 episodes per batch")
    capsys.readouterr()
    assert main(base + ["--batch", "2"]) == 2
    assert "--batch: got 2 with --mode async; batched episodes need --mode sync" in capsys.readouterr().err
