"""package.xml names every ROS package and system Python library the shipped code imports, so
`rosdep install` on a robot PC brings everything that does not come from pip."""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ROSDEP_KEYS = {
    "numpy": "python3-numpy", "yaml": "python3-yaml", "can": "python3-can", "PIL": "python3-pil",
    "cv2": "python3-opencv", "h5py": "python3-h5py", "scipy": "python3-scipy",
    "matplotlib": "python3-matplotlib", "tqdm": "python3-tqdm", "imageio": "python3-imageio",
}
"""Python libraries the distributions package (rosdep key per top-level module)."""
PIP_ONLY = {"torch", "mujoco", "rosbags", "safetensors", "piper_sdk", "onnx", "onnxruntime", "tensorrt", "transformers"}
"""No rosdep key: requirements-system-ros.txt installs these (tensorrt and transformers are optional)."""
OWN = {"wav_core", "wav_ros"}


def imported_modules() -> set[str]:
    found = set()
    for folder in ("wav_core", "wav_ros", "launch"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__"} - OWN


def test_every_runtime_import_is_declared():
    manifest = ET.parse(ROOT / "package.xml").getroot()
    declared = {e.text for e in manifest.iter("exec_depend")} | {e.text for e in manifest.iter("depend")}
    missing = []
    for module in sorted(imported_modules()):
        if module in PIP_ONLY:
            continue
        key = ROSDEP_KEYS.get(module, module)  # ROS packages are named like their Python module
        if key not in declared:
            missing.append(f"{module} -> <exec_depend>{key}</exec_depend>")
    assert not missing, f"package.xml lacks: {missing} (or list the module as pip-only in this test)"


def test_the_scan_sees_the_imports_it_must():
    modules = imported_modules()
    assert {"rclpy", "sensor_msgs", "builtin_interfaces", "ament_index_python", "launch_ros", "cv2", "numpy"} <= modules
    assert not modules & OWN
