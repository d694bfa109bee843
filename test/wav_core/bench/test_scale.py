"""Plans at scale: a bf16 model built without fp32 copies, rows of latency and floor from one command,
the GPU peak looked up by name, and bad flag combinations refused with the flag named."""

import argparse
import json

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from wav_core.bench.bf16_model import build_bf16, meta_parameters, without_t5
from wav_core.bench.flops import floor_ms, plan_flops
from wav_core.bench.peak import known_peak, resolve_peak
from wav_core.bench.scale import PAPER_ROWS, parse_rows
from wav_core.cli.bench import _rows
from wav_core.cli.main import main as wav
from wav_core.model.presets import preset, tiny
from wav_core.model.wav import WAVModel
from wav_core.planning import PlannerConfig


class _FloatTensorsMade(TorchDispatchMode):
    """Records every fp32/fp64 tensor an operation produces off the meta device."""

    def __init__(self):
        super().__init__()
        self.made = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor) and t.device.type != "meta" and t.dtype in (torch.float32, torch.float64):
                self.made.append((str(func), tuple(t.shape)))
        return out


def test_bf16_build_allocates_bf16_weights_and_never_an_fp32_tensor():
    with _FloatTensorsMade() as seen:
        model = build_bf16(tiny(), "cpu", seed=0)
    assert seen.made == []
    params = list(model.parameters())
    assert {p.dtype for p in params} == {torch.bfloat16} and {p.device.type for p in params} == {"cpu"}
    assert sum(p.numel() for p in params) == meta_parameters(tiny())
    assert all(torch.isfinite(p.float()).all() for p in params)


def test_building_in_fp32_then_casting_is_what_the_check_catches():
    with _FloatTensorsMade() as seen:
        WAVModel(tiny()).to(torch.bfloat16)
    assert seen.made


