"""The predictions bag: the replayed input topics plus what the policy would have published.

`/wav/action_chunk` (trajectory_msgs/msg/JointTrajectory): one per decision, header stamp = the
decision's tick time, the 14 joint names of the model card, one point per chunk step with
time_from_start = step / tick_hz. `/wav/plan_info` (std_msgs/msg/String): the same decision's
numbers as JSON, with the keys the live node publishes on `~/plan_info` (decision, latency_ms, snr,
value_total, iterations, iteration_best_snr, iteration_mean_snr, timings_ms) plus tick and seed.
Both are logged at the decision time, so the bag plays back in step
with the recording (e.g. in Foxglove or `wav replay --live`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .metrics import Decision

CHUNK_TOPIC = "/wav/action_chunk"
PLAN_INFO_TOPIC = "/wav/plan_info"
CHUNK_TYPE = "trajectory_msgs/msg/JointTrajectory"
PLAN_INFO_TYPE = "std_msgs/msg/String"


def _time(T, ns: int):
    return T["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _duration(T, ns: int):
    return T["builtin_interfaces/msg/Duration"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def chunk_message(T, d: Decision, joints: list[str], tick_hz: float):
    import numpy as np

    Point = T["trajectory_msgs/msg/JointTrajectoryPoint"]
    empty = np.zeros(0, dtype=np.float64)
    points = [Point(positions=np.asarray(a, dtype=np.float64), velocities=empty, accelerations=empty, effort=empty,
                    time_from_start=_duration(T, int(round(h * 1e9 / tick_hz)))) for h, a in enumerate(d.actions)]
    header = T["std_msgs/msg/Header"](stamp=_time(T, d.time_ns), frame_id="")
    return T[CHUNK_TYPE](header=header, joint_names=list(joints), points=points)


def plan_info(d: Decision) -> dict:
    return {"decision": d.index, "tick": d.grid_tick, "seed": d.seed, "latency_ms": d.latency_ms, "snr": d.snr,
            "value_total": d.value_total, "iterations": d.iterations, "iteration_best_snr": d.iteration_best_snr,
            "iteration_mean_snr": d.iteration_mean_snr, "timings_ms": d.timings_ms}


def plan_info_message(T, d: Decision):
    return T[PLAN_INFO_TYPE](data=json.dumps(plan_info(d)))


def write_predictions(out: Path, source: Path, topics: list[str], decisions: list[Decision], joints: list[str],
                      tick_hz: float, typestore_name: str) -> str | None:
    """Copy `topics` from `source` (raw bytes, in log order) and interleave the decisions.

    A source that breaks part-way is copied up to the break (the reason is returned); the decisions
    are all written.
    """
    from rosbags.rosbag2 import Reader, StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores(typestore_name))
    T = ts.types
    if out.exists():
        if not (out / "metadata.yaml").is_file():
            raise FileExistsError(f"{out}: exists and is not a rosbag2 directory; not overwriting it")
        shutil.rmtree(out)
    pending = sorted(decisions, key=lambda d: d.time_ns)
    copy_error: str | None = None
    with Writer(out, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        chunk_conn = writer.add_connection(CHUNK_TOPIC, CHUNK_TYPE, typestore=ts)
        info_conn = writer.add_connection(PLAN_INFO_TOPIC, PLAN_INFO_TYPE, typestore=ts)

        def flush_until(ns: int | None) -> None:
            while pending and (ns is None or pending[0].time_ns <= ns):
                d = pending.pop(0)
                writer.write(chunk_conn, d.time_ns, ts.serialize_cdr(chunk_message(T, d, joints, tick_hz), CHUNK_TYPE))
                writer.write(info_conn, d.time_ns, ts.serialize_cdr(plan_info_message(T, d), PLAN_INFO_TYPE))

        try:
            reader = Reader(source)
            reader.open()
        except Exception as exc:
            copy_error = f"{source}: cannot open ({type(exc).__name__}: {exc})"
        else:
            try:
                conns = [c for c in reader.connections if c.topic in topics]
                out_conns = {}
                for c in conns:
                    if c.topic not in out_conns:
                        out_conns[c.topic] = writer.add_connection(c.topic, c.msgtype, typestore=ts)
                it = reader.messages(connections=conns) if conns else iter(())  # [] would mean all
                while True:
                    try:
                        conn, log_ns, raw = next(it)
                    except StopIteration:
                        break
                    except Exception as exc:
                        copy_error = f"{source}: copy stopped ({type(exc).__name__}: {exc})"
                        break
                    flush_until(log_ns)
                    writer.write(out_conns[conn.topic], log_ns, raw)
            finally:
                reader.close()
        flush_until(None)
    return copy_error
