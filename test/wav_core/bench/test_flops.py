"""FLOPs per plan, counted on the meta device: exact against the world's matrix products, growing with
K, M and N as the planner runs its networks, and in range for the 2.3 B-parameter paper preset."""

import json

from wav_core.bench.flops import floor_ms, plan_flops
from wav_core.cli.main import main as wav
from wav_core.model.presets import preset, tiny
from wav_core.planning import PlannerConfig


def world_flops_per_candidate(cfg) -> tuple[int, int]:
    """The world forward's products, written out from world.py and layers.py (2 FLOPs per multiply-add).
    Per candidate: patch_in, the time MLP (per token of one view), the adaLN projection, and per
    block self-attention (q, kv, out and the attention itself over a view, or over all views in
    every cross_view_every-th block), prompt attention (q, out, attention over 1 + max_len prompt
    tokens) and the MLP. Per forward, shared by its candidates: the prompt projection and each
    block's prompt keys/values. Returns (per candidate, per forward)."""
    d, views = cfg.world.dim, len(cfg.views)
    length = (cfg.n_history + cfg.n_future) * cfg.tokens_per_frame
    tokens = views * length
    channels = cfg.tokenizer.latent_channels * cfg.world.patch ** 2
    hidden = int(d * cfg.world.mlp_ratio)
    prompt = 1 + cfg.text.max_len
    spans = [views * length if (i + 1) % cfg.world.cross_view_every == 0 else length for i in range(cfg.world.depth)]
    per_candidate = (2 * tokens * channels * d + 2 * length * (128 * d + d * d) + 2 * tokens * d * 6 * d
                     + sum(8 * tokens * d * d + 4 * tokens * span * d + 4 * tokens * d * d + 4 * tokens * prompt * d
                           + 4 * tokens * d * hidden for span in spans))
    per_forward = 2 * prompt * (cfg.text.dim * d + d * d) + cfg.world.depth * 2 * prompt * d * 2 * d
    return per_candidate, per_forward


def flops(K, M, N, S=2):
    return plan_flops(tiny(), PlannerConfig(K=K, M=M, N=N, S=S))


def test_world_flops_are_exactly_the_products_of_one_forward_per_iteration_and_one_for_the_decode():
    # K forwards of M candidates plus the decode's forward of the chosen one: c * (K*M + 1) + e * (K + 1).
    c, e = world_flops_per_candidate(tiny())
    for K, M in [(0, 2), (1, 2), (1, 3), (2, 2)]:
        assert flops(K, M, 1)["world"] == c * (K * M + 1) + e * (K + 1), (K, M)


def test_value_flops_grow_with_the_candidates_and_their_samples_and_action_flops_do_not():
    # Per iteration the M candidates' states are projected once (a*M), then S steps of M*N samples
    # (b*S*M*N), and the solve's time modulation once (c); the decode adds one candidate and the
    # action solve, whatever K, M and N are.
    base = flops(0, 1, 1)
    one = {(M, N): flops(1, M, N) for M, N in [(1, 1), (2, 1), (1, 2), (2, 2)]}
    it = {k: v["value"] - base["value"] for k, v in one.items()}
    assert it[(1, 1)] > 0
    fixed = 2 * it[(1, 1)] - it[(2, 1)]
    assert fixed > 0 and 2 * it[(1, 2)] - it[(2, 2)] == fixed
    assert it[(1, 2)] - it[(1, 1)] > 0 and it[(2, 2)] - it[(2, 1)] == 2 * (it[(1, 2)] - it[(1, 1)])
    assert flops(2, 1, 1)["value"] - base["value"] == 2 * it[(1, 1)]
    assert {v["action"] for v in one.values()} == {base["action"]} and base["action"] > 0
    assert {v["context"] for v in one.values()} == {base["context"]} and base["context"] > 0
    for v in one.values():
        assert v["total"] == v["context"] + v["world"] + v["value"] + v["action"] + v["other"]


def test_value_steps_scale_with_the_flow_steps():
    # Each extra flow step is one more pass of the M*N value chunks; the states' projection is not repeated.
    s2, s3, s4 = (flops(1, 2, 2, S)["value"] for S in (2, 3, 4))
    assert s4 - s3 == s3 - s2 > 0


def test_paper_preset_counts_on_the_cpu_and_lands_near_the_analytic_estimate(tmp_path, capsys):
    """Analytic expectation for one world candidate at the paper's scale: 3 views x 13 frames x 64
    tokens = 2496 tokens through 28 blocks of width 2048, 2 FLOPs per weight per token over 14 d^2
    weights a block (self-attention 4 d^2, prompt q/out 2 d^2, MLP 8 d^2) = 8.2 TFLOP, plus attention
    (0.8 TFLOP) and the adaLN projection: about 9.2 TFLOP. A plan of K=1 M=1 runs two candidates."""
    out = tmp_path / "flops.json"
    assert wav(["bench", "--preset", "paper", "--flops-only", "--rows", "1x1x1", "--S", "1",
                "--peak-tflops", "989", "--json", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    f = row["flops"]
    c, e = world_flops_per_candidate(preset("paper"))
    assert 9.0e12 < c < 9.4e12
    assert f["world"] == 2 * c + 2 * e
    assert f["value"] > 0 and f["action"] > 0 and f["context"] > 0
    assert 18e12 < f["total"] < 22e12
    assert row["floor_ms"] == floor_ms(f["total"], 989) and 18 < row["floor_ms"] < 23
    printed = capsys.readouterr().out
    assert "K=1 M=1 N=1 S=1" in printed and "floor" in printed and "989 TFLOPS" in printed
