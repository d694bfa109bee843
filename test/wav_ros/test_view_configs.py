"""config/wav_plan.rviz and config/foxglove_layout.json show only topics the nodes really publish,
with the types the displays expect, and the cameras of the shipped rig configs.

The topics come from a live graph: the simulated rig, the policy node (debug_images on) and the joint
state relay started from config/sim_drawer.yaml, plus what the launch files' robot_state_publishers
publish (read from the launch files). Renaming a topic in a node breaks this test."""

import importlib.util
import json
import os
import re
import time
from pathlib import Path

import pytest
import yaml

from wav_core.config import RobotConfig, load

ROOT = Path(__file__).resolve().parents[2]
RVIZ = ROOT / "config" / "wav_plan.rviz"
FOXGLOVE = ROOT / "config" / "foxglove_layout.json"
RIG_CONFIGS = [ROOT / "config" / "sim_drawer.yaml", ROOT / "config" / "piper_drawer.yaml"]
RVIZ_TYPES = {"rviz_default_plugins/RobotModel": "std_msgs/msg/String",
              "rviz_default_plugins/MarkerArray": "visualization_msgs/msg/MarkerArray",
              "rviz_default_plugins/Image": "sensor_msgs/msg/Image"}


def _launch_reader():
    spec = importlib.util.spec_from_file_location("launch_reader", Path(__file__).with_name("test_launch_files.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.launched_nodes


def state_publisher_topics() -> dict[str, str]:
    """What the launch files' robot_state_publishers publish: <namespace>/robot_description and TF."""
    out = {"/tf": "tf2_msgs/msg/TFMessage", "/tf_static": "tf2_msgs/msg/TFMessage"}
    for path in sorted((ROOT / "launch").glob("*.launch.py")):
        for node in _launch_reader()(path):
            if node["package"] == "robot_state_publisher":
                ns = node["namespace"].strip("/")
                out[f"/{ns}/robot_description" if ns else "/robot_description"] = "std_msgs/msg/String"
    return out


@pytest.fixture(scope="module")
def published():
    """topic -> type of everything the sim rig's nodes and the launch files' state publishers publish."""
    from rclpy.parameter import Parameter

    from wav_core.planning import PlannerConfig, random_policy
    from wav_core.runtime.config import PolicyConfig
    from wav_ros.joint_state_relay import JointStateRelay
    from wav_ros.launcher import config_path
    from wav_ros.session import Session

    path = config_path("sim_drawer")
    cfg = load(PolicyConfig, path, section="policy")
    cfg.planner_process = False
    policy = random_policy("tiny", PlannerConfig(K=1, M=2, N=2, S=2))
    with Session("sim_drawer", domain_id=201 + os.getpid() % 30, policy_cfg=cfg, policy=policy,
                 parameter_overrides=[Parameter("debug_images", value=True)]) as s:
        relay = JointStateRelay(str(path), context=s.context)
        try:
            s.start()
            expected = {f"/wav_policy/model_input/{c}" for c in s.policy.policy.cfg.views} | {"/joint_states"}
            deadline = time.monotonic() + 30
            while True:
                graph = {t: types[0] for t, types in relay.get_topic_names_and_types()}
                if expected <= set(graph) or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        finally:
            relay.destroy_node()
    return {**graph, **state_publisher_topics()}


def rviz_displays() -> list[dict]:
    return yaml.safe_load(RVIZ.read_text())["Visualization Manager"]["Displays"]


def display_topic(d: dict) -> str | None:
    topic = d.get("Topic") or d.get("Description Topic")
    return topic["Value"] if topic else None


def foxglove_topics() -> set[str]:
    """Every topic the layout names: any string (or key: the 3D panel's topics) starting with '/', up
    to a message path's first '.'."""
    found = set()

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str) and x.startswith("/"):
            found.add(x.split(".")[0])

    walk(json.loads(FOXGLOVE.read_text()))
    return found


def test_every_rviz_display_shows_a_published_topic_of_its_type(published):
    displays = [d for d in rviz_displays() if display_topic(d)]
    assert {d["Class"] for d in displays} == set(RVIZ_TYPES)
    for d in displays:
        topic = display_topic(d)
        assert topic in published, f"{RVIZ.name}: display {d['Name']!r} shows {topic}, which no node publishes"
        assert published[topic] == RVIZ_TYPES[d["Class"]], f"{d['Name']}: {topic} is a {published[topic]}"
    assert yaml.safe_load(RVIZ.read_text())["Visualization Manager"]["Global Options"]["Fixed Frame"] == "base_link"


def test_the_commanded_robot_model_uses_the_launch_files_frame_prefix():
    prefixes = {n["parameters"].get("frame_prefix") for p in (ROOT / "launch").glob("*.launch.py")
                for n in _launch_reader()(p) if n["package"] == "robot_state_publisher"} - {None}
    assert prefixes == {"commanded/"}
    models = {display_topic(d): d["TF Prefix"] for d in rviz_displays() if d["Class"].endswith("RobotModel")}
    assert models == {"/robot_description": "", "/commanded/robot_description": "commanded"}
    layers = json.loads(FOXGLOVE.read_text())["configById"]["3D!plan"]["layers"]
    urdfs = {la["topic"]: la["framePrefix"] for la in layers.values() if la["layerId"] == "foxglove.Urdf"}
    assert urdfs == {"/robot_description": "", "/commanded/robot_description": "commanded/"}


def test_every_foxglove_topic_is_published(published):
    topics = foxglove_topics()
    assert "/wav_policy/plan_markers" in topics and "/diagnostics" in topics
    missing = sorted(topics - set(published))
    assert not missing, f"{FOXGLOVE.name} names topics no node publishes: {missing}"
    config = json.loads(FOXGLOVE.read_text())["configById"]
    for panel, c in config.items():
        if panel.startswith("Image!"):
            assert published[c["imageMode"]["imageTopic"]] == "sensor_msgs/msg/Image"
    assert all(published[t] == "visualization_msgs/msg/MarkerArray" for t in config["3D!plan"]["topics"])


@pytest.mark.parametrize("rig", RIG_CONFIGS, ids=lambda p: p.name)
def test_the_cameras_are_the_rigs_cameras(rig):
    robot = load(RobotConfig, rig, section="robot")
    cams = {(c.name, c.topic) for c in robot.cameras}
    shown = {(d["Name"], display_topic(d)) for d in rviz_displays()
             if d["Class"].endswith("/Image") and d["Enabled"]}
    assert shown == cams
    model_input = {(d["Name"], display_topic(d)) for d in rviz_displays() if d["Class"].endswith("/Image") and not d["Enabled"]}
    assert model_input == {(f"model input {c.name}", f"/wav_policy/model_input/{c.name}") for c in robot.cameras}
    config = json.loads(FOXGLOVE.read_text())["configById"]
    images = {(p.split("!", 1)[1], c["imageMode"]["imageTopic"]) for p, c in config.items() if p.startswith("Image!")}
    assert images == cams


@pytest.mark.parametrize("rig", RIG_CONFIGS, ids=lambda p: p.name)
def test_the_plot_compares_the_same_joint(rig):
    """Each plotted position index names the joint its label says, measured and commanded alike."""
    robot = load(RobotConfig, rig, section="robot")
    feedback = {a.feedback_topic: [f"{a.name}_{j}" for j in a.joint_names] for a in robot.arms}
    order = {"/wav_policy/commanded_joint_states": robot.joint_names, **feedback}
    paths = json.loads(FOXGLOVE.read_text())["configById"]["Plot!joints"]["paths"]
    assert len(paths) >= 4
    for p in paths:
        topic, k = re.fullmatch(r"(/[\w/]+)\.position\[(\d+)\]", p["value"]).groups()
        assert order[topic][int(k)] == p["label"].split()[0], p
