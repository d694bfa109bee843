"""One Piper arm behind piper_sdk: connection, enabling, command gating, fault detection, reconnects.

ROS-free so the safety rules (what may be sent, when the bus counts as lost) live in one place
and the ROS node only translates messages. Thread-safe: the node calls it from several executor
threads, and the SDK encodes every command through one shared message object, so all sends of an
arm are serialised by its lock.

Re-arming: after any enable, recovery of the bus, reset, e-stop or go-home the arm is *disarmed*.
Enabling makes the measured pose the firmware's set-point (before and after the motors power up),
and the first command a disarmed arm
accepts must lie within `rearm_joint_tolerance_rad` (every joint) and `rearm_gripper_tolerance_m`
of the measured position; that command arms it, and from then on commands are followed (clamped,
age-checked). So a set-point computed before the arm moved, dropped or was driven elsewhere is
never sent.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from dataclasses import dataclass, field

import numpy as np

from wav_core.config.driver import DriverArmConfig, DriverConfig
from wav_core.robot.units import ARM_DOF, arm_to_sdk, clamp_arm, sdk_to_arm

CTRL_CAN = 0x01
MOVE_J = 0x01
GRIPPER_ENABLE = 0x01
GRIPPER_DISABLE = 0x00
ESTOP = 0x01
STATUS_ESTOP = 0x01


class CanPortError(ConnectionError, ValueError):
    """A CAN interface named in the config cannot be opened (missing, down, wrong bitrate)."""


class ArmEnableError(RuntimeError):
    """An arm did not report all motors enabled in time (or cannot be enabled in its state)."""


@dataclass
class SubmitResult:
    sent: bool
    reason: str | None = None
    clamped: list[str] = field(default_factory=list)
    detail: str = ""
    """Why, in words, when a disarmed arm rejects a command (the joint, its distance, the tolerance)."""
    armed_now: bool = False
    """This command armed the arm."""


class PiperArmLink:
    """The SDK connection of one arm plus the state the driver keeps about it."""

    def __init__(self, arm: DriverArmConfig, driver: DriverConfig, logger) -> None:
        self.arm = arm
        self.driver = driver
        self.log = logger
        self.name = arm.name
        self._lock = threading.RLock()
        self._sdk = None
        self.connected = False
        self.want_enabled = False
        self.estopped = False
        self.homing = False
        self.armed = False
        """Commands are followed; False after any enable, recovery, reset, e-stop or go-home (see module doc)."""
        self.last_rejection = ""
        self._reset_pending = False
        """A reset was sent and the firmware has not yet reported a normal status (its e-stop flag is stale)."""
        self._reset_at = 0.0
        """When the last reset was sent: only a status frame received after it shows the reset taken (an
        older normal frame, read late off a busy bus, may still be followed by the e-stop's own frames)."""
        self.fault: str | None = None
        self.motors_ok = False
        """All motors reported enabled at the last check (refreshed by `supervise`, not per command)."""
        self.sent = 0
        self.joint_frames = 0
        """JointCtrl set-points written to the bus: accepted commands and the holds of enable."""
        self.clamped = 0
        self.rejected: Counter[str] = Counter()
        self.reconnects = 0
        self._backoff = driver.reconnect_initial_s
        self._next_reconnect = 0.0
        self._reconnected_at = 0.0
        self.last_sent: np.ndarray | None = None
        self.last_sent_time = 0.0
        self._names = list(arm.joint_names)
        self._tolerance = np.array(
            [driver.rearm_joint_tolerance_rad] * (ARM_DOF - 1) + [driver.rearm_gripper_tolerance_m]
        )

    # -- connection -------------------------------------------------------------------------------
    def connect(self) -> None:
        from piper_sdk import C_PiperInterface_V2

        port = self.arm.can_port
        judge = self.driver.check_can_port and self.driver.bustype == "socketcan"
        if judge and not Path(f"/sys/class/net/{port}").exists():
            raise CanPortError(
                f"arm {self.name}: CAN interface {port!r} does not exist; plug in the adapter and bring it up with "
                f"'sudo ip link set {port} up type can bitrate {self.driver.bitrate}'"
            )
        with self._lock:
            try:
                sdk = C_PiperInterface_V2(port, judge_flag=False, can_auto_init=False)
                sdk.CreateCanBus(port, bustype=self.driver.bustype, expected_bitrate=self.driver.bitrate, judge_flag=judge)
                sdk.ConnectPort()
            except (ConnectionError, ValueError, RuntimeError, OSError) as exc:
                raise CanPortError(
                    f"arm {self.name}: cannot open CAN port {port!r} ({self.driver.bustype}, {self.driver.bitrate} bit/s): {exc}"
                ) from exc
            self._sdk = sdk
            self.connected = True
        self.log.info(f"arm {self.name}: connected on {port} ({self.driver.bustype})")

    def close(self) -> None:
        """Release the bus; the arm keeps its last state (disabling here would drop it)."""
        with self._lock:
            self.homing = False
            if self._sdk is not None and self.connected:
                self._sdk.DisconnectPort()
            self.connected = False

    def _reconnect(self) -> None:
        with self._lock:
            sdk = self._sdk
            if sdk is None:
                return
            sdk.DisconnectPort()
            self.connected = False
            try:
                sdk.CreateCanBus(self.arm.can_port, bustype=self.driver.bustype, expected_bitrate=self.driver.bitrate,
                                 judge_flag=False)
                sdk.ConnectPort()
                self.connected = True
            except (ConnectionError, ValueError, OSError) as exc:
                self.log.error(f"arm {self.name}: reconnect to {self.arm.can_port} failed: {exc}")
            self.reconnects += 1
            self._reconnected_at = time.time()

    # -- feedback ---------------------------------------------------------------------------------
    def feedback(self) -> tuple[np.ndarray, float] | None:
        """Latest joint + gripper feedback (rad, m) and its CAN receive time, or None before any."""
        sdk = self._sdk
        if sdk is None:
            return None
        j = sdk.GetArmJointMsgs()
        g = sdk.GetArmGripperMsgs()
        stamp = j.time_stamp
        if not stamp:
            return None
        s = j.joint_state
        q = sdk_to_arm((s.joint_1, s.joint_2, s.joint_3, s.joint_4, s.joint_5, s.joint_6), g.gripper_state.grippers_angle)
        return q, float(stamp)

    def feedback_age(self, now: float | None = None) -> float:
        sdk = self._sdk
        stamp = sdk.GetArmJointMsgs().time_stamp if sdk is not None else 0.0
        if not stamp:
            return float("inf")
        return (time.time() if now is None else now) - float(stamp)

    def motors_enabled(self, since: float = 0.0) -> bool:
        """All six drivers report enabled in low-speed feedback received after `since`."""
        sdk = self._sdk
        if sdk is None:
            return False
        low = sdk.GetArmLowSpdInfoMsgs()
        return bool(low.time_stamp > since and all(sdk.GetArmEnableStatus()))

    def arm_status_estop(self, since: float = 0.0) -> bool:
        """The firmware reports an e-stop in a status frame received after `since`."""
        sdk = self._sdk
        if sdk is None:
            return False
        st = sdk.GetArmStatus()
        return st.time_stamp > since and st.arm_status.arm_status == STATUS_ESTOP

    # -- power ------------------------------------------------------------------------------------
    def enable(self, timeout: float | None = None) -> None:
        """CAN joint-position mode + EnablePiper() until every motor reports enabled."""
        timeout = self.driver.enable_timeout_s if timeout is None else timeout
        where = f"arm {self.name} ({self.arm.can_port})"
        if self.estopped:
            raise ArmEnableError(f"{where}: e-stopped; call ~/reset, then enable")
        if self.fault is not None:
            raise ArmEnableError(f"{where}: cannot enable during a bus fault ({self.fault})")
        if not self.connected:
            raise ArmEnableError(f"{where}: not connected")
        requested = time.time()
        deadline = time.monotonic() + timeout
        with self._lock:
            self.want_enabled = True
        while True:
            with self._lock:
                if self.estopped:  # an e-stop arrived while enabling: not one more enable frame
                    raise ArmEnableError(f"{where}: e-stopped while enabling; call ~/reset, then enable")
                self._sdk.MotionCtrl_2(CTRL_CAN, MOVE_J, self.driver.speed_percent, 0x00)
                self._hold_measured(since=requested, gripper=False)  # no set-point from before meets powered motors
                reported = self._sdk.EnablePiper()
            stamp = self._sdk.GetArmJointMsgs().time_stamp
            live = stamp > requested and self.feedback_age() <= self.driver.feedback_timeout_s
            if reported and self.motors_enabled(since=requested) and live:
                break  # enabled, and the feedback is live (not a backlog being worked through)
            if time.monotonic() > deadline:
                with self._lock:
                    self.want_enabled = False
                raise ArmEnableError(
                    f"{where}: motors did not report enabled within {timeout:.2f} s "
                    f"(feedback age {self.feedback_age():.2f} s); check power, the e-stop button and the CAN cable"
                )
            time.sleep(0.01)
        with self._lock:
            if self.estopped:
                raise ArmEnableError(f"{where}: e-stopped while enabling; call ~/reset, then enable")
            self.motors_ok = True
            self.armed = False
            self._hold_measured(since=requested)
        self.log.info(f"{where}: enabled (speed {self.driver.speed_percent}%), disarmed until a command within "
                      f"{self.driver.rearm_joint_tolerance_rad} rad / {self.driver.rearm_gripper_tolerance_m} m "
                      "of the measured position")

    def _hold_measured(self, since: float, gripper: bool = True) -> None:
        """Make the measured pose the firmware's set-point, replacing whatever it held before.

        Only from feedback received after `since`: an older pose may not be where the arm is.
        """
        fb = self.feedback()
        if fb is None or fb[1] <= since:
            return
        cmd = arm_to_sdk(clamp_arm(fb[0])[0])
        self._sdk.JointCtrl(*cmd.joints)
        self.joint_frames += 1
        if gripper:
            self._sdk.GripperCtrl(cmd.gripper, self.driver.gripper_effort, GRIPPER_ENABLE, 0x00)

    def disable(self) -> None:
        with self._lock:
            self.want_enabled = False
            self.homing = False
            self.armed = False
            self.motors_ok = False
            if self._sdk is not None and self.connected:
                self._sdk.DisableArm(7)
                self._sdk.GripperCtrl(0, 0, GRIPPER_DISABLE, 0x00)
        self.log.info(f"arm {self.name}: disabled (motors unpowered: the arm sinks unless supported)")

    def estop(self) -> None:
        """EmergencyStop(0x01): the firmware lowers the arm with damping and refuses motion.

        Latched here as well: nothing is sent and enable is refused until `reset()`. Sent even
        during a bus fault (it may get through) and again when the bus comes back.
        """
        with self._lock:
            self.estopped = True
            self.homing = False
            self.armed = False
            self._send_estop()
        self.log.warning(f"arm {self.name}: EMERGENCY STOP; recover with ~/reset then ~/enable")

    def _send_estop(self) -> None:
        if self._sdk is None:
            return
        try:
            self._sdk.EmergencyStop(ESTOP)
        except Exception as exc:  # a dead bus must not keep the caller from stopping the other arm
            self.log.error(f"arm {self.name}: EmergencyStop not sent ({exc}); latched, resent when the bus is back")

    def reset(self) -> None:
        """ResetPiper(): clears the e-stop and cuts motor power (the arm drops), so enable comes next."""
        with self._lock:
            if self._sdk is not None and self.connected:
                self._sdk.ResetPiper()
            self.estopped = False
            self._reset_pending = True
            self._reset_at = time.time()
            self.want_enabled = False
            self.homing = False
            self.armed = False
            self.motors_ok = False
        self.log.warning(f"arm {self.name}: reset (motors unpowered); call ~/enable to resume")

    def disarm(self) -> None:
        with self._lock:
            self.armed = False

    # -- commands ---------------------------------------------------------------------------------
    def refusal(self, homing_command: bool = False) -> str | None:
        """Why a command may not be sent now (None when it may)."""
        if self.fault is not None:
            return "bus_fault"
        if not self.connected:
            return "not_connected"
        if self.estopped:
            return "estopped"
        if not self.want_enabled:
            return "disabled"
        if self.homing and not homing_command:
            return "homing"
        if not self.motors_ok:
            return "not_enabled"
        return None

    def reject(self, reason: str, detail: str = "") -> SubmitResult:
        with self._lock:
            self.rejected[reason] += 1
            self.last_rejection = f"{reason}: {detail}" if detail else reason
        return SubmitResult(False, reason, detail=detail)

    def submit(self, q: np.ndarray, homing_command: bool = False) -> SubmitResult:
        """Clamp to the arm's limits and send, unless the arm's state forbids it (then count why).

        A disarmed arm only takes a command within the re-arming tolerance of its measured
        position (go-home's own path is exempt: it starts at the measured pose).
        """
        armed_now = False
        with self._lock:
            reason = self.refusal(homing_command)
            if reason is not None:
                return self.reject(reason)
            clipped, names = clamp_arm(q)
            if not self.armed and not homing_command:
                far = self._distance_from_measured(clipped)
                if far:
                    return self.reject("far_from_measured", far)
                self.armed = armed_now = True
            cmd = arm_to_sdk(clipped)
            self._sdk.JointCtrl(*cmd.joints)
            self.joint_frames += 1
            self._sdk.GripperCtrl(cmd.gripper, self.driver.gripper_effort, GRIPPER_ENABLE, 0x00)
            self.sent += 1
            if names:
                self.clamped += 1
            self.last_sent = clipped
            self.last_sent_time = time.time()
        if armed_now:
            self.log.info(f"arm {self.name}: armed (first command within tolerance of the measured position)")
        return SubmitResult(True, None, names, armed_now=armed_now)

    def _distance_from_measured(self, q: np.ndarray) -> str:
        """"" when `q` is within tolerance of fresh feedback, else the farthest coordinate in words."""
        fb = self.feedback()
        if fb is None or self.feedback_age() > self.driver.feedback_timeout_s:
            return "no fresh feedback to compare the first command with"
        measured = fb[0]
        excess = np.abs(q - measured) / self._tolerance
        k = int(np.argmax(excess))
        if excess[k] <= 1.0:
            return ""
        unit = "m" if k == ARM_DOF - 1 else "rad"
        return (
            f"{self._names[k]} is {abs(q[k] - measured[k]):.3f} {unit} from the measured {measured[k]:.3f} {unit} "
            f"(tolerance {self._tolerance[k]:g} {unit}); the arm is disarmed and arms on a command that starts "
            "at the measured position"
        )

    # -- supervision ------------------------------------------------------------------------------
    def supervise(self, now: float | None = None) -> str | None:
        """Detect a lost bus, reconnect with exponential back-off, re-enable on recovery.

        Also latches an e-stop the arm reports that the driver did not send. Returns "fault",
        "recovered", "estop" or None (no change) so the caller can report transitions.
        """
        now = time.time() if now is None else now
        self._drain_own_echo()
        if self._sdk is None:
            return None
        self.motors_ok = self.motors_enabled(since=now - max(1.0, 10 * self.driver.feedback_timeout_s))
        age = self.feedback_age(now)
        limit = self.driver.feedback_timeout_s
        if self.fault is None:
            if age > limit:
                with self._lock:
                    self.fault = f"feedback stale for {age:.2f} s (limit {limit:.2f} s): CAN bus lost?"
                    self.homing = False
                    self.armed = False
                    self._backoff = self.driver.reconnect_initial_s
                    self._next_reconnect = now + self._backoff
                self.log.error(f"arm {self.name} ({self.arm.can_port}): {self.fault}; commands stopped, reconnecting")
                return "fault"
            return "estop" if self._check_firmware_estop(now) else None
        stamp = self._sdk.GetArmJointMsgs().time_stamp
        if self.connected and stamp > self._reconnected_at and age <= limit:
            with self._lock:
                self.fault = None
                self._backoff = self.driver.reconnect_initial_s
            self.log.info(f"arm {self.name}: feedback is back after {self.reconnects} reconnect(s); disarmed")
            if self.estopped:
                with self._lock:
                    self._send_estop()  # the stop sent into the dead bus may never have arrived
            elif self.want_enabled:
                try:
                    self.enable()
                except ArmEnableError as exc:
                    self.log.error(str(exc))
            self.disarm()
            return "recovered"
        if now >= self._next_reconnect:
            self._reconnect()
            self._backoff = min(2 * self._backoff, self.driver.reconnect_max_s)
            self._next_reconnect = now + self._backoff
        return None

    def _check_firmware_estop(self, now: float) -> bool:
        """Latch an e-stop the arm reports that this driver did not send; True when newly latched."""
        sdk = self._sdk
        fresh = now - max(1.0, 10 * self.driver.feedback_timeout_s)
        if self._reset_pending:
            st = sdk.GetArmStatus()
            if st.time_stamp > max(fresh, self._reset_at) and st.arm_status.arm_status != STATUS_ESTOP \
                    and not self.estopped:
                self._reset_pending = False  # the firmware has taken the reset
            return False
        if self.estopped or not self.arm_status_estop(since=fresh):
            return False
        with self._lock:
            self.estopped = True
            self.homing = False
            self.armed = False
        self.log.warning(f"arm {self.name}: the arm reports an EMERGENCY STOP the driver did not send; "
                         "latched: recover with ~/reset then ~/enable")
        return True

    def _drain_own_echo(self) -> None:
        # On Linux the SDK opens a separate send bus; on python-can's virtual bus that bus also
        # queues every frame of the channel and nobody reads it, so it would grow without bound.
        if self.driver.bustype != "virtual" or self._sdk is None:
            return
        can_bus = self._sdk.GetCanBus()
        send_bus = getattr(can_bus, "send_bus", None)
        recv_bus = getattr(can_bus, "recv_bus", None)
        if send_bus is None or send_bus is recv_bus:
            return
        try:
            while send_bus.recv(timeout=0) is not None:
                pass
        except Exception:  # closed during a reconnect: nothing left to drain
            return

    def status(self, now: float | None = None) -> dict:
        """Plain values for diagnostics."""
        with self._lock:
            return {
                "enabled": self.want_enabled and self.motors_ok,
                "enable_requested": self.want_enabled,
                "armed": self.armed,
                "estopped": self.estopped,
                "homing": self.homing,
                "fault": self.fault or "",
                "feedback_age_s": self.feedback_age(now),
                "commands_sent": self.sent,
                "commands_rejected": sum(self.rejected.values()),
                "rejected_by_reason": dict(self.rejected),
                "commands_clamped": self.clamped,
                "last_rejection": self.last_rejection,
                "reconnects": self.reconnects,
                "can_port": self.arm.can_port,
            }
