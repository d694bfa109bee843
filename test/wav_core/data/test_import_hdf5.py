"""ALOHA-layout HDF5 episodes (raw and JPEG-compressed frames) -> dataset."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image as PILImage

from wav_core.cli.main import main as wav
from wav_core.data.dataset import decode_frame, load_dataset
from wav_core.data.errors import DataError
from wav_core.data.import_hdf5 import import_aloha

CAMS = ("cam_high", "cam_left_wrist", "cam_right_wrist")
H, W, T = 24, 32, 12


def frames(t_count: int, seed: int) -> np.ndarray:
    """Smooth colour frames with a distinct colour per channel, so a channel swap is visible."""
    y, x = np.mgrid[0:H, 0:W]
    out = np.empty((t_count, H, W, 3), dtype=np.uint8)
    for t in range(t_count):
        out[t, ..., 0] = 200
        out[t, ..., 1] = (x * 4 + t + seed) % 120
        out[t, ..., 2] = 30 + y
    return out


def write_aloha(path: Path, compressed: bool, t_count: int = T, opencv_order: bool = True, qpos_dim: int = 14) -> dict[str, np.ndarray]:
    """Write an ALOHA episode; compressed frames are JPEG rows zero-padded to one length, with
    channels stored the way OpenCV's imencode stores an RGB array (reversed) when opencv_order."""
    imgs = {c: frames(t_count, i) for i, c in enumerate(CAMS)}
    with h5py.File(path, "w") as f:
        f.attrs["sim"] = False
        f.create_dataset("observations/qpos", data=np.linspace(0, 1, t_count * qpos_dim).reshape(t_count, qpos_dim))
        f.create_dataset("observations/qvel", data=np.zeros((t_count, qpos_dim)))
        f.create_dataset("action", data=np.linspace(1, 2, t_count * qpos_dim).reshape(t_count, qpos_dim))
        for cam, arr in imgs.items():
            if not compressed:
                f.create_dataset(f"observations/images/{cam}", data=arr, chunks=(1, H, W, 3))
                continue
            bufs = []
            for img in arr:
                b = io.BytesIO()
                PILImage.fromarray(img[..., ::-1] if opencv_order else img).save(b, format="JPEG", quality=95)
                bufs.append(np.frombuffer(b.getvalue(), dtype=np.uint8))
            rows = np.zeros((t_count, max(len(b) for b in bufs) + 100), dtype=np.uint8)
            for i, b in enumerate(bufs):
                rows[i, : len(b)] = b
            f.create_dataset(f"observations/images/{cam}", data=rows)
        if compressed:
            f.attrs["compress"] = True
    return imgs


@pytest.mark.parametrize("compressed", [False, True])
def test_raw_and_jpeg_episodes(tmp_path, compressed):
    imgs = write_aloha(tmp_path / "episode_0.hdf5", compressed)
    write_aloha(tmp_path / "episode_1.hdf5", compressed, t_count=T + 3)
    summary = import_aloha([tmp_path / "episode_0.hdf5", tmp_path / "episode_1.hdf5"], tmp_path / "ds", fps=50, instruction="fold")
    assert summary.ticks == 2 * T + 3
    ds = load_dataset(tmp_path / "ds")
    assert ds.fps == 50 and ds.cameras == list(CAMS) and ds.meta["instructions"] == ["fold"]
    assert ds.meta["cameras"][1] == {"name": "cam_left_wrist", "height": H, "width": W}
    assert [e.ticks for e in ds.episodes] == [T, T + 3] and all(e.success for e in ds.episodes)
    with h5py.File(ds.episodes[0].path) as f, h5py.File(tmp_path / "episode_0.hdf5") as src:
        np.testing.assert_allclose(f["state"][:], src["observations/qpos"][:], atol=1e-6)
        np.testing.assert_allclose(f["action"][:], src["action"][:], atol=1e-6)
        np.testing.assert_allclose(f["time"][:], np.arange(T) / 50)
        frame = decode_frame(f["images/cam_high"][5])
    # Colours survive (two JPEG generations): red stays red, the channel order is right.
    assert np.abs(frame.astype(int) - imgs["cam_high"][5]).mean() < 4


