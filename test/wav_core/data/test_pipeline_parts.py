"""Smaller public pieces: resizing for the model, the `data:` config section, bag replay, bench."""

from __future__ import annotations

import numpy as np
import pytest

from wav_core.cli.main import main as wav
from wav_core.config.loader import ConfigError
from wav_core.data.bags import open_bag
from wav_core.data.config import DataConfig, load_data_config
from wav_core.data.replay import BagReplay
from wav_core.data.resize import model_frame, resize_image
from wav_core.data.synthetic import BagSpec, write_rig_bag


def test_resize_and_model_frame():
    img = np.zeros((48, 64, 3), dtype=np.uint8)
    img[:, 32:] = 255
    small = resize_image(img, (12, 16))
    assert small.shape == (12, 16, 3) and small[0, 0, 0] == 0 and small[0, -1, 0] == 255
    assert resize_image(img, (48, 64)) is img
    x = model_frame(img, (12, 16))
    assert x.shape == (3, 12, 16) and x.dtype == np.float32 and x.max() == 1.0
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        resize_image(np.zeros((4, 4), np.uint8), (2, 2))
    with pytest.raises(ValueError, match="positive"):
        resize_image(img, (0, 5))


def test_data_section_is_optional_and_strict(tmp_path):
    assert load_data_config(None) == DataConfig()
    yaml = tmp_path / "rig.yaml"
    yaml.write_text("robot: {}\n")
    assert load_data_config(yaml) == DataConfig()
    yaml.write_text("data:\n  jpeg_quality: 80\n  value: {discount: 0.99, scaling: none}\n  reward: {image_size: [32, 48], grayscale: true}\n")
    cfg = load_data_config(yaml)
    assert cfg.jpeg_quality == 80 and cfg.value.discount == 0.99 and cfg.reward.image_size == (32, 48)
    yaml.write_text("data:\n  jpeg_qualty: 80\n")
    with pytest.raises(ConfigError, match=r"rig.yaml: data.jpeg_qualty: unknown key"):
        load_data_config(yaml)


def test_bag_replay_yields_observations_with_actions_and_instruction(tmp_path, make_robot):
    robot = make_robot()
    bag_dir = write_rig_bag(tmp_path / "bag", robot, BagSpec(seconds=1.0, instruction="close the drawer"))
    with open_bag(bag_dir) as bag:
        replay = BagReplay(bag, robot)
        ticks = list(replay)
    assert 18 <= len(ticks) <= 20 and not replay.dropped_ticks
    assert replay.instruction == "close the drawer" and replay.action_source == "command"
    times = [t.observation.time_ns for t in ticks]
    assert times[0] == replay.start_ns and np.all(np.diff(times) == 50_000_000)
    assert ticks[3].action.shape == (14,) and set(ticks[3].observation.images) == set(robot.camera_names)
    with open_bag(bag_dir) as bag:
        assert BagReplay(bag, robot, use_commands=False).action_source == "feedback"


def test_bench_command_prints_throughput(capsys):
    assert wav(["data", "bench", "--seconds", "0.5", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "ticks/s" in out and "camera frames/s" in out
