"""`python -m wav_core.data.bench --frames`: the per-frame hot path, PIL baseline vs OpenCV."""

from __future__ import annotations

import numpy as np

from wav_core.data.bench import _pil_frame, frames, main
from wav_core.data.messages import camera_to_rgb
from wav_core.data.resize import resize_image


def test_frames_reports_both_pipelines_for_every_message_kind(capsys):
    rows = frames("tiny", repeats=2)
    assert {(r["message"], r["pipeline"]) for r in rows} == {(k, p) for k in ("rgb8", "bgr8", "jpeg") for p in ("PIL", "OpenCV")}
    assert all(r["ms_per_set"] > 0 for r in rows)
    assert main(["--frames", "--preset", "tiny", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "240x424 + 240x320 + 240x320 -> 32x32" in out and "| jpeg |" in out and "speed-up" in out


def test_the_baseline_computes_the_same_frames_up_to_the_filter():
    from rosbags.typesys import Stores, get_typestore

    T = get_typestore(Stores.ROS2_HUMBLE).types
    y, x = np.mgrid[0:240, 0:320]
    img = np.stack([x * 255 // 319, y * 255 // 239, (x + y) * 255 // 558], axis=2).astype(np.uint8)
    msg = T["sensor_msgs/msg/Image"](header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id=""),
                                     height=240, width=320, encoding="bgr8", is_bigendian=0, step=960,
                                     data=np.ascontiguousarray(img[:, :, ::-1]).reshape(-1))
    ours = resize_image(camera_to_rgb(msg, "image"), (64, 64)).astype(int)
    pil = _pil_frame(msg, "bgr8", (64, 64)).astype(int)
    assert ours.shape == pil.shape == (64, 64, 3)
    assert np.abs(ours - pil).max() <= 3  # a smooth ramp: both filters agree closely
