"""A frame cache holds `resize_image` output; one made with another resize filter is stale, because
its pixels would no longer be what the live node feeds the model."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from wav_core.data.dataset import decode_frame, load_dataset
from wav_core.data.errors import DatasetError
from wav_core.data.frame_cache import build_frame_cache, cache_paths, open_frame_cache
from wav_core.data.import_bags import import_bags
from wav_core.data.resize import RESIZE_METHOD, resize_image
from wav_core.data.synthetic import BagSpec, write_rig_bag

SIZE = (24, 32)


@pytest.fixture
def dataset(tmp_path, make_robot):
    robot = make_robot()
    write_rig_bag(tmp_path / "bags" / "ep_0", robot, BagSpec(seconds=0.5))
    import_bags([tmp_path / "bags"], robot, tmp_path / "ds")
    return tmp_path / "ds"


def test_cached_frames_are_resize_image_output(dataset):
    build_frame_cache(dataset, SIZE)
    data = load_dataset(dataset)
    cache = open_frame_cache(dataset, data, SIZE)
    episode = data.episodes[0]
    with h5py.File(episode.path, "r") as f:
        for cam in data.cameras:
            frame = resize_image(decode_frame(f[f"images/{cam}"][3]), SIZE)
            np.testing.assert_array_equal(cache.frame(0, cam, 3), frame)


@pytest.mark.parametrize("recorded, named", [(None, "PIL bilinear"), ("pil-bilinear", "pil-bilinear")])
def test_a_cache_from_another_resize_filter_is_stale(dataset, recorded, named):
    build_frame_cache(dataset, SIZE)
    _, index_path = cache_paths(dataset, SIZE)
    index = json.loads(index_path.read_text())
    assert index["resize"] == RESIZE_METHOD
    if recorded is None:
        del index["resize"]  # what caches made before the filter was recorded look like
    else:
        index["resize"] = recorded
    index_path.write_text(json.dumps(index))
    data = load_dataset(dataset)
    with pytest.raises(DatasetError) as err:
        open_frame_cache(dataset, data, SIZE)
    text = str(err.value)
    assert "stale frame cache" in text and named in text and RESIZE_METHOD in text
    assert f"wav data cache {dataset} --size 24x32" in text
    build_frame_cache(dataset, SIZE)  # rebuilding makes it current again
    assert open_frame_cache(dataset, data, SIZE) is not None
