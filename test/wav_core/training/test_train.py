"""Staged training: every stage runs, a resumed run repeats an uninterrupted one exactly, two gloo
processes stay in sync, and a run exports to a loadable model directory."""

import os
import socket
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from wav_core.config.loader import ConfigError
from wav_core.planning import WAVPolicy
from wav_core.training.config import StageConfig, TrainConfig
from wav_core.training.export import export_run
from wav_core.training.run_config import RunConfig, load_run_config
from wav_core.training.trainer import train
from wav_test_support import synthetic_dataset


def _stage(steps=4):
    return StageConfig(steps=steps, warmup=2, batch_size=2, lr=1e-3)


def tiny_run(**kw) -> RunConfig:
    return RunConfig(preset="tiny", num_workers=0, checkpoint_every=2, image_every=0, log_every=1,
                     train=TrainConfig(tokenizer=_stage(), world=_stage(), value=_stage(), action=_stage()), **kw)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return synthetic_dataset(tmp_path_factory.mktemp("train_data"))


def test_all_stages_train_and_export(dataset, tmp_path):
    result = train(tmp_path / "run", tiny_run(), dataset, ["tokenizer", "world", "value", "action"], progress=False,
                   log=lambda s: None)
    assert set(result.losses) == {"tokenizer", "world", "value", "action"}
    assert all(len(v) == 4 and np.all(np.isfinite(v)) for v in result.losses.values())
    assert (tmp_path / "run" / "tb").is_dir()
    model_dir = export_run(tmp_path / "run", tmp_path / "model")
    policy = WAVPolicy.load(model_dir)
    for name, value in result.model.state_dict().items():
        assert torch.equal(policy.model.state_dict()[name], value.cpu()), name
    # The exported card carries the dataset's normalisation and joint names.
    assert policy.card.joints[0] == "left_joint1" and policy.card.notes["stage"] == "action"
    # ... and how each stage was trained, for the model card.
    record = policy.card.notes["training"]
    assert list(record) == ["tokenizer", "world", "value", "action"]
    assert record["world"]["steps"] == 4 and record["world"]["seconds"] > 0
    assert record["world"]["hardware"].startswith("CPU: ")


def test_resume_repeats_the_uninterrupted_run(dataset, tmp_path):
    full = train(tmp_path / "full", tiny_run(), dataset, ["world"], progress=False, log=lambda s: None)
    train(tmp_path / "cut", tiny_run(), dataset, ["world"], max_steps=2, progress=False, log=lambda s: None)
    resumed = train(tmp_path / "cut", tiny_run(), dataset, ["world"], resume=True, progress=False, log=lambda s: None)
    assert resumed.losses["world"] == pytest.approx(full.losses["world"], rel=1e-6)
    for name, value in full.model.state_dict().items():
        assert torch.allclose(resumed.model.state_dict()[name], value, atol=1e-6), name


def test_existing_run_is_not_overwritten(dataset, tmp_path):
    train(tmp_path / "run", tiny_run(), dataset, ["value"], max_steps=1, progress=False, log=lambda s: None)
    with pytest.raises(FileExistsError, match="pass --resume"):
        train(tmp_path / "run", tiny_run(), dataset, ["value"], max_steps=1, progress=False, log=lambda s: None)


def test_incompatible_dataset_is_named(dataset, tmp_path):
    cfg = tiny_run(model={"views": ["cam_high", "cam_front"]})
    with pytest.raises(ValueError, match=r"cameras \['cam_front'\] required by the model are not in the dataset"):
        train(tmp_path / "run", cfg, dataset, ["value"], max_steps=1, progress=False, log=lambda s: None)


def test_export_of_a_non_run_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="run.yaml: missing"):
        export_run(tmp_path, tmp_path / "model")


DDP_WORKER = """
import os, sys, torch
from safetensors.torch import save_file
from wav_core.training.config import StageConfig, TrainConfig
from wav_core.training.run_config import RunConfig
from wav_core.training.trainer import train
torch.set_num_threads(1)
stage = StageConfig(steps=2, warmup=2, batch_size=2, lr=1e-3)
cfg = RunConfig(preset="tiny", num_workers=0, image_every=0, train=TrainConfig(action=stage))
dataset, run, out = sys.argv[1:4]
result = train(run, cfg, dataset, ["action"], progress=False, log=lambda s: None)
save_file({k: v.contiguous() for k, v in result.model.state_dict().items()},
          os.path.join(out, "rank%s.safetensors" % os.environ["RANK"]))
torch.distributed.destroy_process_group()
"""


