"""Training samples: windows, clamping, padding, the dataset's validation and a seeded loader."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
from wav_test_support import small_robot

from wav_core.config.loader import ConfigError
from wav_core.data.errors import DatasetError
from wav_core.data.import_bags import import_bags
from wav_core.data.import_hdf5 import import_aloha
from wav_core.data.keyframes import approaching_grasp, gripper_thresholds
from wav_core.data.synthetic import BagSpec, write_rig_bag
from wav_core.data.torch_dataset import SampleSpec, WavDataset, make_loader
from wav_core.training.run_config import load_run_config
from wav_core.training.sampler import StepBatchSampler

CAMS = ("cam_high", "cam_left_wrist", "cam_right_wrist")


def level(cam: int, t: int) -> int:
    """Grey level of camera `cam` at tick t: every frame is uniform, so samples reveal their ticks."""
    return 20 + 10 * t + 3 * cam


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("wavds")
    files = []
    for e, n in enumerate((10, 6)):
        path = root / f"episode_{e}.hdf5"
        with h5py.File(path, "w") as f:
            f.create_dataset("observations/qpos", data=np.arange(n * 14, dtype=float).reshape(n, 14) + 1000 * e)
            f.create_dataset("action", data=-np.arange(n * 14, dtype=float).reshape(n, 14))
            for c, cam in enumerate(CAMS):
                f.create_dataset(f"observations/images/{cam}", data=np.stack([np.full((20, 24, 3), level(c, t), np.uint8) for t in range(n)]))
        files.append(path)
    import_aloha(files, root / "ds", fps=10, instruction="stack")
    return root / "ds"


def grey(frames: torch.Tensor) -> np.ndarray:
    """[..., 3, h, w] in [0, 1] -> grey levels 0..255 per frame."""
    return (frames.mean(dim=(-3, -2, -1)) * 255).numpy()


def test_sample_windows_and_padding(dataset_dir):
    spec = SampleSpec(image_size=(8, 12), n_history=3, history_stride=2, n_future=2, future_stride=3, action_horizon=5)
    ds = WavDataset(str(dataset_dir), spec)
    assert len(ds) == 16
    s = ds[1]  # episode 0, tick 1
    assert s["history"].shape == (3, 3, 3, 8, 12) and s["history"].dtype == torch.float32
    assert s["future"].shape == (3, 2, 3, 8, 12)
    assert 0.0 <= s["history"].min() and s["history"].max() <= 1.0
    np.testing.assert_allclose(grey(s["history"][0]), [level(0, t) for t in (0, 0, 1)], atol=1.5)  # clamped at 0
    np.testing.assert_allclose(grey(s["future"][2]), [level(2, t) for t in (4, 7)], atol=1.5)
    assert s["episode"] == 0 and s["tick"] == 1 and s["instruction"] == "stack"
    np.testing.assert_array_equal(s["state"], np.arange(14, 28, dtype=np.float32))

    last = ds[10 + 4]  # episode 1 (6 ticks), tick 4
    np.testing.assert_allclose(grey(last["future"][1]), [level(1, 5), level(1, 5)], atol=1.5)  # clamped at the end
    assert last["actions"].shape == (5, 14) and last["values"].shape == (5, 17)
    np.testing.assert_array_equal(last["actions"][:, 0], -np.array([4, 5, 5, 5, 5]) * 14.0)  # repeats the last
    assert torch.equal(last["values"][2], last["values"][4])
    assert last["state"][0] == 1000 + 4 * 14


def test_camera_order_and_unknown_camera(dataset_dir):
    ds = WavDataset(str(dataset_dir), SampleSpec(image_size=(8, 8), cameras=["cam_right_wrist", "cam_high"]))
    s = ds[3]
    assert s["history"].shape[0] == 2
    assert grey(s["history"][0])[-1] == pytest.approx(level(2, 3), abs=1.5)
    with pytest.raises(DatasetError, match=r"cameras \['cam_low'\] not in the dataset"):
        WavDataset(str(dataset_dir), SampleSpec(cameras=["cam_low"]))


def test_seeded_loader_with_workers_is_reproducible(dataset_dir):
    ds = WavDataset(str(dataset_dir), SampleSpec(image_size=(8, 8), n_history=2, n_future=1, action_horizon=4))

    def order(seed):
        return [(b["episode"].tolist(), b["tick"].tolist()) for b in make_loader(ds, batch_size=4, num_workers=2, seed=seed)]

    first = order(7)
    assert first == order(7) and first != order(8)
    batch = next(iter(make_loader(ds, batch_size=4, num_workers=0, seed=7)))
    assert batch["history"].shape == (4, 3, 2, 3, 8, 8) and len(batch["instruction"]) == 4


def test_load_dataset_errors(dataset_dir, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(dataset_dir, bad)
    meta = json.loads((bad / "meta.json").read_text())
    meta["episodes"][1]["ticks"] = 99
    (bad / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="episode_000001.h5: has 6 ticks, meta.json says 99"):
        WavDataset(str(bad))
    meta["episodes"][1]["ticks"] = 6
    (bad / "meta.json").write_text(json.dumps(meta))
    with h5py.File(bad / "episodes" / "episode_000000.h5", "a") as f:
        del f["value"]
    with pytest.raises(DatasetError, match="episode_000000.h5: missing dataset '/value'"):
        WavDataset(str(bad))
    (bad / "stats.json").unlink()
    with pytest.raises(DatasetError, match="stats.json: missing"):
        WavDataset(str(bad))
    with pytest.raises(DatasetError, match="not a dataset directory"):
        WavDataset(str(tmp_path / "nothing"))


@pytest.fixture(scope="module")
def mixed_dir(tmp_path_factory):
    """Three recorded episodes, the middle one failed (as summary.json says)."""
    root = tmp_path_factory.mktemp("mixed")
    robot = small_robot()
    for i in range(3):
        write_rig_bag(root / "bags" / f"episode_{i:04d}", robot, BagSpec(seconds=0.6, seed=i))
    (root / "bags" / "summary.json").write_text(json.dumps({"per_episode": [
        {"bag": f"episode_{i:04d}", "success": i != 1, "subgoals": {"grasped": True, "placed": i != 1},
         "quality": {"mode": "drop" if i == 1 else "expert"}} for i in range(3)]}))
    import_bags([root / "bags"], robot, root / "ds")
    return root / "ds"


def test_action_stage_samples_successful_episodes_unless_told_all(mixed_dir):
    ds = WavDataset(str(mixed_dir), SampleSpec(image_size=(8, 8)))
    assert [e.success for e in ds.data.episodes] == [True, False, True]
    everything = list(range(len(ds)))
    failed = {i for i, (episode, _) in enumerate(ds.index) if episode == 1}
    for stage in ("tokenizer", "world", "value"):
        assert ds.stage_samples(stage, "success") == everything, "the value learns from failures too"
    action = ds.stage_samples("action", "success")
    assert failed and set(action) == set(everything) - failed
    assert ds.stage_samples("action", "all") == everything

    drawn = [i for batch in StepBatchSampler(action, 4, 0, "action", 0, 30) for i in batch]
    assert not set(drawn) & failed and len(set(drawn)) >= len(action) - 3
    assert {ds[i]["episode"] for i in drawn[:6]} <= {0, 2}
    with_failures = [i for batch in StepBatchSampler(everything, 4, 0, "action", 0, 30) for i in batch]
    assert set(with_failures) & failed
    assert list(StepBatchSampler(everything, 4, 0, "action", 0, 30)) == list(StepBatchSampler(len(ds), 4, 0, "action", 0, 30)), \
        "drawing from every sample gives the batches of a plain size"


def test_action_episodes_is_validated(mixed_dir, tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text("train:\n  action_episodes: failures\n")
    with pytest.raises(ConfigError, match=r"train.action_episodes: got 'failures', expected one of \['success', 'all'\]"):
        load_run_config(run)
    run.write_text("train:\n  action_episodes: all\n")
    assert load_run_config(run).train.action_episodes == "all" and load_run_config(None).train.action_episodes == "success"
    ds = WavDataset(str(mixed_dir), SampleSpec(image_size=(8, 8)))
    with pytest.raises(ConfigError, match=r"train.action_episodes: got 'some'"):
        ds.stage_samples("action", "some")


def test_action_stage_refuses_a_dataset_without_successes(mixed_dir, tmp_path):
    import shutil

    failed = tmp_path / "failed"
    shutil.copytree(mixed_dir, failed)
    meta = json.loads((failed / "meta.json").read_text())
    for ep in meta["episodes"]:
        ep["success"] = False
    (failed / "meta.json").write_text(json.dumps(meta))
    ds = WavDataset(str(failed), SampleSpec(image_size=(8, 8)))
    with pytest.raises(DatasetError, match=r"no successful episode for the action stage.*train.action_episodes: all"):
        ds.stage_samples("action", "success")
    assert len(ds.stage_samples("action", "all")) == len(ds)


def test_a_sample_carries_each_arms_next_keyframe(dataset_dir):
    ds = WavDataset(str(dataset_dir), SampleSpec(image_size=(8, 12)))
    with h5py.File(ds.data.episodes[0].path) as f:
        state = f["state"][:]
    for i in range(ds.data.episodes[0].ticks):
        sample = ds[i]
        key = sample["keyframe"].numpy()
        assert sample["success"] is ds.data.episodes[0].success
        assert key.shape == (14,) and key.dtype == np.float32
        # every arm's target is that arm's state at a tick after i (or the last tick)
        for arm in (slice(0, 7), slice(7, 14)):
            ticks = [k for k in range(len(state)) if np.allclose(state[k, arm], key[arm])]
            assert ticks and max(ticks) >= min(i + 1, len(state) - 1)


def test_a_sample_says_which_arms_approach_a_grasp(dataset_dir):
    ds = WavDataset(str(dataset_dir), SampleSpec(image_size=(8, 12)))
    with h5py.File(ds.data.episodes[0].path) as f:
        action = f["action"][:]
    expected = approaching_grasp(action, gripper_thresholds(ds.data.stats["action"]))
    got = np.stack([ds[i]["approach"].numpy() for i in range(ds.data.episodes[0].ticks)])
    assert got.shape == (len(action), 2) and got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
