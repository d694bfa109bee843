"""`wav demo` end to end on DDS: sim node + policy node (planning in its own process) for a short
simulated stretch; the GIF, the joint plot and the summary are written from what went over DDS."""

import json

from wav_core.model import save_model
from wav_core.planning import PlannerConfig, random_policy
from wav_ros.demo import run_demo


def test_demo_writes_gif_plot_and_summary(tmp_path):
    policy = random_policy("tiny", PlannerConfig(K=1, M=2, N=2, S=2))
    model = save_model(tmp_path / "model", policy.model, policy.card)
    assert run_demo("sim_drawer", str(model), seconds=1.5, out=str(tmp_path / "out"), wall_timeout=120,
                    domain_id=91) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (tmp_path / "out" / "top_camera.gif").stat().st_size > 0
    assert (tmp_path / "out" / "joints.png").stat().st_size > 0
    assert summary["plans"] >= 1 and summary["measured_samples"] > 100
    assert summary["sim_seconds"] >= 1.5 and set(summary["subgoals"]) == {"opened", "placed", "closed"}
    # The executor is a 200 Hz timer on the simulation's clock; with every node in one process it
    # keeps at least every other period (rcl skips a missed period rather than bunching calls).
    assert 4.9 <= summary["command_interval_sim_p50_ms"] <= 10.1
