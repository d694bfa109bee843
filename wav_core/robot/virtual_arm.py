"""A simulated Piper arm that answers on python-can's in-process virtual bus like the firmware does.

It lets the driver, its tests and demos run the real piper_sdk end to end without hardware: the SDK
side uses `C_PiperInterface_V2(name, judge_flag=False, can_auto_init=False)` followed by
`CreateCanBus(name, bustype="virtual")` and `ConnectPort()`; frames only travel between buses of
the same process.

Frames it decodes (standard 11-bit ids, 8 data bytes, big-endian as in the SDK protocol):

- 0x150 MotionCtrl_1: byte0 0x01 = emergency stop (refuse motion; the motors damp, so the arm
  sinks slowly toward its rest pose), 0x02 = reset/resume (clears the stop, cuts motor power,
  back to standby; the arm drops).
- 0x151 MotionCtrl_2: ctrl_mode, move_mode, speed percent (decoded by the SDK parser). Joint
  targets are followed only in CAN mode (0x01) with MOVE J (0x01).
- 0x155/0x156/0x157 JointCtrl: joint pairs in 0.001 degree (SDK parser).
- 0x159 GripperCtrl: opening 0.001 mm, effort, code (0x01/0x03 enable, 0x00/0x02 disable).
- 0x471 motor enable/disable: byte0 motor 1..6 or 7 = all, byte1 0x02 enable / 0x01 disable.
- anything else (parameter queries the SDK sends on connect, its own echoes) is ignored.

Frames it emits from a background thread at `feedback_hz` (200 Hz like the arm):

- 0x2A1 arm status: ctrl_mode, arm_status (0x01 = e-stop), mode_feed, teach, motion_status
  (0 = target reached), trajectory number, 16-bit error code.
- 0x2A5/0x2A6/0x2A7 joint feedback pairs in 0.001 degree; 0x2A8 gripper: opening 0.001 mm,
  effort, status (bit 6 = enabled).
- 0x261..0x266 low-speed driver info every `low_speed_every` ticks: voltage, temperatures,
  status byte (bit 6 = driver enabled, which `EnablePiper()` reads), bus current.

High-speed motor frames (0x251..0x256) and end-pose frames are not simulated.

Gravity, as the SDK describes the arm: a joint whose motor is unpowered (at power-on, after
DisableArm or ResetPiper) falls toward `REST_POSE`, accelerating up to `fall_speed`; during an
e-stop the loaded joints sink toward it at the slower `damped_speed`. Only the joints gravity
loads (`GRAVITY_JOINTS`: joint2, joint3, joint5) move; the rest pose is the folded pose at the
joint2/joint3 hard stops, so a fall never leaves the joint limits.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import can
import numpy as np

from piper_sdk.piper_msgs.msg_v2 import ArmMsgType, PiperMessage
from piper_sdk.protocol.protocol_v2 import C_PiperParserV2

from .piper import ARM_LOWER, ARM_UPPER, MAX_JOINT_SPEED
from .units import check_arm_vector, m_to_microm, microm_to_m, millideg_to_rad, rad_to_millideg

ID_MOTION_CTRL_1 = 0x150
ID_MOTOR_ENABLE = 0x471
ID_STATUS = 0x2A1
ID_JOINT_FEEDBACK = (0x2A5, 0x2A6, 0x2A7)
ID_GRIPPER_FEEDBACK = 0x2A8
ID_LOW_SPEED = tuple(range(0x261, 0x267))

CTRL_STANDBY = 0x00
CTRL_CAN = 0x01
MOVE_J = 0x01
STATUS_NORMAL = 0x00
STATUS_ESTOP = 0x01
ENABLED_BIT = 1 << 6


GRAVITY_JOINTS = (1, 2, 4)
"""joint2, joint3, joint5: the joints gravity turns when their motors hold no torque."""
GRAVITY_MASK = np.isin(np.arange(7), GRAVITY_JOINTS)
REST_POSE = np.zeros(7)
"""Where an unpowered arm comes to rest (only its GRAVITY_JOINTS entries are used)."""


def advance(q: np.ndarray, target: np.ndarray, max_step: np.ndarray) -> np.ndarray:
    """One control period: move each coordinate toward its target by at most `max_step`."""
    return q + np.clip(target - q, -max_step, max_step)


def fall(
    q: np.ndarray, v: np.ndarray, mask: np.ndarray, max_speed: float, dt: float, accel: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One period of the `mask`ed joints moving toward REST_POSE; returns (positions, speeds).

    With `accel` the speed grows by `accel * dt` up to `max_speed` (a drop); without it the joints
    move at a constant `max_speed` (damped). A joint stops at the rest pose, never past it.
    """
    speed = np.minimum(v + accel * dt, max_speed) if accel is not None else np.full_like(v, max_speed)
    speed = np.where(mask, speed, 0.0)
    q_new = q + np.where(mask, np.clip(REST_POSE - q, -speed * dt, speed * dt), 0.0)
    speed = np.where(q_new == REST_POSE, 0.0, speed)
    return q_new, speed


