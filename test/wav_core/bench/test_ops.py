"""Operator counts: what a plan launches on a GPU, counted exactly on the CPU."""

import json

import torch

from wav_core.bench.ops import OpCounter, count_plan_ops, summarize_ops
from wav_core.cli.main import main as wav
from wav_core.model.flow import euler_solve
from wav_core.model.presets import tiny
from wav_core.model.wav import WAVModel
from wav_core.planning import PlannerConfig, random_policy


def _value_inputs(model: WAVModel, rows: int = 6):
    g = torch.Generator().manual_seed(0)
    cfg = model.cfg
    states = [torch.randn(2, cfg.world_tokens, cfg.world.dim, generator=g) for _ in range(cfg.world.depth)]
    return model.value.video_kv(states), torch.randn(rows, *cfg.value_shape, generator=g)


def test_a_solve_computes_the_time_modulation_once_for_all_its_steps():
    model = WAVModel(tiny()).eval()
    kv, z = _value_inputs(model)

    def products(steps: int) -> int:
        with torch.no_grad(), OpCounter() as c:
            model.solve_value(kv, z, steps)
        return summarize_ops(c.ops)["products"]

    per_step = (products(4) - products(2)) // 2
    # The two products of the time MLP and the adaLN projection, once per solve, not once per step.
    assert products(2) - 2 * per_step == 3
    assert per_step == 2 + tiny().world.depth * 7  # in/out + per block q, kv, out, video q, out, 2 FFN


def test_the_shared_modulation_gives_the_solve_that_passes_each_row_its_flow_time():
    torch.manual_seed(0)
    model = WAVModel(tiny()).eval()
    with torch.no_grad():
        for blk in model.value.blocks:  # non-zero modulation, so a wrong time would show
            blk.mod_offset.normal_()
        model.value.ada[1].weight.normal_(std=0.1)
        kv, z = _value_inputs(model)
        per_row = euler_solve(lambda x, t: model.value(x, t, kv), z, 5)
        torch.testing.assert_close(model.solve_value(kv, z, 5), per_row, rtol=1e-5, atol=1e-6)


def test_a_plan_counts_each_network_call_and_its_products():
    cfg = PlannerConfig(K=2, M=3, N=2, S=3)
    r = count_plan_ops(random_policy("tiny", cfg))
    # Per iteration one world forward and a value solve; the decode adds one of each, the value
    # states the action expert reads, and the action solve.
    assert r["calls"] == {"world": cfg.K + 1, "value": (cfg.K + 1) * cfg.S + 1, "action": cfg.S}
    assert r["attention"] > 0 and r["products"] > 0 and r["aten_ops"] > r["products"] + r["attention"]
    assert sum(r["top"].values()) <= r["aten_ops"]


def test_value_steps_cut_the_value_solves_and_leave_the_action_solve():
    cfg = PlannerConfig(K=2, M=3, N=2, S=4, value_steps=2)
    r = count_plan_ops(random_policy("tiny", cfg))
    assert r["calls"] == {"world": cfg.K + 1, "value": (cfg.K + 1) * 2 + 1, "action": cfg.S}


def test_bench_reports_the_counts(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert wav(["bench", "--preset", "tiny", "--K", "1", "--M", "2", "--N", "2", "--S", "2", "--repeats", "1",
                "--warmup", "0", "--no-naive", "--ops", "--json", str(out)]) == 0
    ops = json.loads(out.read_text())["ops"]
    assert ops["calls"] == {"world": 2, "value": 5, "action": 2}
    assert f"{ops['products']} matrix products" in capsys.readouterr().out
