"""Import throughput: writes a three-camera 30 fps rig bag and times `import_bags` on it.

    python -m wav_core.data.bench [--seconds 5] [--repeats 3]   (or `wav data bench`)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    p.add_argument("--config", default=None)
    a = p.parse_args(argv)
    r = run(a.seconds, a.repeats, a.storage, a.config)
    print(f"import: {r['ticks']} ticks in {r['median_s']:.3f} s (median of {a.repeats}): {r['ticks_per_s']:.1f} ticks/s, "
          f"{r['camera_frames_per_s']:.1f} camera frames/s read, {r['realtime_factor']:.2f}x real time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