@dataclass
class VirtualArmState:
    """A consistent snapshot for tests and demos."""

    positions: np.ndarray
    targets: np.ndarray
    motors_enabled: tuple[bool, ...]
    gripper_enabled: bool
    estopped: bool
    ctrl_mode: int
    move_mode: int
    speed_percent: int
    joint_commands: int
    """Complete JointCtrl sets received (counted on the 0x157 frame)."""
    last_joint_command: np.ndarray
    """joint1..joint6 (rad) of the last complete JointCtrl set received, acted on or not (NaN before any)."""
    gripper_commands: int
    last_joint_command_time: float
    """time.time() when the last complete JointCtrl set arrived (0.0 before any)."""

    @property
    def enabled(self) -> bool:
        return all(self.motors_enabled)


class VirtualPiperArm:
    """Simulated firmware of one arm on virtual CAN channel `channel`; call `close()` when done."""

    def __init__(
        self,
        channel: str,
        *,
        initial: np.ndarray | None = None,
        feedback_hz: float = 200.0,
        gripper_speed: float = 0.1,
        low_speed_every: int = 4,
        refuse_enable: bool = False,
        fall_speed: float = 2.5,
        fall_accel: float = 10.0,
        damped_speed: float = 0.25,
        start: bool = True,
    ) -> None:
        if feedback_hz <= 0:
            raise ValueError(f"VirtualPiperArm({channel!r}): feedback_hz must be > 0, got {feedback_hz}")
        if gripper_speed <= 0:
            raise ValueError(f"VirtualPiperArm({channel!r}): gripper_speed must be > 0 m/s, got {gripper_speed}")
        if not 0 < damped_speed < fall_speed or fall_accel <= 0:
            raise ValueError(
                f"VirtualPiperArm({channel!r}): expected 0 < damped_speed < fall_speed and fall_accel > 0 "
                f"(rad/s, rad/s^2), got damped_speed={damped_speed}, fall_speed={fall_speed}, fall_accel={fall_accel}"
            )
        self.channel = channel
        self.fall_speed, self.fall_accel, self.damped_speed = fall_speed, fall_accel, damped_speed
        self.period = 1.0 / feedback_hz
        self.gripper_speed = gripper_speed
        self.low_speed_every = max(1, int(low_speed_every))
        self.refuse_enable = refuse_enable
        """Models a controller that never powers its motors (tests of the driver's enable timeout)."""
        q0 = np.zeros(7) if initial is None else check_arm_vector(initial, f"VirtualPiperArm({channel!r}).initial")
        self._q = np.clip(q0, ARM_LOWER, ARM_UPPER)
        self._target = self._q.copy()
        self._fall_v = np.zeros(7)
        self._motors = [False] * 6
        self._gripper_enabled = False
        self._gripper_effort = 0
        self._estopped = False
        self._ctrl_mode = CTRL_STANDBY
        self._move_mode = MOVE_J
        self._speed_percent = 0
        self._joint_commands = 0
        self._rx_joints = np.full(6, np.nan)
        self._last_joint_command = np.full(6, np.nan)
        self._gripper_commands = 0
        self._last_joint_command_time = 0.0
        self._can_lost = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._parser = C_PiperParserV2()
        self._rx = PiperMessage()
        self._bus = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
        self._thread = threading.Thread(target=self._run, name=f"virtual-piper-{channel}", daemon=True)
        if start:
            self.start()

    # -- public -----------------------------------------------------------------------------------
    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()

    def close(self) -> None:
        """Stop the firmware thread and close the bus (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        if self._bus is not None:
            self._bus.shutdown()
            self._bus = None

    def __enter__(self) -> "VirtualPiperArm":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_can_lost(self, lost: bool) -> None:
        """Simulate a cut cable: no feedback goes out and incoming frames are dropped."""
        if lost:
            self._can_lost.set()
        else:
            self._can_lost.clear()

    @property
    def can_lost(self) -> bool:
        return self._can_lost.is_set()

    def displace(self, q: np.ndarray) -> None:
        """Put the arm at `q` as something outside the driver would: a hand, another controller.

        An enabled arm then holds there; unpowered joints that gravity loads fall again from there.
        """
        q = np.clip(check_arm_vector(q, f"VirtualPiperArm({self.channel!r}).displace"), ARM_LOWER, ARM_UPPER)
        with self._lock:
            self._q = q.copy()
            self._target = q.copy()
            self._fall_v = np.zeros(7)

    def emergency_stop(self) -> None:
        """An e-stop the driver did not send (the arm's stop input or another node on the bus)."""
        with self._lock:
            self._on_motion_ctrl_1(0x01)

    def state(self) -> VirtualArmState:
        with self._lock:
            return VirtualArmState(
                positions=self._q.copy(),
                targets=self._target.copy(),
                motors_enabled=tuple(self._motors),
                gripper_enabled=self._gripper_enabled,
                estopped=self._estopped,
                ctrl_mode=self._ctrl_mode,
                move_mode=self._move_mode,
                speed_percent=self._speed_percent,
                joint_commands=self._joint_commands,
                last_joint_command=self._last_joint_command.copy(),
                gripper_commands=self._gripper_commands,
                last_joint_command_time=self._last_joint_command_time,
            )

    # -- firmware loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        tick = 0
        next_tick = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now < next_tick:
                try:
                    frame = self._bus.recv(timeout=next_tick - now)
                except can.CanOperationError:
                    return
                if frame is not None and not self._can_lost.is_set():
                    with self._lock:
                        self._handle(frame)
                continue
            with self._lock:
                self._step(self.period)
                frames = [] if self._can_lost.is_set() else self._feedback_frames(tick)
            for frame in frames:
                try:
                    self._bus.send(frame)
                except can.CanOperationError:
                    return
            tick += 1
            next_tick += self.period
            if next_tick < time.monotonic() - 5 * self.period:
                next_tick = time.monotonic()  # fell far behind (loaded machine): do not burst

    def _step(self, dt: float) -> None:
        if self._estopped:
            self._q, self._fall_v = fall(self._q, self._fall_v, GRAVITY_MASK, self.damped_speed, dt)
            return
        unpowered = GRAVITY_MASK & ~np.array(self._motors + [True])
        if unpowered.any():
            self._q, self._fall_v = fall(self._q, self._fall_v, unpowered, self.fall_speed, dt, self.fall_accel)
        if not self._moving_allowed():
            return
        speed = MAX_JOINT_SPEED * self._speed_percent / 100.0
        max_step = np.array([speed * dt] * 6 + [self.gripper_speed * dt])
        if not self._gripper_enabled:
            max_step[6] = 0.0
        self._q = advance(self._q, self._target, max_step)

    def _moving_allowed(self) -> bool:
        return (
            all(self._motors)
            and not self._estopped
            and self._ctrl_mode == CTRL_CAN
            and self._move_mode == MOVE_J
        )

    def _handle(self, frame: can.Message) -> None:
        can_id = frame.arbitration_id
        data = bytes(frame.data)
        if can_id == ID_MOTION_CTRL_1:
            self._on_motion_ctrl_1(data[0] if data else 0)
            return
        if can_id == ID_MOTOR_ENABLE:
            if len(data) >= 2:
                self._on_enable(data[0], data[1])
            return
        if not self._parser.DecodeMessage(frame, self._rx):
            return
        msg = self._rx
        if msg.type_ == ArmMsgType.PiperMsgMotionCtrl_2:
            self._ctrl_mode = msg.arm_motion_ctrl_2.ctrl_mode
            self._move_mode = msg.arm_motion_ctrl_2.move_mode
            self._speed_percent = int(np.clip(msg.arm_motion_ctrl_2.move_spd_rate_ctrl, 0, 100))
        elif msg.type_ == ArmMsgType.PiperMsgJointCtrl_12:
            self._set_joint_targets(0, msg.arm_joint_ctrl.joint_1, msg.arm_joint_ctrl.joint_2)
        elif msg.type_ == ArmMsgType.PiperMsgJointCtrl_34:
            self._set_joint_targets(2, msg.arm_joint_ctrl.joint_3, msg.arm_joint_ctrl.joint_4)
        elif msg.type_ == ArmMsgType.PiperMsgJointCtrl_56:
            self._set_joint_targets(4, msg.arm_joint_ctrl.joint_5, msg.arm_joint_ctrl.joint_6)
            self._joint_commands += 1
            self._last_joint_command = self._rx_joints.copy()
            self._last_joint_command_time = time.time()
        elif msg.type_ == ArmMsgType.PiperMsgGripperCtrl:
            self._on_gripper(msg.arm_gripper_ctrl)

    def _set_joint_targets(self, first: int, a: int, b: int) -> None:
        pair = millideg_to_rad(np.array([a, b]))
        self._rx_joints[first : first + 2] = pair
        if not self._moving_allowed():
            return  # the firmware drops set-points it cannot act on instead of queueing them
        self._target[first : first + 2] = np.clip(pair, ARM_LOWER[first : first + 2], ARM_UPPER[first : first + 2])

    def _on_gripper(self, ctrl) -> None:
        self._gripper_commands += 1
        code = ctrl.status_code
        self._gripper_enabled = code in (0x01, 0x03) and not self._estopped
        self._gripper_effort = ctrl.grippers_effort
        if self._gripper_enabled:
            self._target[6] = float(np.clip(microm_to_m(ctrl.grippers_angle), ARM_LOWER[6], ARM_UPPER[6]))

    def _on_motion_ctrl_1(self, code: int) -> None:
        if code == 0x01:
            self._estopped = True
            self._target = self._q.copy()
        elif code == 0x02:
            self._estopped = False
            self._motors = [False] * 6
            self._gripper_enabled = False
            self._ctrl_mode = CTRL_STANDBY
            self._target = self._q.copy()

    def _on_enable(self, motor: int, flag: int) -> None:
        if flag == 0x02 and (self._estopped or self.refuse_enable):
            return  # after an e-stop the arm must be reset before it powers up again
        motors = range(6) if motor in (7, 0xFF) else ([motor - 1] if 1 <= motor <= 6 else [])
        for i in motors:
            if flag == 0x02 and not self._motors[i]:
                self._target[i] = self._q[i]  # powering up never jumps to an old set-point
                self._fall_v[i] = 0.0
            self._motors[i] = flag == 0x02

    # -- encoding -----------------------------------------------------------------------------------
    def _feedback_frames(self, tick: int) -> list[can.Message]:
        p = self._parser
        mdeg = rad_to_millideg(self._q[:6])
        reached = bool(np.all(np.abs(self._target - self._q) < 1e-6))
        status = (
            p.ConvertToList_8bit(self._ctrl_mode, False)
            + p.ConvertToList_8bit(STATUS_ESTOP if self._estopped else STATUS_NORMAL, False)
            + p.ConvertToList_8bit(self._move_mode, False)
            + [0x00]
            + p.ConvertToList_8bit(0 if reached else 1, False)
            + [0x00]
            + p.ConvertToList_16bit(0, False)
        )
        frames = [_frame(ID_STATUS, status)]
        for k, can_id in enumerate(ID_JOINT_FEEDBACK):
            data = p.ConvertToList_32bit(int(mdeg[2 * k])) + p.ConvertToList_32bit(int(mdeg[2 * k + 1]))
            frames.append(_frame(can_id, data))
        gripper_status = ENABLED_BIT if self._gripper_enabled else 0
        gripper = (
            p.ConvertToList_32bit(int(m_to_microm(self._q[6])))
            + p.ConvertToList_16bit(int(self._gripper_effort))
            + p.ConvertToList_8bit(gripper_status, False)
            + [0x00]
        )
        frames.append(_frame(ID_GRIPPER_FEEDBACK, gripper))
        if tick % self.low_speed_every == 0:
            for i, can_id in enumerate(ID_LOW_SPEED):
                foc = ENABLED_BIT if self._motors[i] else 0
                data = (
                    p.ConvertToList_16bit(240, False)  # 24.0 V
                    + p.ConvertToList_16bit(30)  # driver 30 °C
                    + p.ConvertToList_8bit(30)  # motor 30 °C
                    + p.ConvertToList_8bit(foc, False)
                    + p.ConvertToList_16bit(100, False)  # 0.1 A
                )
                frames.append(_frame(can_id, data))
        return frames


def _frame(can_id: int, data: list[int]) -> can.Message:
    return can.Message(arbitration_id=can_id, data=data, is_extended_id=False)
