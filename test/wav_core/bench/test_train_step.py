"""`wav bench --train`: every stage and variant gets a row on the named machine, and the variants
being compared compute the same losses, so their ratio measures speed and nothing else."""

import json

import pytest
import torch

from wav_core.bench.train_step import bench_training
from wav_core.cli.main import main as wav
from wav_core.model.presets import tiny


def test_bench_times_every_stage_and_variant_on_the_named_machine(tmp_path, capsys):
    out = tmp_path / "train.json"
    assert wav(["bench", "--train", "--preset", "tiny", "--stages", "tokenizer,world", "--variants", "encode,cache",
                "--batch", "4", "--repeats", "1", "--warmup", "0", "--threads", "1", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    rows = {(r["stage"], r["variant"]): r for r in res["rows"]}
    assert sorted(rows) == [("tokenizer", "cache"), ("tokenizer", "encode"), ("world", "cache"), ("world", "encode")]
    for r in rows.values():
        assert r["median_ms"] > 0 and r["p90_ms"] > 0 and r["samples_per_s"] > 0 and r["first_step_ms"] > 0
        assert r["n"] == 1 and len(r["losses"]) == 2
    assert rows[("world", "encode")]["speedup"] == 1.0
    assert res["hardware"].startswith("CPU: ") and res["preset"] == "tiny" and res["batch"] == 4
    assert res["threads"] == 1 and res["torch"] == torch.__version__
    printed = capsys.readouterr().out
    assert res["hardware"] in printed
    assert all(f"{s:<10} {v:<13}" in printed for s, v in rows)


@pytest.mark.parametrize("conditioning", ["paper", "future"])
def test_encoding_frames_and_reading_cached_latents_give_the_same_losses(conditioning):
    cfg = tiny()
    cfg.conditioning = conditioning
    res = bench_training(cfg, ["world", "value", "action"], ["encode", "cache"], batch_size=3, repeats=1, warmup=1)
    for stage in ("world", "value", "action"):
        encode, cache = (next(r for r in res["rows"] if r["stage"] == stage and r["variant"] == v)
                         for v in ("encode", "cache"))
        assert len(encode["losses"]) == 3
        assert encode["losses"] == pytest.approx(cache["losses"], abs=1e-5)


def test_same_seed_same_losses_and_another_seed_others():
    a, b, c = (bench_training(tiny(), ["action"], ["cache"], batch_size=2, repeats=1, warmup=0, seed=s)["rows"][0]
               for s in (3, 3, 4))
    assert a["losses"] == b["losses"]
    assert a["first_loss"] != pytest.approx(c["first_loss"], abs=1e-5)


@pytest.mark.parametrize("flag, value, allowed", [
    ("--stages", "world,critic", "tokenizer, world, value, action"),
    ("--variants", "cache,fast", "encode, cache, bf16, compile, bf16-compile, bf16-graphs"),
])
def test_an_unknown_stage_or_variant_names_the_flag_and_the_allowed_values(capsys, flag, value, allowed):
    assert wav(["bench", "--train", "--preset", "tiny", flag, value]) == 2
    err = capsys.readouterr().err
    assert flag in err and repr(value) in err and allowed in err


def test_bf16_without_cuda_is_refused_with_the_device_named(capsys):
    assert wav(["bench", "--train", "--preset", "tiny", "--variants", "cache,bf16", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "--variants: bf16 run under bf16 autocast, which needs a CUDA --device" in err and "--device cpu" in err


def test_train_mode_refuses_a_model_directory(tmp_path, capsys):
    assert wav(["bench", "--train", "--model", str(tmp_path)]) == 2
    assert "pass --preset instead of --model" in capsys.readouterr().err
