"""A simulated task (the config's `sim.task`), closed-loop through the real ROS 2 nodes (sim node +
policy node on DDS), with the numbers and pictures a user checks first: success, plan latency,
executor jitter, a GIF of the top camera with the latest planned tool paths drawn over it (the
policy's plan markers, in their value colours) and commanded vs measured joints."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from visualization_msgs.msg import MarkerArray

from wav_core.config.loader import load
from wav_core.runtime.config import PolicyConfig

from .config_file import resolve
from .launcher import config_path
from .session import Session

CLOCK_OFFSET_S = 100.0


class Recorder:
    def __init__(self, session: Session, gif_hz: float = 5.0):
        robot = session.sim.robot
        self.node = rclpy.create_node("wav_demo_recorder", context=session.context)
        self.frames: list[np.ndarray] = []
        self.commanded: list[tuple[float, np.ndarray]] = []
        self.measured: list[tuple[float, np.ndarray]] = []
        self._last_frame = -1e9
        self._gif_dt = 1.0 / gif_hz
        top = robot.cameras[0]
        self.plan: tuple[list[np.ndarray], list[np.ndarray]] | None = None
        """The latest plan markers: tool-point paths [H, 3] (base frame) and their RGBA colours."""
        self.overlaid = 0
        self._camera = None
        if session.policy is not None:
            self._camera = _top_camera_matrix(session.sim.cfg.task, robot, top.name)
            self.node.create_subscription(MarkerArray, f"{session.policy.get_fully_qualified_name()}/plan_markers",
                                          self._on_markers, 10)
        # Cameras and feedback use the sensor-data QoS the rig publishes with (best effort).
        self.node.create_subscription(Image, top.topic, self._on_image, qos_profile_sensor_data)
        for k, arm in enumerate(robot.arms):
            self.node.create_subscription(JointState, arm.command_topic, lambda m, k=k: self._on_q(m, k, self.commanded), 100)
            self.node.create_subscription(JointState, arm.feedback_topic, lambda m, k=k: self._on_q(m, k, self.measured),
                                          qos_profile_sensor_data)
        session.executor.add_node(self.node)

    @staticmethod
    def _t(msg) -> float:
        return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9 - CLOCK_OFFSET_S

    def _on_markers(self, msg: MarkerArray) -> None:
        paths = [np.array([(p.x, p.y, p.z) for p in m.points]) for m in msg.markers]
        colours = [np.array([(c.r, c.g, c.b, c.a) for c in m.colors]) for m in msg.markers]
        self.plan = (paths, colours)

    def _on_image(self, msg: Image) -> None:
        from wav_core.viz.overlay import draw_paths

        t = self._t(msg)
        if t - self._last_frame >= self._gif_dt:
            self._last_frame = t
            frame = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3).copy()
            plan = self.plan
            if plan is not None and self._camera is not None:
                frame = draw_paths(frame, self._camera((msg.height, msg.width)), *plan)
                self.overlaid += 1
            self.frames.append(frame)

    def _on_q(self, msg: JointState, arm: int, into: list) -> None:
        into.append((self._t(msg), arm, np.asarray(msg.position[:7], dtype=np.float64)))


def _top_camera_matrix(task: str, robot, camera: str):
    """Projection of the static top camera per image size (from a model of the same scene)."""
    from wav_core.sim.env import SimEnv
    from wav_core.sim.projection import camera_matrix

    env = SimEnv(task, robot, render=False)
    env.reset(0)
    cache: dict[tuple[int, int], np.ndarray] = {}

    def matrix(size_hw: tuple[int, int]) -> np.ndarray:
        if size_hw not in cache:
            cache[size_hw] = camera_matrix(env.model, env.data, camera, size_hw)
        return cache[size_hw]

    return matrix


def _plot(rec: Recorder, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 7, figsize=(18, 5), sharex=True)
    names = ["j1", "j2", "j3", "j4", "j5", "j6", "gripper"]
    for arm in range(2):
        for j in range(7):
            ax = axes[arm, j]
            for series, style, label in ((rec.measured, "-", "measured"), (rec.commanded, "--", "commanded")):
                pts = [(t, q[j]) for t, a, q in series if a == arm]
                if pts:
                    t, q = zip(*pts)
                    ax.plot(t, q, style, lw=1, label=label)
            ax.set_title(f"{'left' if arm == 0 else 'right'} {names[j]}", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    for ax in axes[1]:
        ax.set_xlabel("sim time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_demo(config: str, model: str | None, seconds: float, out: str, wall_timeout: float = 900.0,
             note: str = "", domain_id: int | None = None) -> int:
    import imageio.v2 as imageio

    path = config_path(config)
    cfg = load(PolicyConfig, path, section="policy")
    if model:
        cfg.model = str(Path(model).resolve())
    try:
        resolve(cfg.model, "models")
    except FileNotFoundError:
        raise FileNotFoundError(f"model {cfg.model!r} not found; `make demo` trains a tiny one on the spot, "
                                f"or pass --model DIR") from None
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with Session(config, domain_id=domain_id, policy_cfg=cfg) as s:
        if s.sim is None or s.policy is None:
            raise ValueError(f"{path}: the demo needs run.nodes with sim and policy")
        rec = Recorder(s)
        s.start()
        s.enable()
        t0 = time.monotonic()
        start = s.sim.info.get("time", 0.0)  # sim seconds that passed before output was enabled
        while time.monotonic() - t0 < wall_timeout:
            info = dict(s.sim.info)
            if info.get("success") or info.get("time", 0.0) - start >= seconds:
                break
            time.sleep(0.2)
        status = s.policy.status()
        info = dict(s.sim.info)
        info["time"] = info.get("time", 0.0) - start
        wall = time.monotonic() - t0
    gif = out_dir / "top_camera.gif"
    if not rec.frames:
        raise RuntimeError("no camera frames reached the demo recorder; check the camera topics and QoS")
    imageio.mimsave(gif, rec.frames, duration=0.2, loop=0)
    stamps = np.array([t for t, arm, _ in rec.commanded if arm == 0])
    iv = np.diff(stamps) * 1000 if len(stamps) > 2 else np.zeros(1)
    plot = out_dir / "joints.png"
    _plot(rec, plot)
    summary = {
        "success": bool(info.get("success", False)),
        "subgoals": {k: info[k] for k in ("opened", "placed", "closed", "grasped") if k in info},
        "sim_seconds": info.get("time", 0.0), "wall_seconds": wall, "plans": status["plans"],
        "plan_latency_median_ms": status["plan_latency_median_ms"], "plan_latency_p90_ms": status["plan_latency_p90_ms"],
        "command_interval_sim_p50_ms": float(np.percentile(iv, 50)), "command_interval_sim_p99_ms": float(np.percentile(iv, 99)),
        "command_interval_wall_p50_ms": status["command_interval_p50_ms"], "command_interval_wall_p99_ms": status["command_interval_p99_ms"],
        "measured_samples": len(rec.measured), "gif_frames": len(rec.frames), "gif_frames_with_plan": rec.overlaid,
        "holds": status.get("holds", {}),
        "plan_late_holds": status.get("holds", {}).get("plan_late", 0),
        "real_time_factor": info.get("real_time_factor"),
        "safety_events": status["safety_events"], "model": cfg.model, "note": note,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if note:
        print(note)
    print(f"success: {summary['success']}  subgoals: {summary['subgoals']}")
    print(f"simulated {summary['sim_seconds']:.1f} s in {wall:.1f} s wall; {summary['plans']} plans")
    print(f"plan latency median {summary['plan_latency_median_ms']:.0f} ms, p90 {summary['plan_latency_p90_ms']:.0f} ms")
    print(f"command interval on the robot's clock (sim time): p50 {summary['command_interval_sim_p50_ms']:.2f} ms, "
          f"p99 {summary['command_interval_sim_p99_ms']:.2f} ms (executor at {1000 / cfg.executor.rate_hz:.0f} ms)")
    print(f"holds (executor steps): {summary['holds'] or 'none'}; plan_late {summary['plan_late_holds']}")
    if summary["real_time_factor"] is not None and summary["real_time_factor"] < 1.0:
        print(f"the planner could not keep up in real time: the simulation ran at real-time factor "
              f"{summary['real_time_factor']:.2f}")
    print(f"safety events: {summary['safety_events']}")
    print(f"wrote {gif}, {plot}, {out_dir / 'summary.json'}")
    return 0
