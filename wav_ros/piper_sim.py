"""The driver with simulated arms in one process: demos and benchmarks without hardware.

python-can's virtual bus only connects buses of the same process, so the arms, the SDK and the
node must live together; this module is the one place that wires them up.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from wav_core.config.driver import DriverConfig
from wav_core.robot.virtual_arm import VirtualPiperArm


def virtual_config(config: DriverConfig, unique_ports: bool = True) -> DriverConfig:
    """The same driver config on the virtual bus (ports made unique so two rigs never share a channel)."""
    suffix = f"_{uuid.uuid4().hex[:6]}" if unique_ports else ""
    arms = [dataclasses.replace(a, can_port=a.can_port + suffix) for a in config.arms]
    return dataclasses.replace(config, arms=arms, bustype="virtual", check_can_port=False)


@contextmanager
def virtual_rig(config: DriverConfig, *, context=None, node_name: str = "piper_bridge", **arm_kwargs) -> Iterator[tuple]:
    """Yield `(bridge, {arm name: VirtualPiperArm})`; everything is closed on exit."""
    from .piper_bridge import make_piper_bridge

    if config.bustype != "virtual":
        raise ValueError(f"virtual_rig: config.bustype is {config.bustype!r}, expected 'virtual' (see virtual_config)")
    arms = {a.name: VirtualPiperArm(a.can_port, **arm_kwargs) for a in config.arms}
    bridge = None
    try:
        bridge = make_piper_bridge(config, node_name=node_name, context=context)
        yield bridge, arms
    finally:
        if bridge is not None:
            bridge.destroy_node()
        for arm in arms.values():
            arm.close()
