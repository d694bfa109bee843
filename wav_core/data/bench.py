"""Import throughput: writes a three-camera 30 fps rig bag and times `import_bags` on it.
With --frames: the per-frame hot path instead (camera message -> RGB -> model size) for the rig's
three cameras, the OpenCV pipeline against the PIL one it replaced, in the same run.

    python -m wav_core.data.bench [--seconds 5] [--repeats 3]   (or `wav data bench`)
    python -m wav_core.data.bench --frames [--preset sim] [--repeats 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from ..config.robot import RobotConfig
from .import_bags import import_bags
from .synthetic import BagSpec, write_rig_bag


def run(seconds: float = 5.0, repeats: int = 3, storage: str = "mcap", config: str | None = None) -> dict[str, float]:
    if config:
        from ..config.loader import load

        robot = load(RobotConfig, config, section="robot")
    else:
        robot = RobotConfig()
    work = Path(tempfile.mkdtemp(prefix="wav-data-bench-"))
    try:
        bag = write_rig_bag(work / "bag", robot, BagSpec(seconds=seconds, storage=storage, camera_jitter_s=0.003))
        times, ticks = [], 0
        for r in range(repeats):
            out = work / f"ds{r}"
            start = time.perf_counter()
            summary = import_bags([bag], robot, out)
            times.append(time.perf_counter() - start)
            ticks = summary.ticks
            shutil.rmtree(out)
        med = statistics.median(times)
        frames = len(robot.cameras) * robot.camera_hz * seconds
        return {"ticks": ticks, "median_s": med, "ticks_per_s": ticks / med, "camera_frames_per_s": frames / med, "realtime_factor": seconds / med}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pil_frame(msg: object, kind: str, size: tuple[int, int]) -> np.ndarray:
    """The pipeline before OpenCV, kept only as this benchmark's baseline: numpy row slicing or
    PIL decoding, then PIL's antialiased bilinear resize."""
    import io

    from PIL import Image as PILImage

    if kind == "jpeg":
        with PILImage.open(io.BytesIO(np.asarray(msg.data, dtype=np.uint8).tobytes())) as img:  # type: ignore[attr-defined]
            rgb = np.array(img.convert("RGB"))
    else:
        h, w, step = int(msg.height), int(msg.width), int(msg.step)  # type: ignore[attr-defined]
        rows = np.asarray(msg.data, dtype=np.uint8).reshape(h, step)[:, : 3 * w].reshape(h, w, 3)  # type: ignore[attr-defined]
        rgb = np.ascontiguousarray(rows[:, :, ::-1] if kind == "bgr8" else rows)
    small = PILImage.fromarray(rgb).resize((size[1], size[0]), PILImage.BILINEAR)
    return np.array(small, dtype=np.uint8)


def frames(preset: str = "sim", repeats: int = 200, robot: RobotConfig | None = None) -> list[dict[str, object]]:
    """Milliseconds per camera set (every camera: message -> model-size RGB), median over
    `repeats`, for raw rgb8, raw bgr8 and JPEG messages, PIL baseline and OpenCV pipeline."""
    import io

    import cv2
    from PIL import Image as PILImage
    from rosbags.typesys import Stores, get_typestore

    from ..model.presets import preset as model_preset
    from .messages import camera_to_rgb
    from .resize import resize_image

    robot = robot or RobotConfig()
    size = tuple(model_preset(preset).image_size)
    T = get_typestore(Stores.ROS2_HUMBLE).types
    rng = np.random.default_rng(0)
    scenes = []
    for cam in robot.cameras:
        noise = rng.integers(0, 256, size=(cam.height // 8, cam.width // 8, 3), dtype=np.uint8)
        scenes.append(cv2.resize(noise, (cam.width, cam.height), interpolation=cv2.INTER_CUBIC))
    header = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id="cam")

    def message(img: np.ndarray, kind: str) -> tuple[object, str]:
        if kind == "jpeg":
            buf = io.BytesIO()
            PILImage.fromarray(img).save(buf, format="JPEG", quality=90)
            data = np.frombuffer(buf.getvalue(), dtype=np.uint8)
            return T["sensor_msgs/msg/CompressedImage"](header=header, format="jpeg", data=data), "compressed"
        pixels = img if kind == "rgb8" else img[:, :, ::-1]
        return (T["sensor_msgs/msg/Image"](header=header, height=img.shape[0], width=img.shape[1], encoding=kind, is_bigendian=0,
                                           step=3 * img.shape[1], data=np.ascontiguousarray(pixels).reshape(-1)), "image")

    rows = []
    for kind in ("rgb8", "bgr8", "jpeg"):
        msgs = [message(img, kind) for img in scenes]
        paths = {
            "PIL": lambda: [_pil_frame(m, kind, size) for m, _ in msgs],
            "OpenCV": lambda: [resize_image(camera_to_rgb(m, t), size) for m, t in msgs],
        }
        times: dict[str, list[float]] = {name: [] for name in paths}
        for name, run_once in paths.items():
            run_once()  # warm up
        for _ in range(repeats):  # alternate, so load from other processes hits both alike
            for name, run_once in paths.items():
                start = time.perf_counter()
                run_once()
                times[name].append(time.perf_counter() - start)
        rows += [{"message": kind, "pipeline": name, "ms_per_set": 1e3 * statistics.median(t)} for name, t in times.items()]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", action="store_true", help="time the per-frame conversion + resize instead of the import")
    p.add_argument("--preset", default="sim", help="--frames: model preset whose image size frames are resized to")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--repeats", type=int, default=None, help="default 3 (import) or 200 (--frames)")
    p.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    p.add_argument("--config", default=None)
    a = p.parse_args(argv)
    if a.frames:
        return _print_frames(a)
    repeats = a.repeats or 3
    r = run(a.seconds, repeats, a.storage, a.config)
    print(f"import: {r['ticks']} ticks in {r['median_s']:.3f} s (median of {repeats}): {r['ticks_per_s']:.1f} ticks/s, "
          f"{r['camera_frames_per_s']:.1f} camera frames/s read, {r['realtime_factor']:.2f}x real time")
    return 0



def _print_frames(a: argparse.Namespace) -> int:
    import platform

    from ..config.loader import load
    from ..model.presets import preset as model_preset
    from .messages import image_backend

    robot = load(RobotConfig, a.config, section="robot") if a.config else RobotConfig()
    repeats = a.repeats or 200
    rows = frames(a.preset, repeats, robot)
    cams = " + ".join(f"{c.height}x{c.width}" for c in robot.cameras)
    size = model_preset(a.preset).image_size
    cpu = platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"per camera set ({cams} -> {size[0]}x{size[1]}, preset {a.preset}), median of {repeats}; "
          f"image backend {image_backend()}; {cpu}, {os.cpu_count()} cores")
    print("| message | PIL ms | OpenCV ms | speed-up |")
    print("|---|---|---|---|")
    by = {(r["message"], r["pipeline"]): r["ms_per_set"] for r in rows}
    for kind in ("rgb8", "bgr8", "jpeg"):
        pil, cv = by[(kind, "PIL")], by[(kind, "OpenCV")]
        print(f"| {kind} | {pil:.3f} | {cv:.3f} | {pil / cv:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
