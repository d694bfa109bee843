"""The GPU recipe's cheap parts: its phase guard (scripts/lib/phase.sh) on fast stand-in commands, its
settings check, the join of its per-K evaluations and its training config. The whole recipe needs a
GPU machine; a toy run of it on CPU takes minutes (README, "A model card in one GPU command")."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from wav_test_support import wait_for

ROOT = Path(__file__).resolve().parents[2]
PHASE_LIB = ROOT / "scripts" / "lib" / "phase.sh"
RECIPE = ROOT / "scripts" / "gpu_recipe.sh"


def bash(script: str, results: Path, **env) -> subprocess.CompletedProcess:
    """Run `script` in bash with scripts/lib/phase.sh sourced and RESULTS set."""
    results.mkdir(parents=True, exist_ok=True)
    full = {**os.environ, "RESULTS": str(results), **{k: str(v) for k, v in env.items()}}
    return subprocess.run(["bash", "-c", f'source "{PHASE_LIB}"\n{script}'], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=120)


def phases(results: Path) -> dict[str, str]:
    rows = [line.split("\t") for line in (results / "phases.tsv").read_text().splitlines()]
    return {name: status for name, _seconds, status in rows}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_a_phase_runs_its_command_logs_it_and_records_ok(tmp_path):
    out = tmp_path / "made.txt"
    r = bash(f'phase make 30 "{out}" bash -c "echo hello > {out}; echo made it"', tmp_path / "res")
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "hello\n"
    assert phases(tmp_path / "res") == {"make": "ok"}
    # logged quoted, so the model card's command runs as written
    logged = [shlex.split(line) for line in (tmp_path / "res" / "commands.txt").read_text().splitlines()]
    assert ["bash", "-c", f"echo hello > {out}; echo made it"] in logged
    assert "made it" in (tmp_path / "res" / "logs" / "make.log").read_text()


def test_a_phase_is_skipped_while_its_output_is_newer_than_its_inputs(tmp_path):
    res, inp, out = tmp_path / "res", tmp_path / "inputs", tmp_path / "out.txt"
    inp.mkdir()
    (inp / "a").write_text("1")
    script = f'phase --after "{inp}" derive 30 "{out}" bash -c "cat {inp}/a >> {out}"'
    bash(script, res)
    bash(script, res)
    assert out.read_text() == "1"
    assert phases(res) == {"derive": "skipped"}
    # A newer input anywhere under an --after folder redoes the phase.
    (inp / "sub").mkdir()
    (inp / "sub" / "b").write_text("2")
    later = time.time() + 5
    os.utime(inp / "sub" / "b", (later, later))
    bash(script, res)
    assert out.read_text() == "11"
    assert list(phases(res).values())[-1] == "ok"


def test_a_phase_past_its_time_is_stopped_reported_and_the_next_phase_runs(tmp_path):
    res, pid_file, after = tmp_path / "res", tmp_path / "pid", tmp_path / "after.txt"
    r = bash(f'phase slow 1 "" bash -c "echo \\$\\$ > {pid_file}; sleep 60"\n'
             f'phase next 30 "{after}" touch "{after}"\n'
             f'echo "status of the last: $PHASE_STATUS"', res)
    assert r.returncode == 0, r.stderr
    assert phases(res) == {"slow": "timeout", "next": "ok"}
    assert after.exists()
    assert "status of the last: ok" in r.stdout
    assert wait_for(lambda: not alive(int(pid_file.read_text())), timeout=20)  # its process group was ended


def test_failures_missing_outputs_and_an_exhausted_deadline_are_reported(tmp_path):
    res, never = tmp_path / "res", tmp_path / "never.txt"
    r = bash(f'phase broken 30 "" bash -c "echo the reason >&2; exit 3"\n'
             f'phase silent 30 "{tmp_path}/missing.json" true\n'
             f'DEADLINE=$(($(date +%s) - 1)) phase late 30 "" touch "{never}"\n'
             f'DEADLINE=$(($(date +%s) - 1)) phase --always closing 30 "" true', res)
    assert r.returncode == 0, r.stderr
    assert phases(res) == {"broken": "failed (rc 3)", "silent": "no output", "late": "no time", "closing": "ok"}
    assert "the reason" in r.stdout  # the log's tail is shown for a phase that did not succeed
    assert not never.exists()
    logged = [shlex.split(line) for line in (res / "commands.txt").read_text().splitlines()]
    assert ["touch", str(never)] in logged  # still listed for the model card


def test_a_marked_phase_is_done_once_its_command_succeeds(tmp_path):
    res, marker, count = tmp_path / "res", tmp_path / "run" / "trained", tmp_path / "count"
    marker.parent.mkdir()
    bash(f'phase --mark train 30 "{marker}" bash -c "echo x >> {count}; exit 1"', res)
    assert not marker.exists() and phases(res) == {"train": "failed (rc 1)"}
    for _ in range(2):  # runs again until it succeeds, then is skipped
        bash(f'phase --mark train 30 "{marker}" bash -c "echo x >> {count}"', res)
    assert marker.exists()
    assert count.read_text() == "x\nx\n"
    assert phases(res) == {"train": "skipped"}


def test_clean_removes_a_partial_output_before_the_phase_runs_again(tmp_path):
    res, bags = tmp_path / "res", tmp_path / "bags"
    bags.mkdir()
    (bags / "half_written.mcap").write_text("x")
    listing = tmp_path / "listing"
    bash(f'phase --clean "{bags}" record 30 "{bags}/summary.json" '
         f'bash -c "mkdir -p {bags}; ls {bags} > {listing}; touch {bags}/summary.json"', res)
    assert listing.read_text() == ""
    assert phases(res) == {"record": "ok"}


def test_an_interrupted_recipe_stops_its_running_phase(tmp_path):
    res, pid_file = tmp_path / "res", tmp_path / "pid"
    res.mkdir()
    script = (f'source "{PHASE_LIB}"; trap phase_interrupt INT TERM\n'
              f'phase train 60 "" bash -c "echo \\$\\$ > {pid_file}; sleep 60"\necho not reached')
    proc = subprocess.Popen(["bash", "-c", script], cwd=ROOT, env={**os.environ, "RESULTS": str(res)},
                            stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "not reached" not in stdout
    assert wait_for(lambda: not alive(child), timeout=20)


def test_phase_table_lists_each_phase_and_the_total(tmp_path):
    res = tmp_path / "res"
    res.mkdir()
    (res / "phases.tsv").write_text("record\t40\tok\ntrain\t270\ttimeout\n")
    r = bash("phase_table", res)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["phase", "seconds", "status"]
    assert lines[1].split() == ["record", "40", "ok"]
    assert lines[2].split() == ["train", "270", "timeout"]
    assert lines[3].split() == ["total", "310"]


@pytest.mark.parametrize("setting, value", [
    ("EVAL_EPISODES", "fifty"), ("WORKERS", "0"), ("KS", "0,x"), ("KS", "1,,3"), ("PRESET", "huge"),
    ("MAX_SECONDS", "-3"), ("T_TRAIN", "5m"), ("TRAIN_CONFIG", "config/none.yaml"), ("DEVICE", "tpu"),
    ("EPISODES", "999"), ("DISTURB_EPISODES", "-1"), ("RIG", "config/no_rig.yaml"),
])
def test_the_recipe_refuses_bad_settings_before_doing_anything(tmp_path, setting, value):
    work = tmp_path / "work"
    env = {**os.environ, "WORK": str(work), "PACK_DIR": "", setting: value}
    r = subprocess.run(["bash", str(RECIPE)], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.startswith(f"gpu_recipe.sh: {setting}")
    assert "expected" in r.stderr or "does not exist" in r.stderr
    assert not work.exists()


def test_the_recipe_accepts_toy_settings(tmp_path):
    env = {**os.environ, "WORK": str(tmp_path / "work"), "PACK_DIR": "", "RECIPE_CHECK_ONLY": "1",
           "EPISODES": "2", "EXPERT_EPISODES": "0", "DISTURB_EPISODES": "1", "KS": "0,1", "PRESET": "tiny", "MAX_STEPS": "5",
           "DEVICE": "cpu", "EVAL_MAX_SECONDS": "2.5"}
    r = subprocess.run(["bash", str(RECIPE)], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "settings valid (device cpu)" in r.stdout


def one_k(k: int, success: float, seeds=(1000, 1001)) -> dict:
    return {"task": "drawer", "K": k, "M": 8, "N": 4, "S": 10, "warm_start": 0.0, "seeds": list(seeds),
            "success_rate": success, "subgoal_rates": {}, "mean_episode_ticks": 900.0, "mode": "sync",
            "holds": {}, "plan_latency_ms": {"median": 10.0 + k, "p90": 12.0 + k}, "episodes": [],
            "hardware": "test machine"}


def join(tmp_path, runs: dict[str, dict], names: list[str]) -> subprocess.CompletedProcess:
    for name, run in runs.items():
        (tmp_path / name).write_text(json.dumps(run))
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "lib" / "eval_sweep.py"), "--out",
                           str(tmp_path / "eval.json"), *[str(tmp_path / n) for n in names]],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_single_k_evaluations_join_into_one_sweep_in_k_order(tmp_path):
    r = join(tmp_path, {"eval_K3.json": one_k(3, 0.5), "eval_K0.json": one_k(0, 0.25)},
             ["eval_K3.json", "eval_K1.json", "eval_K0.json"])  # K=1 timed out: left out
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "eval.json").read_text())
    assert [run["K"] for run in out["sweep"]] == [0, 3]
    assert [run["success_rate"] for run in out["sweep"]] == [0.25, 0.5]
    assert "| 3 | 0 | 0.50 |" in out["table"]
    assert (tmp_path / "eval.png").stat().st_size > 0


def test_evaluations_on_different_seeds_are_not_joined(tmp_path):
    r = join(tmp_path, {"eval_K0.json": one_k(0, 0.25), "eval_K1.json": one_k(1, 0.5, seeds=(7, 8))},
             ["eval_K0.json", "eval_K1.json"])
    assert r.returncode == 2
    assert "eval_K1.json: task, M, N or seeds differ" in r.stderr
    assert not (tmp_path / "eval.json").exists()


def test_no_evaluation_to_join_is_an_error(tmp_path):
    r = join(tmp_path, {}, ["eval_K0.json"])
    assert r.returncode == 2 and "no evaluated K to join" in r.stderr


def test_the_recipe_config_is_the_sim_preset_with_future_conditioning():
    from wav_core.training.run_config import load_run_config

    cfg = load_run_config(ROOT / "config" / "train_gpu_recipe.yaml")
    model = cfg.model_config()
    assert (cfg.preset, model.conditioning, model.image_size) == ("sim", "future", (64, 64))
    assert model.value_reads == "future"
    assert [cfg.train.stage(s).precision for s in ("tokenizer", "world", "value", "action")] == ["bf16", "fp32", "fp32", "fp32"]
    assert cfg.latent_cache
    assert all(cfg.train.stage(s).batch_size == 64 for s in ("tokenizer", "world", "value", "action"))
    assert [(cfg.train.stage(s).schedule, cfg.train.stage(s).ema) for s in ("value", "action")] == [("cosine", 0.999)] * 2