def test_standard_jpeg_encoder_keeps_channels(tmp_path):
    imgs = write_aloha(tmp_path / "e.hdf5", compressed=True, opencv_order=False)
    import_aloha([tmp_path / "e.hdf5"], tmp_path / "ds", jpeg_encoder="standard")
    with h5py.File(load_dataset(tmp_path / "ds").episodes[0].path) as f:
        frame = decode_frame(f["images/cam_left_wrist"][0])
    assert np.abs(frame.astype(int) - imgs["cam_left_wrist"][0]).mean() < 4


def test_bad_files(tmp_path):
    out = tmp_path / "ds"
    write_aloha(tmp_path / "dim.hdf5", compressed=False, qpos_dim=12)
    with pytest.raises(DataError, match=r"dim.hdf5: '/observations/qpos' has shape \(12, 12\), expected \[T, 14\]"):
        import_aloha([tmp_path / "dim.hdf5"], out)
    with h5py.File(tmp_path / "nocam.hdf5", "w") as f:
        f.create_dataset("observations/qpos", data=np.zeros((3, 14)))
        f.create_dataset("action", data=np.zeros((3, 14)))
        f.create_dataset("observations/images/cam_high", data=np.zeros((3, H, W, 3), np.uint8))
    with pytest.raises(DataError, match=r"missing '/observations/images/cam_left_wrist'; the file has cameras \['cam_high'\]"):
        import_aloha([tmp_path / "nocam.hdf5"], out)
    (tmp_path / "junk.hdf5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 50)
    with pytest.raises(DataError, match=r"junk.hdf5: not a readable HDF5 file"):
        import_aloha([tmp_path / "junk.hdf5"], out)
    with pytest.raises(DataError, match="no such file"):
        import_aloha([tmp_path / "absent.hdf5"], out)
    assert not out.exists() and not list(tmp_path.glob(".ds.tmp*"))


def test_truncated_file_after_a_good_one_leaves_nothing(tmp_path):
    write_aloha(tmp_path / "good.hdf5", compressed=True)
    write_aloha(tmp_path / "cut.hdf5", compressed=False)
    data = (tmp_path / "cut.hdf5").read_bytes()
    (tmp_path / "cut.hdf5").write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match="cut.hdf5"):
        import_aloha([tmp_path / "good.hdf5", tmp_path / "cut.hdf5"], tmp_path / "ds")
    assert not (tmp_path / "ds").exists() and not list(tmp_path.glob(".ds.tmp*"))


def test_corrupt_jpeg_frame_names_file_camera_and_frame(tmp_path):
    write_aloha(tmp_path / "e.hdf5", compressed=True)
    with h5py.File(tmp_path / "e.hdf5", "a") as f:
        f["observations/images/cam_right_wrist"][4, 30:] = 0
    with pytest.raises(DataError, match=r"e.hdf5:/observations/images/cam_right_wrist: field 'frame 4'"):
        import_aloha([tmp_path / "e.hdf5"], tmp_path / "ds")


def test_cli_import_hdf5(tmp_path, capsys):
    write_aloha(tmp_path / "e.hdf5", compressed=False)
    assert wav(["data", "import-hdf5", "--files", str(tmp_path / "e.hdf5"), "--out", str(tmp_path / "ds"), "--no-progress"]) == 0
    assert f"1 episodes, {T} ticks kept" in capsys.readouterr().out
    assert wav(["data", "import-hdf5", "--files", str(tmp_path / "e.hdf5"), "--out", str(tmp_path / "ds"), "--no-progress"]) == 2
    assert "already exists" in capsys.readouterr().err
