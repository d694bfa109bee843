"""One Piper arm behind piper_sdk: connection, enabling, command gating, fault detection, reconnects.

ROS-free so the safety rules (what may be sent, when the bus counts as lost) live in one place
and the ROS node only translates messages. Thread-safe: the node calls it from several executor
threads, and the SDK encodes every command through one shared message object, so all sends of an
arm are serialised by its lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from dataclasses import dataclass, field

import numpy as np

from wav_core.config.driver import DriverArmConfig, DriverConfig
from wav_core.robot.units import arm_to_sdk, clamp_arm, sdk_to_arm

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
        self.fault: str | None = None
        self.motors_ok = False
        """All motors reported enabled at the last check (refreshed by `supervise`, not per command)."""
        self.sent = 0
        self.clamped = 0
        self.rejected: Counter[str] = Counter()
        self.reconnects = 0
        self._backoff = driver.reconnect_initial_s
        self._next_reconnect = 0.0
        self._reconnected_at = 0.0
        self.last_sent: np.ndarray | None = None
        self.last_sent_time = 0.0

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

    def arm_status_estop(self) -> bool:
        sdk = self._sdk
        return sdk is not None and sdk.GetArmStatus().arm_status.arm_status == STATUS_ESTOP

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
                self._sdk.MotionCtrl_2(CTRL_CAN, MOVE_J, self.driver.speed_percent, 0x00)
                reported = self._sdk.EnablePiper()
            if reported and self.motors_enabled(since=requested) and self.feedback_age() <= self.driver.feedback_timeout_s:
                break  # enabled, and the feedback is live (not a backlog being worked through)
            if time.monotonic() > deadline:
                with self._lock:
                    self.want_enabled = False
                raise ArmEnableError(
                    f"{where}: motors did not report enabled within {timeout:.2f} s "
                    f"(feedback age {self.feedback_age():.2f} s); check power, the e-stop button and the CAN cable"
                )
            time.sleep(0.01)
        self.motors_ok = True
        fb = self.feedback()
        opening = fb[0][6] if fb is not None else 0.0
        with self._lock:
            cmd = arm_to_sdk(np.concatenate([np.zeros(6), [opening]]))
            self._sdk.GripperCtrl(cmd.gripper, self.driver.gripper_effort, GRIPPER_ENABLE, 0x00)
        self.log.info(f"{where}: enabled (speed {self.driver.speed_percent}%)")

    def disable(self) -> None:
        with self._lock:
            self.want_enabled = False
            self.homing = False
            self.motors_ok = False
            if self._sdk is not None and self.connected:
                self._sdk.DisableArm(7)
                self._sdk.GripperCtrl(0, 0, GRIPPER_DISABLE, 0x00)
        self.log.info(f"arm {self.name}: disabled")

    def estop(self) -> None:
        """EmergencyStop(0x01): the firmware lowers the arm with damping and refuses motion."""
        with self._lock:
            self.estopped = True
            self.homing = False
            if self._sdk is not None and self.connected:
                self._sdk.EmergencyStop(ESTOP)
        self.log.warning(f"arm {self.name}: EMERGENCY STOP; recover with ~/reset then ~/enable")

    def reset(self) -> None:
        """ResetPiper(): clears the e-stop and cuts motor power (the arm drops), so enable comes next."""
        with self._lock:
            if self._sdk is not None and self.connected:
                self._sdk.ResetPiper()
            self.estopped = False
            self.want_enabled = False
            self.homing = False
            self.motors_ok = False
        self.log.warning(f"arm {self.name}: reset (motors unpowered); call ~/enable to resume")

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

    def reject(self, reason: str) -> SubmitResult:
        with self._lock:
            self.rejected[reason] += 1
        return SubmitResult(False, reason)

    def submit(self, q: np.ndarray, homing_command: bool = False) -> SubmitResult:
        """Clamp to the arm's limits and send, unless the arm's state forbids it (then count why)."""
        with self._lock:
            reason = self.refusal(homing_command)
            if reason is not None:
                return self.reject(reason)
            clipped, names = clamp_arm(q)
            cmd = arm_to_sdk(clipped)
            self._sdk.JointCtrl(*cmd.joints)
            self._sdk.GripperCtrl(cmd.gripper, self.driver.gripper_effort, GRIPPER_ENABLE, 0x00)
            self.sent += 1
            if names:
                self.clamped += 1
            self.last_sent = clipped
            self.last_sent_time = time.time()
        return SubmitResult(True, None, names)

    # -- supervision ------------------------------------------------------------------------------
    def supervise(self, now: float | None = None) -> str | None:
        """Detect a lost bus, reconnect with exponential back-off, re-enable on recovery.

        Returns "fault", "recovered" or None (no change) so the caller can report transitions.
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
                    self._backoff = self.driver.reconnect_initial_s
                    self._next_reconnect = now + self._backoff
                self.log.error(f"arm {self.name} ({self.arm.can_port}): {self.fault}; commands stopped, reconnecting")
                return "fault"
            return None
        stamp = self._sdk.GetArmJointMsgs().time_stamp
        if self.connected and stamp > self._reconnected_at and age <= limit:
            with self._lock:
                self.fault = None
                self._backoff = self.driver.reconnect_initial_s
            self.log.info(f"arm {self.name}: feedback is back after {self.reconnects} reconnect(s)")
            if self.want_enabled and not self.estopped:
                try:
                    self.enable()
                except ArmEnableError as exc:
                    self.log.error(str(exc))
            return "recovered"
        if now >= self._next_reconnect:
            self._reconnect()
            self._backoff = min(2 * self._backoff, self.driver.reconnect_max_s)
            self._next_reconnect = now + self._backoff
        return None

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
                "estopped": self.estopped or self.arm_status_estop(),
                "homing": self.homing,
                "fault": self.fault or "",
                "feedback_age_s": self.feedback_age(now),
                "commands_sent": self.sent,
                "commands_rejected": sum(self.rejected.values()),
                "rejected_by_reason": dict(self.rejected),
                "commands_clamped": self.clamped,
                "reconnects": self.reconnects,
                "can_port": self.arm.can_port,
            }