def test_every_weight_is_filled_deterministically_from_the_seed():
    a, b, c = build_bf16(tiny(), "cpu", seed=3), build_bf16(tiny(), "cpu", seed=3), build_bf16(tiny(), "cpu", seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    w = a.world.blocks[0].mlp.net[0].weight.float()
    assert abs(w.std().item() - w.shape[1] ** -0.5) < 0.2 * w.shape[1] ** -0.5


def test_the_t5_prompt_encoder_is_replaced_by_features_of_the_same_shape():
    cfg = without_t5(preset("paper"))
    assert cfg.text.backend == "embedding" and cfg.text.dim == 4096 and cfg.text.max_len == 64
    assert 2.2e9 < meta_parameters(preset("paper")) < 2.4e9


def test_rows_on_the_cpu_report_latency_flops_and_the_floor_of_a_bf16_model(tmp_path, capsys):
    out = tmp_path / "rows.json"
    assert wav(["bench", "--preset", "tiny", "--rows", "1x2x1,2x2x1", "--S", "2", "--repeats", "1", "--warmup", "0",
                "--threads", "1", "--peak-tflops", "0.5", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["dtype"] == "bfloat16" and res["parameters"] == meta_parameters(tiny()) and res["peak_tflops"] == 0.5
    assert [(r["K"], r["M"], r["N"], r["S"]) for r in res["rows"]] == [(1, 2, 1, 2), (2, 2, 1, 2)]
    for r in res["rows"]:
        assert r["flops"] == plan_flops(tiny(), PlannerConfig(K=r["K"], M=r["M"], N=r["N"], S=r["S"]))
        assert r["floor_ms"] == floor_ms(r["flops"]["total"], 0.5)
        assert r["median_over_floor"] == pytest.approx(r["median_ms"] / r["floor_ms"])
        assert r["peak_memory_bytes"] is None and r["n"] == 1
    printed = capsys.readouterr().out
    assert "median/floor" in printed and "0.5 TFLOPS bf16 (--peak-tflops)" in printed


def test_paper_preset_defaults_to_the_paper_rows_and_explicit_rows_win():
    def ns(**kw):
        return argparse.Namespace(**{"K": None, "M": None, "N": None, "rows": None, "preset": "paper", **kw})
    assert _rows(ns()) == list(PAPER_ROWS) == [(1, 30, 5), (3, 30, 5)]
    assert _rows(ns(K=2)) == [(2, 8, 4)]
    assert _rows(ns(rows="2x16x4")) == [(2, 16, 4)]
    assert _rows(ns(preset="sim")) == [(3, 8, 4)]
    assert parse_rows("1x30x5, 3X30X5") == [(1, 30, 5), (3, 30, 5)]


@pytest.mark.parametrize("name, tflops", [
    ("NVIDIA H100 80GB HBM3", 989), ("NVIDIA H100 PCIe", 756), ("NVIDIA H100 NVL", 835), ("NVIDIA H200", 989),
    ("NVIDIA GH200 480GB", 989), ("NVIDIA A100-SXM4-80GB", 312), ("NVIDIA L40S", 362), ("NVIDIA L40", 181),
    ("NVIDIA L4", 121), ("NVIDIA GeForce RTX 4090", 165), ("Tesla T4", None),
])
def test_known_gpus_have_their_dense_bf16_peak_and_others_none(name, tflops):
    assert known_peak(name) == tflops


def test_an_unknown_gpu_gets_no_floor_unless_overridden():
    assert resolve_peak(None, "Tesla T4") == (None, "Tesla T4: bf16 peak unknown, pass --peak-tflops for a floor")
    assert resolve_peak(None, None)[0] is None
    assert resolve_peak(500.0, "Tesla T4") == (500.0, "--peak-tflops")
    assert resolve_peak(None, "NVIDIA H100 80GB HBM3")[0] == 989


def test_flops_only_without_a_peak_prints_the_count_and_says_there_is_no_floor(capsys):
    assert wav(["bench", "--preset", "tiny", "--flops-only", "--K", "1", "--M", "2", "--N", "1", "--S", "2"]) == 0
    printed = capsys.readouterr().out
    assert "K=1 M=2 N=1 S=2" in printed and "MFLOP" in printed and "floor" not in printed.split("no floor")[0]
    assert "no floor: no GPU named: pass --peak-tflops for a floor" in printed


@pytest.mark.parametrize("argv, named", [
    (["--preset", "paper", "--device", "cpu"], "--device cpu: the paper preset"),
    (["--preset", "tiny", "--flops-only", "--peak-tflops", "0"], "--peak-tflops: got 0.0"),
    (["--preset", "tiny", "--peak-tflops", "989"], "--peak-tflops: only used with"),
    (["--preset", "tiny", "--rows", "1x30", "--flops-only"], "--rows: got '1x30'"),
    (["--preset", "tiny", "--rows", "1x30x5", "--K", "3"], "--rows: give each row's K, M and N there, not also --K"),
    (["--preset", "paper", "--backend", "tensorrt"], "--backend: got 'tensorrt'"),
    (["--preset", "tiny", "--flops-only", "--train"], "--flops-only: not with --train"),
    (["--model", "somewhere", "--flops-only"], "--flops-only: counts a preset's plan"),
])
def test_bad_combinations_are_refused_naming_the_flag(capsys, argv, named):
    assert wav(["bench", *argv]) == 2
    assert named in capsys.readouterr().err


def test_cuda_rows_need_a_visible_gpu(tmp_path, capsys):
    rc = wav(["bench", "--preset", "tiny", "--rows", "1x2x1", "--S", "2", "--repeats", "1", "--warmup", "0",
              "--device", "cuda", "--json", str(tmp_path / "r.json")])
    if torch.cuda.is_available():
        assert rc == 0 and json.loads((tmp_path / "r.json").read_text())["rows"][0]["peak_memory_bytes"] > 0
    else:
        assert rc == 2 and "--device cuda: no CUDA device is visible" in capsys.readouterr().err
