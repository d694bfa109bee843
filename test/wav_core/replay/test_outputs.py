"""`wav replay` end to end: a recorded rig bag and a tiny model give every promised output."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

from wav_core.cli.main import main
from wav_core.data.synthetic import T0_NS
from wav_core.model import load_card
from wav_core.replay import CHUNK_TOPIC, CHUNK_TYPE, PLAN_INFO_TOPIC, PLAN_INFO_TYPE

KEYS = {"decisions", "per_joint_mae", "per_joint_rmse", "mae_by_horizon", "gripper_mae_by_horizon",
        "gripper_agreement", "plan_latency_ms", "value_total", "snr", "complete", "bag", "model", "seed", "planner",
        "replan_after", "action_source", "decision_ticks"}


def test_replay_writes_metrics_plots_html_and_predictions_bag(tmp_path, rig_bag, tiny_model, robot_yaml, robot):
    out = tmp_path / "replay"
    rc = main(["replay", "--bag", str(rig_bag), "--model", str(tiny_model), "--out", str(out),
               "--config", str(robot_yaml), "--K", "1", "--M", "2", "--N", "2", "--S", "2", "--seed", "3"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert KEYS <= set(m)
    card = load_card(tiny_model)
    horizon = card.config.action_horizon  # 8 ticks: 40 ticks -> decisions at 0, 8, ..., 32
    assert m["complete"] is True and m["error"] is None
    assert m["action_source"] == "command" and m["instruction"] == "open the drawer"
    assert m["decision_ticks"] == [0, 8, 16, 24, 32] and m["decisions"] == 5
    assert list(m["per_joint_mae"]) == card.joints and list(m["per_joint_rmse"]) == card.joints
    assert all(v > 0 for v in m["per_joint_mae"].values())  # random weights do not match the recording
    assert all(m["per_joint_rmse"][j] >= m["per_joint_mae"][j] for j in card.joints)
    assert len(m["mae_by_horizon"]) == horizon and m["compared_steps"] == 5 * horizon
    assert set(m["gripper_agreement"]) == {"left_gripper", "right_gripper", "all"}
    assert 0.0 <= m["gripper_agreement"]["all"] <= 1.0
    assert len(m["value_total"]) == len(m["snr"]) == 5
    assert m["planner"]["K"] == 1 and m["seed"] == 3
    assert m["plan_latency_ms"]["p90"] >= m["plan_latency_ms"]["median"] > 0
    timing = json.loads((out / "timing.json").read_text())
    assert len(timing["plan_latency_ms_each"]) == 5 and timing["bag_s"] == 2.0

    for png in ("joints.png", "error_vs_horizon.png", "value_snr.png"):
        with Image.open(out / png) as img:
            assert img.format == "PNG" and img.width > 100
    page = (out / "index.html").read_text()
    assert all(f'src="{png}"' in page for png in ("joints.png", "error_vs_horizon.png", "value_snr.png"))
    assert "left_joint1" in page and f"{m['per_joint_mae']['left_joint1']:.4g}" in page

    ts = get_typestore(Stores.ROS2_HUMBLE)
    with Reader(rig_bag) as source:
        inputs = {c.topic: c.msgcount for c in source.connections}
    with Reader(out / "predictions") as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        assert types[CHUNK_TOPIC] == CHUNK_TYPE and types[PLAN_INFO_TOPIC] == PLAN_INFO_TYPE
        assert set(inputs) <= set(types)  # every input topic is copied
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert all(counts[t] == n for t, n in inputs.items())
        chunks, infos = [], []
        planned = [c for c in reader.connections if c.topic in (CHUNK_TOPIC, PLAN_INFO_TOPIC)]
        for conn, log_ns, raw in reader.messages(connections=planned):
            msg = ts.deserialize_cdr(raw, conn.msgtype)
            (chunks if conn.topic == CHUNK_TOPIC else infos).append((log_ns, msg))
    assert len(chunks) == len(infos) == m["decisions"]
    period_ns = 1_000_000_000 // 20
    for k, ((log_ns, chunk), (_, info)) in enumerate(zip(chunks, infos)):
        stamp = chunk.header.stamp.sec * 1_000_000_000 + chunk.header.stamp.nanosec
        assert stamp == log_ns == T0_NS + m["decision_ticks"][k] * period_ns
        assert list(chunk.joint_names) == card.joints and len(chunk.points) == horizon
        steps = [p.time_from_start.sec + p.time_from_start.nanosec / 1e9 for p in chunk.points]
        np.testing.assert_allclose(steps, np.arange(horizon) / 20.0)
        assert all(len(p.positions) == 14 and np.all(np.isfinite(p.positions)) for p in chunk.points)
        info = json.loads(info.data)
        assert info["decision"] == k and info["snr"] == m["snr"][k] and info["seed"] == m["decision_seeds"][k]
        assert info["iterations"] == 1 and len(info["iteration_best_snr"]) == 1
