"""Node construction in one place: `wav run` (one process, multi-threaded executor) and the
launch files' executables (one process per node) build the nodes through these factories."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from wav_core.config.loader import load, read_yaml

from .config_file import resolve

NodeKind = Literal["policy", "sim", "piper_bridge"]


@dataclass
class LaunchConfig:
    nodes: list[NodeKind] = field(default_factory=lambda: ["policy"])
    use_sim_time: bool = False
    """True with the simulator, which drives /clock."""


def config_path(name: str) -> Path:
    """A config file, or a launch file name mapped to its config (launch/X.launch.py <-> config/X.yaml)."""
    if name.endswith(".launch.py"):
        name = Path(name).name[: -len(".launch.py")] + ".yaml"
    return resolve(name, "config")


def build_node(kind: NodeKind, path: Path, use_sim_time: bool = False, **kwargs):
    if kind == "policy":
        from .policy_node import make_policy_node

        return make_policy_node(str(path), use_sim_time=use_sim_time, **kwargs)
    if kind == "sim":
        from .sim_node import make_sim_node

        return make_sim_node(str(path), **kwargs)
    if kind == "piper_bridge":
        from wav_core.config.driver import DriverConfig

        from .piper_bridge import make_piper_bridge

        return make_piper_bridge(load(DriverConfig, path, section="driver"), context=kwargs.get("context"))
    raise ValueError(f"run.nodes: unknown node {kind!r}, expected one of policy, sim, piper_bridge")


def load_launch(path: Path) -> LaunchConfig:
    return load(LaunchConfig, path, section="run") if "run" in read_yaml(path) else LaunchConfig()
