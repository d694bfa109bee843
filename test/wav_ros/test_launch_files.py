"""The launch files start the rig's two robot models: robot_state_publisher on the measured joints
(relayed to /joint_states) and one under commanded/ on the policy's commanded pose, rooted at
base_link, both from wav_ros/rig_view_launch.py. launch_ros is not installed everywhere, so the files
are read as Python syntax: every Node(...) call with its package, executable, namespace, parameters
and remappings, including those of the helper a launch file calls."""

import ast
from pathlib import Path

import pytest

from wav_ros.joint_state_relay import OUTPUT_TOPIC
from wav_ros.run_record import PLAN_VIEW_TOPICS, POLICY_NODE

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = sorted((ROOT / "launch").glob("*.launch.py"))
RIG_VIEW = ROOT / "wav_ros" / "rig_view_launch.py"
COMMANDED_TOPIC = f"/{POLICY_NODE}/{PLAN_VIEW_TOPICS[1]}"


def literal(node):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None  # a substitution (LaunchConfiguration, a variable): not a literal


def launched_nodes(path: Path) -> list[dict]:
    """Every Node / LifecycleNode call of a launch file (and of rig_view_nodes when it calls that)
    with its literal keyword arguments; the keys of parameter dicts are kept even where their values
    are substitutions."""
    nodes = _node_calls(path)
    if path != RIG_VIEW and "rig_view_nodes(" in path.read_text():
        nodes += _node_calls(RIG_VIEW)
    return nodes


def _node_calls(path: Path) -> list[dict]:
    nodes = []
    for call in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in ("Node", "LifecycleNode")):
            continue
        node = {"parameters": {}, "remappings": [], "namespace": "", "arguments": []}
        for kw in call.keywords:
            if kw.arg == "parameters":
                for d in kw.value.elts:
                    node["parameters"].update({literal(k): literal(v) if literal(v) is not None else ast.unparse(v)
                                               for k, v in zip(d.keys, d.values)})
            else:
                node[kw.arg] = literal(kw.value) if literal(kw.value) is not None else ast.unparse(kw.value)
        nodes.append(node)
    return nodes


def one(nodes, **match):
    found = [n for n in nodes if all(n.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one node with {match}, found {len(found)}: {nodes}"
    return found[0]


@pytest.mark.parametrize("path", LAUNCH, ids=lambda p: p.name)
def test_both_robot_models_are_published_from_the_shipped_urdf(path):
    nodes = launched_nodes(path)
    assert '"urdf", "piper_dual.urdf"' in RIG_VIEW.read_text() and (ROOT / "urdf" / "piper_dual.urdf").is_file()
    relay = one(nodes, package="wav_ros", executable="joint_state_relay")
    assert relay["parameters"]["config_file"] == "config"  # the launch file's config_file argument
    publishers = [n for n in nodes if n["package"] == "robot_state_publisher"]
    assert len(publishers) == 2
    measured = one(publishers, namespace="")
    # robot_state_publisher subscribes joint_states: the relay's output, unremapped.
    assert measured["remappings"] == [] and OUTPUT_TOPIC == "/joint_states"
    assert measured["parameters"]["robot_description"] == "robot_description"
    assert "frame_prefix" not in measured["parameters"]
    commanded = one(publishers, namespace="commanded")
    assert commanded["remappings"] == [("joint_states", COMMANDED_TOPIC)]
    assert commanded["parameters"]["frame_prefix"] == "commanded/"
    assert commanded["parameters"]["robot_description"] == "robot_description"
    root = one(nodes, package="tf2_ros", executable="static_transform_publisher")
    assert root["arguments"] == ["--frame-id", "base_link", "--child-frame-id", "commanded/base_link"]


@pytest.mark.parametrize("path", LAUNCH, ids=lambda p: p.name)
def test_the_model_input_images_can_be_switched_on(path):
    policy = one(launched_nodes(path), executable="policy_node")
    assert "debug_images" in policy["parameters"] and 'DeclareLaunchArgument("debug_images"' in path.read_text()


@pytest.mark.parametrize("path", LAUNCH + [RIG_VIEW], ids=lambda p: p.name)
def test_every_started_node_is_in_the_launch_description(path):
    """A node built but left out of the returned LaunchDescription (or the helper's returned list)
    would silently not run; each launch file returns the helper's nodes."""
    tree = ast.parse(path.read_text(), str(path))
    names = {t.id for a in ast.walk(tree) if isinstance(a, ast.Assign) and isinstance(a.value, ast.Call)
             and isinstance(a.value.func, ast.Name) and a.value.func.id in ("Node", "LifecycleNode") for t in a.targets}
    returned = next(r for r in ast.walk(tree) if isinstance(r, ast.Return))
    listed = {n.id for n in ast.walk(returned) if isinstance(n, ast.Name)}
    assert names and names <= listed, f"built but not launched: {names - listed}"
    if path != RIG_VIEW:
        assert "rig_view_nodes" in listed, f"{path.name}: the rig's robot models are not launched"
