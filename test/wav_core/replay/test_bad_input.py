"""Bad input gets an error that says what is wrong; whatever was computed is kept, marked incomplete."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import yaml
from rosbags.rosbag2 import Reader

from wav_core.cli.main import main
from wav_core.config import ConfigError
from wav_core.data.errors import BagError
from wav_core.data.synthetic import BagSpec, write_rig_bag
from wav_core.replay import CHUNK_TOPIC, ReplayConfig, replay_bag


def _metrics(out) -> dict:
    return json.loads((out / "metrics.json").read_text())


def test_bag_without_the_configured_topics_lists_what_it_has(tmp_path, robot, rig_bag, tiny_policy):
    cams = [dataclasses.replace(robot.cameras[0], topic="/camera_top/image")] + robot.cameras[1:]
    with pytest.raises(BagError, match=r"topic /camera_top/image not in the bag; the bag has: .*/camera_h/color/image_raw"):
        replay_bag(rig_bag, tmp_path / "out", dataclasses.replace(robot, cameras=cams), tiny_policy,
                   ReplayConfig(write_predictions=False))
    m = _metrics(tmp_path / "out")
    assert m["complete"] is False and m["decisions"] == 0 and "/camera_top/image" in m["error"]


def test_unknown_storage_is_a_clear_error_and_the_cli_says_so(tmp_path, rig_bag, tiny_model, robot_yaml, capsys):
    bag = tmp_path / "odd_storage"
    shutil.copytree(rig_bag, bag)
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    meta["rosbag2_bagfile_information"]["storage_identifier"] = "hdf5"
    (bag / "metadata.yaml").write_text(yaml.safe_dump(meta))
    out = tmp_path / "out"
    rc = main(["replay", "--bag", str(bag), "--model", str(tiny_model), "--out", str(out), "--config", str(robot_yaml)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "cannot open as rosbag2" in err and str(bag) in err
    assert _metrics(out)["complete"] is False


def test_corrupt_bag_keeps_the_decisions_made_before_the_damage(tmp_path, robot, tiny_policy):
    bag = write_rig_bag(tmp_path / "damaged", robot, BagSpec(seconds=3.0))
    data_file = next(bag.glob("*.mcap"))
    data = bytearray(data_file.read_bytes())
    data[int(0.5 * len(data)) : int(0.7 * len(data))] = b"\xff" * (int(0.7 * len(data)) - int(0.5 * len(data)))
    data_file.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(BagError, match="corrupt or truncated"):
        replay_bag(bag, out, robot, tiny_policy, ReplayConfig())
    m = _metrics(out)
    assert m["complete"] is False and "corrupt or truncated" in m["error"]
    assert 0 < m["decisions"] < 60 / 8 and m["compared_steps"] > 0
    assert (out / "index.html").is_file() and "INCOMPLETE" in (out / "index.html").read_text()
    with Reader(out / "predictions") as reader:
        assert sum(c.msgcount for c in reader.connections if c.topic == CHUNK_TOPIC) == m["decisions"]


@pytest.mark.parametrize("field, change, names", [
    ("cameras", lambda r: [dataclasses.replace(c, name=f"{c.name}_rgb") for c in r.cameras], "cam_high_rgb"),
    ("arms", lambda r: [dataclasses.replace(a, name=f"arm{i}") for i, a in enumerate(r.arms)], "arm0_joint1"),
])
def test_model_that_does_not_match_the_rig_names_both_lists(tmp_path, robot, rig_bag, tiny_policy, field, change, names):
    rig = dataclasses.replace(robot, **{field: change(robot)})
    with pytest.raises(ConfigError) as info:
        replay_bag(rig_bag, tmp_path / "out", rig, tiny_policy)
    text = str(info.value)
    assert names in text and ("cam_high'" in text or "left_joint1" in text)
    assert not (tmp_path / "out").exists()  # refused before anything ran