def test_two_gloo_processes_end_with_identical_parameters(dataset, tmp_path):
    """Two processes as torchrun would start them (WORLD_SIZE/RANK/MASTER_* in the environment)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(2):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank),
                   LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, "-c", DDP_WORKER, str(dataset), str(tmp_path / "run"), str(tmp_path)],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out[-3000:]
    a, b = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # Both ranks trained (the action head starts at zero and must have moved).
    assert a["action.out.weight"].abs().sum() > 0


def test_an_unknown_compile_mode_names_the_key_and_the_modes(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("preset: tiny\ncompile: max\n")
    with pytest.raises(ConfigError, match=r"run.yaml: compile: got 'max', expected one of \['off', 'default', 'reduce-overhead'\]"):
        load_run_config(path)


def test_a_stage_precision_names_the_stage_and_the_choices(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("preset: tiny\ntrain:\n  world: {precision: fp16}\n")
    with pytest.raises(ConfigError, match=r"run.yaml: .*precision: got 'fp16', expected one of \['bf16', 'fp32'\]"):
        load_run_config(path)


def test_precision_selects_autocast_on_the_gpu_only(dataset, tmp_path):
    """A CPU always trains in fp32, so both settings give the same steps there; on a GPU bf16 autocast
    rounds, and the two runs follow each other closely without being equal."""
    device_runs = {}
    for precision in ("bf16", "fp32"):
        run = tiny_run()
        run.train.action = replace(run.train.action, precision=precision)
        device_runs[precision] = train(tmp_path / precision, run, dataset, ["action"], progress=False,
                                       log=lambda s: None).losses["action"]
    if torch.cuda.is_available():
        np.testing.assert_allclose(device_runs["bf16"], device_runs["fp32"], rtol=0.1)
        assert device_runs["bf16"] != device_runs["fp32"]
    else:
        assert device_runs["bf16"] == device_runs["fp32"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="compiled training is for CUDA (minutes to compile on a CPU)")
@pytest.mark.parametrize("mode", ["default", "reduce-overhead"])
def test_compiled_training_follows_the_eager_run_on_the_gpu(dataset, tmp_path, mode):
    eager = train(tmp_path / "eager", tiny_run(), dataset, ["action"], progress=False, log=lambda s: None)
    compiled = train(tmp_path / "compiled", tiny_run(compile=mode), dataset, ["action"], progress=False,
                     log=lambda s: None)
    np.testing.assert_allclose(compiled.losses["action"], eager.losses["action"], rtol=0.1)  # bf16 autocast in both


def test_an_action_option_added_after_the_value_stage_starts_its_new_parameters_fresh(dataset, tmp_path):
    """A run's world and value stages reused with an action expert that reads the observation too:
    the new parameters start from their initialisation, everything else loads from the value stage,
    and a checkpoint missing anything else is named."""
    import yaml

    from wav_core.training.checkpoint import load_checkpoint

    run, cfg = tmp_path / "run", tiny_run(model={"conditioning": "future"})  # stage 3: the action expert only
    train(run, cfg, dataset, ["world", "value"], progress=False, log=lambda s: None)
    content = yaml.safe_load((run / "run.yaml").read_text())
    content["card"]["config"]["action_reads"] = "observation"
    (run / "run.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    # The value stage exports as it is (to probe its world, say), the new parameters initialised.
    partial = WAVPolicy.load(export_run(run, tmp_path / "value_model"))
    assert partial.card.notes["stage"] == "value" and partial.model.action.obs_in is not None
    result = train(run, cfg, dataset, ["world", "value", "action"], resume=True, progress=False,
                   log=lambda s: None)
    assert result.model.action.obs_in is not None and len(result.losses["action"]) == 4
    value_weights, _ = load_checkpoint(run / "checkpoints" / "value", "cpu")
    for name, value in result.model.state_dict().items():
        if name.startswith(("world.", "value.")):
            assert torch.equal(value, value_weights[name]), name

    broken = tmp_path / "broken"
    train(broken, tiny_run(), dataset, ["world"], progress=False, log=lambda s: None)
    weights = load_file(str(broken / "checkpoints" / "world" / "model.safetensors"))
    del weights["world.pos"]
    save_file(weights, str(broken / "checkpoints" / "world" / "model.safetensors"))
    with pytest.raises(ValueError, match=r"checkpoints/world: weights do not match .*world\.pos"):
        train(broken, tiny_run(), dataset, ["world", "value"], resume=True, progress=False, log=lambda s: None)
    with pytest.raises(ValueError, match=r"checkpoints/world: weights do not match .*world\.pos"):
        export_run(broken, tmp_path / "broken_model")
    assert not (tmp_path / "broken_model").exists()
