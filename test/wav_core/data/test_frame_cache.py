"""`wav data cache`: frames decoded and resized once, so training reads pixels instead of JPEGs;
the samples are identical with and without the cache."""

import json

import pytest
import torch

from wav_core.cli.main import main
from wav_core.data.errors import DatasetError
from wav_core.data.frame_cache import cache_paths
from wav_core.data.import_bags import import_bags
from wav_core.data.synthetic import BagSpec, write_rig_bag
from wav_core.data.torch_dataset import SampleSpec, WavDataset

SPEC = SampleSpec(image_size=(24, 32), n_history=2, history_stride=3, n_future=2, future_stride=4, action_horizon=5)


@pytest.fixture
def dataset(tmp_path, make_robot):
    robot = make_robot()
    for i in range(3):
        write_rig_bag(tmp_path / "bags" / f"ep_{i}", robot, BagSpec(seconds=0.5 + 0.25 * i))
    import_bags([tmp_path / "bags"], robot, tmp_path / "ds")
    return tmp_path / "ds"


def test_samples_are_identical_with_the_cache(dataset, capsys):
    plain = WavDataset(str(dataset), SPEC)
    assert plain.frame_cache is None
    assert main(["data", "cache", str(dataset), "--size", "24x32", "--workers", "2", "--no-progress"]) == 0
    assert "frames_24x32.npy" in capsys.readouterr().out
    cached = WavDataset(str(dataset), SPEC)
    assert cached.frame_cache is not None
    for i in (0, 7, len(plain) - 1):
        a, b = plain[i], cached[i]
        assert torch.equal(a["history"], b["history"]) and torch.equal(a["future"], b["future"])
    # A cache at another size is another file: this one is not used for 64x64 samples.
    assert WavDataset(str(dataset), SampleSpec(image_size=(64, 64))).frame_cache is None


def test_one_and_several_workers_write_the_same_cache(dataset):
    import numpy as np

    assert main(["data", "cache", str(dataset), "--size", "24x32", "--no-progress"]) == 0
    frames, _ = cache_paths(dataset, (24, 32))
    serial = np.load(frames).copy()
    assert main(["data", "cache", str(dataset), "--size", "24x32", "--workers", "3", "--no-progress"]) == 0
    np.testing.assert_array_equal(np.load(frames), serial)


def test_a_stale_cache_and_bad_sizes_are_reported(dataset, capsys):
    assert main(["data", "cache", str(dataset), "--size", "24x32", "--no-progress"]) == 0
    _, index = cache_paths(dataset, (24, 32))
    content = json.loads(index.read_text())
    content["episodes"][0]["ticks"] += 1
    index.write_text(json.dumps(content))
    with pytest.raises(DatasetError, match="frame cache built for another version of this dataset"):
        WavDataset(str(dataset), SPEC)
    assert main(["data", "cache", str(dataset), "--size", "64"]) == 2
    assert "expected HEIGHTxWIDTH" in capsys.readouterr().err
