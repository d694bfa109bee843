"""The control loop: observations in, safe set-points out; the same object runs the robot node,
simulator evaluation and offline replay.

It owns observation assembly, the planner client, the chunk executor, the watchdog, the safety
filter and the tracking monitor, and the rules they share: which seed a decision draws
(`decision_seed`), when the next plan is due (`ChunkExecutor.plan_due`), and whether a model fits
the rig (`check_model`). It never reads a clock: every call is given `now` (wall, sim or bag time,
seconds), so a simulator or a bag can drive it exactly as the node's clock does.

Planning is split into request / plan / deliver, so it can run in a thread next to a live executor
(`PlanThread`) or inline in a stepped world (`InlinePlanner`) under the same rules.

Output is off until `enable`, which anchors the safety filter on the measured pose and is refused
when that pose is stale or outside the limits. Feedback resuming after a gap, or a state change the
driver reports, re-anchors the filter; an arm that stops following its commands latches the output
off (`tracking_error`) until enabled again.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..config.robot import RobotConfig
from ..data.assembler import NS, ObservationAssembler
from ..data.errors import MessageError
from ..data.messages import joint_positions, stamp_ns
from .config import PolicyConfig
from .control_loop_rules import check_model, decision_seed
from .executor import ChunkExecutor
from .policy_runtime import Chunk, PolicyRuntime
from .safety import SafetyFilter, TrackingMonitor, Watchdog

FUTURE_TOLERANCE_S = 0.5
"""Messages stamped further in the future than this are dropped (clock error or corruption)."""
FEEDBACK_MAX_AGE_TICKS = 2
"""Enable needs joint feedback younger than this many decision ticks."""
DRIVER_EVENTS = ("enabled", "disabled", "recovered", "homed", "estop", "reset")
STOPPING_EVENTS = ("disabled", "estop", "reset")

__all__ = ["ControlLoop", "Output", "PlanRequest", "check_model", "decision_seed"]


@dataclass
class Output:
    """One executor step: the 14-D command, or None when output is off; `hold` names why the
    command is a braking hold (or why output is off)."""

    command: np.ndarray | None
    hold: str | None = None
    events: list[str] = field(default_factory=list)


@dataclass
class PlanRequest:
    decision: int
    seed: int
    anchor: float
    """Time of the observation planned from (chunk step 0 belongs to it)."""
    camera_time: float
    requested: float
    snapshot: tuple
    epoch: int


class ControlLoop:
    def __init__(self, cfg: PolicyConfig, robot: RobotConfig, policy, instruction: str | None = None,
                 runtime=None):
        """`policy`: WAVPolicy or RemotePolicy (plan, card, cfg). `runtime` replaces
        PolicyRuntime(policy) as the source of plans (replay's oracle)."""
        robot.validate()
        check_model(robot, policy.card)
        self.cfg, self.robot, self.policy = cfg, robot, policy
        self.runtime = runtime if runtime is not None else PolicyRuntime(policy, instruction)
        self.executor = ChunkExecutor(cfg.executor, robot.tick_hz, policy.cfg.action_horizon)
        self.safety = SafetyFilter(cfg.safety)
        self.watchdog = Watchdog(cfg.safety)
        self.tracking = TrackingMonitor(cfg.safety, robot.joint_names)
        self.dt = 1.0 / cfg.executor.rate_hz
        self.dry_run = cfg.dry_run
        """Commands go nowhere: the arm cannot follow them, so tracking is not checked."""
        self.lock = threading.RLock()
        self._camera_topics = {c.topic: c.name for c in robot.cameras}
        arms = [a.name for a in robot.arms]
        self._joint_topics = ({robot.joint_state_topic: arms} if robot.joint_state_topic
                              else {a.feedback_topic: [a.name] for a in robot.arms})
        self._arm_slice = {a.name: slice(7 * k, 7 * k + 7) for k, a in enumerate(robot.arms)}
        self._arm_joints = {a.name: a.joint_names for a in robot.arms}
        self.enabled = False
        self.estopped = False
        self.off_reason = "disabled"
        self.counters: Counter[str] = Counter()
        self.holds: Counter[str] = Counter()
        self.plan_latencies_ms: deque[float] = deque(maxlen=200)
        self.last_plan: dict = {}
        self.last_error = ""
        self.epoch = 0
        self._start()

    def _start(self) -> None:
        self.assembler = ObservationAssembler(self.robot)
        self.decision = 0
        self.in_flight: PlanRequest | None = None
        self.obs_time: float | None = None
        self.obs_camera_time: float | None = None
        self.latest_state: np.ndarray | None = None
        self.camera_time: dict[str, float | None] = {c.name: None for c in self.robot.cameras}
        self.joint_time: dict[str, float | None] = {a.name: None for a in self.robot.arms}
        self.measured = np.full(14, np.nan)
        self.reanchor_pending = False

    # -- episodes --------------------------------------------------------------------------------
    def reset(self) -> None:
        """A new episode: output off, observations, chunks, decisions and the planner's memory cleared."""
        with self.lock:
            self.reset_observations()
            self.disable()
            reset = getattr(self.policy, "reset", None)
            if callable(reset):
                reset()

    def reset_observations(self) -> None:
        """Forget everything observed (a clock that jumped back); the watchdog holds until fresh
        inputs arrive, and plans requested before are dropped."""
        with self.lock:
            self.epoch += 1
            self.runtime.reset()
            self.executor.reset()
            self._start()

    # -- inputs ----------------------------------------------------------------------------------
    def push(self, topic: str, msg, now: float) -> bool:
        """One received message (camera or joint feedback); False when it was not kept."""
        now_ns = int(round(now * NS))
        stamp = stamp_ns(msg)
        if stamp > now_ns + FUTURE_TOLERANCE_S * NS:
            self.counters[f"future_stamp:{topic}"] += 1
            self.last_error = f"{topic}: message stamped {(stamp - now_ns) / NS:.3f} s in the future; dropped"
            return False
        with self.lock:
            if not self.assembler.push(topic, msg, receive_ns=now_ns):
                self.counters[f"dropped:{topic}"] += 1
                self.last_error = f"{topic}: message dropped ({self.assembler.last_error or 'out of order'})"
                return False
            if topic in self._camera_topics:
                self.camera_time[self._camera_topics[topic]] = now
            elif topic in self._joint_topics:
                arms = self._joint_topics[topic]
                names = [n for a in arms for n in self._arm_joints[a]]
                try:
                    q = joint_positions(msg, names, topic)
                except MessageError as exc:
                    self.counters[f"bad_feedback:{topic}"] += 1
                    self.last_error = str(exc)
                    return True  # buffered; the observation rule reports it at the tick
                self.feedback(q, now, arms)
        return True

    def feedback(self, q: np.ndarray, now: float, arms: list[str] | None = None) -> None:
        """Measured joint positions of `arms` (default: all, 14 values) at `now`."""
        arms = arms or list(self._arm_slice)
        q = np.asarray(q, dtype=np.float64).reshape(-1)
        with self.lock:
            for k, arm in enumerate(arms):
                last = self.joint_time[arm]
                if self.enabled and (last is None or now - last > self.cfg.safety.joint_timeout_s):
                    self.reanchor_pending = True
                self.measured[self._arm_slice[arm]] = q[7 * k:7 * k + 7]
                self.joint_time[arm] = now
            if self.reanchor_pending and self._feedback_fresh(now):
                self._reanchor()

    def _feedback_fresh(self, now: float) -> bool:
        return all(t is not None and now - t <= self.cfg.safety.joint_timeout_s for t in self.joint_time.values())

    def _reanchor(self) -> None:
        self.reanchor_pending = False
        if not self.enabled:
            return
        why = self.safety.outside_limits(self.measured, self.robot.joint_names)
        if why:
            self.disable(f"re-anchor refused: {why}")
            return
        self.safety.reset(self.measured)
        self.tracking.reset()
        self.counters["reanchor"] += 1

    def driver_event(self, text: str, now: float) -> str:
        """An arm state change the driver reported (JSON: arm, event, armed, seq); returns what was done.

        Any event re-anchors the output on the next feedback; estop, disabled and reset also switch
        it off until `enable`. Raises ValueError for a malformed event."""
        import json

        try:
            ev = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"driver event: not JSON ({exc}): {text[:80]!r}") from None
        if not isinstance(ev, dict) or ev.get("event") not in DRIVER_EVENTS or not isinstance(ev.get("arm"), str):
            raise ValueError(f"driver event: got {text[:120]!r}, expected {{\"arm\": <name>, \"event\": one of "
                             f"{list(DRIVER_EVENTS)}, \"armed\": bool, \"seq\": int}}")
        arm, event = ev["arm"], ev["event"]
        with self.lock:
            self.counters[f"driver_event:{event}"] += 1
            self.reanchor_pending = True
            if event in STOPPING_EVENTS and self.enabled:
                self.disable(f"driver: arm {arm} {event}")
                return f"arm {arm} {event}: output disabled until ~/enable"
        return f"arm {arm} {event}: re-anchoring on the next feedback"

    def observe(self, images: dict[str, np.ndarray], state: np.ndarray, now: float) -> None:
        """One decision tick's cameras and joint state, taken at `now` (simulator, replay): cameras
        count as fresh and the state as joint feedback. Raises ValueError for a bad observation."""
        with self.lock:
            self._observe(images, state, now, now)
            for name in self.camera_time:
                self.camera_time[name] = now
        self.feedback(state, now)

    def _observe(self, images, state, now: float, camera_time: float) -> None:
        self.runtime.observe(images, state)
        self.latest_state = np.asarray(state, dtype=np.float64).copy()
        self.obs_time, self.obs_camera_time = now, camera_time

    def tick(self, now: float) -> bool:
        """Assemble the observation of `now` from the pushed messages; True when one was kept."""
        with self.lock:
            try:
                obs = self.assembler.assemble(int(round(now * NS)))
            except ValueError as exc:  # the clock went backwards (a restarted simulation or bag loop)
                self.counters["clock_jump_back"] += 1
                self.last_error = f"{exc}; starting over with empty observation buffers"
                self.reset_observations()
                return False
            if obs is None:
                return False
            cams = [obs.stamps_ns[c.name] for c in self.robot.cameras if c.name in obs.stamps_ns]
            try:
                self._observe(obs.images, obs.state, now, max(cams) / NS if cams else now)
            except ValueError as exc:
                self.counters["bad_observation"] += 1
                self.last_error = f"observation rejected: {exc}"
                return False
            return True

    # -- planning --------------------------------------------------------------------------------
    def request_plan(self, now: float) -> PlanRequest | None:
        """The next plan's inputs when one is due (and none is in flight), else None."""
        with self.lock:
            if self.in_flight is not None or self.obs_time is None or not self.executor.plan_due(now):
                return None
            self.in_flight = PlanRequest(self.decision, decision_seed(self.cfg.seed, self.decision), self.obs_time,
                                         self.obs_camera_time, now, self.runtime.snapshot(), self.epoch)
            return self.in_flight

    def plan(self, req: PlanRequest) -> Chunk:
        """Run the planner (no lock held: a thread may call this while the executor runs). Warm
        starts follow the planner's warm_start blend (0: every plan starts cold)."""
        return self.runtime.plan_snapshot(req.snapshot, seed=req.seed, warm=True)

    def plan_failed(self, req: PlanRequest, exc: BaseException) -> None:
        """A failed plan (e.g. the planner process restarting) is a hold, not a crash."""
        with self.lock:
            self.in_flight = None
            self.counters["plan_error"] += 1
            self.last_error = f"planning failed: {type(exc).__name__}: {exc}"

    def deliver(self, req: PlanRequest, chunk: Chunk, now: float) -> dict | None:
        """Hand a finished plan to the executor at `now`; returns its plan_info (None if it was
        requested before the observations were reset)."""
        with self.lock:
            self.in_flight = None
            if req.epoch != self.epoch:
                self.counters["stale_plan"] += 1
                return None
            actions = np.asarray(chunk.actions, dtype=np.float64)
            self.executor.set_chunk(actions, req.anchor, now, now - req.requested)
            self.decision += 1
            self.plan_latencies_ms.append(float(chunk.latency_ms))
            p = chunk.plan
            self.last_plan = {
                "decision": req.decision, "seed": req.seed, "latency_ms": float(chunk.latency_ms),
                "arrival_s": now - req.requested, "snr": float(p.snr), "value_total": float(p.values[0, -1]),
                "iterations": int(p.iterations), "iteration_best_snr": [float(x) for x in p.iteration_best_snr],
                "iteration_mean_snr": [float(x) for x in p.iteration_mean_snr],
                "timings_ms": {k: float(v) for k, v in p.timings_ms.items()},
                "observation_age_ms": (now - req.anchor) * 1000, "camera_to_chunk_ms": (now - req.camera_time) * 1000,
                "chunk_s": self.executor.horizon * self.executor.dt,
            }
            return self.last_plan

    # -- output ----------------------------------------------------------------------------------
    def execute(self, now: float) -> Output:
        """The set-point of `now`: filtered chunk target, a braking hold with its reason, or None (off)."""
        with self.lock:
            if not self.enabled:
                return Output(None, self.off_reason)
            fresh = self._feedback_fresh(now)
            if fresh and not self.dry_run:
                why = self.tracking.check(now, self.safety.last, self.measured)
                if why:
                    self.counters["tracking_error"] += 1
                    self.disable(why)
                    return Output(None, why)
            joint_stamp = None if not all(t is not None for t in self.joint_time.values()) else min(self.joint_time.values())
            reason = self.watchdog.check(now, self.camera_time, joint_stamp)
            target = None if reason else self.executor.target(now)
            if reason is None and target is None:
                reason = "awaiting_plan" if self.executor.current is None else "plan_late"
            out = self.safety.hold(reason, self.dt) if reason else self.safety.filter(target, self.dt)
            if reason:
                self.holds[reason] += 1
            return Output(out.command, reason, out.events)

    def preview(self, req: PlanRequest, actions: np.ndarray, times) -> Iterator[np.ndarray]:
        """The set-points this loop would send at `times` (ascending, times[0] the delivery) if
        `actions` were delivered for `req` at times[0], computed on copies of the executor and the
        safety filter; it stops at the first later time at which the next plan is due. Nothing of
        the loop changes: a caller can play candidate chunks ahead in a simulator exactly as they
        would run (watchdog and tracking aside)."""
        with self.lock:
            executor, safety = copy.deepcopy(self.executor), copy.deepcopy(self.safety)
        for k, now in enumerate(times):
            if k == 0:
                executor.set_chunk(np.asarray(actions, dtype=np.float64), req.anchor, now, now - req.requested)
            elif executor.plan_due(now):
                return
            target = executor.target(now)
            out = safety.filter(target, self.dt) if target is not None else safety.hold("plan_late", self.dt)
            yield out.command

    def enable(self, now: float) -> tuple[bool, str]:
        """Switch output on from the measured pose; refused (with the reason) when there is no
        observation yet, the joint feedback is older than two decision ticks, or the measured pose
        is outside the limits."""
        with self.lock:
            if self.obs_time is None:
                return False, "no complete observation yet (cameras and joint feedback)"
            limit = FEEDBACK_MAX_AGE_TICKS / self.robot.tick_hz
            for arm, t in self.joint_time.items():
                if t is None or now - t > limit:
                    age = "none received" if t is None else f"{now - t:.3f} s old"
                    return False, f"joint feedback of arm {arm}: {age}, expected newer than {limit:.3f} s (two decision ticks)"
            why = self.safety.outside_limits(self.measured, self.robot.joint_names)
            if why:
                return False, why
            self.safety.reset(self.measured)
            self.executor.reset()
            self.tracking.reset()
            self.reanchor_pending = False
            self.enabled, self.estopped, self.off_reason = True, False, ""
            return True, "command output enabled"

    def disable(self, reason: str = "disabled") -> None:
        with self.lock:
            self.enabled = False
            if not self.estopped:
                self.off_reason = reason

    def estop(self) -> None:
        """Latch output off until `enable`."""
        with self.lock:
            self.enabled = False
            self.estopped = True
            self.off_reason = "estop"
            self.counters["estop"] += 1

    # -- diagnostics -----------------------------------------------------------------------------
    def status(self, now: float) -> dict:
        with self.lock:
            lat = np.asarray(self.plan_latencies_ms) if self.plan_latencies_ms else np.zeros(1)
            ages = {f"age_{k}_s": (now - v if v is not None else None) for k, v in {**self.camera_time, **self.joint_time}.items()}
            return {"enabled": self.enabled, "estopped": self.estopped, "off_reason": "" if self.enabled else self.off_reason,
                    "plans": self.decision, "plan_latency_median_ms": float(np.median(lat)),
                    "plan_latency_p90_ms": float(np.percentile(lat, 90)),
                    "replan_threshold_s": self.executor.threshold_s, "chunk_remaining_s": max(self.executor.remaining_s(now), -1.0),
                    **ages, "holds": dict(self.holds), "assembler": self.assembler.diagnostics(),
                    "safety_events": dict(self.safety.events), "counters": dict(self.counters),
                    "last_error": self.last_error}
