from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE = "wav_ros"


def data_tree(folder):
    """(install dir, files) pairs for everything under `folder`, kept in share/wav_ros/<folder>."""
    out = []
    for root, _dirs, files in os.walk(folder):
        paths = [os.path.join(root, f) for f in files if not f.startswith(".")]
        if paths:
            out.append((os.path.join("share", PACKAGE, root), paths))
    return out


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=["wav_core", "wav_core.*", "wav_ros", "wav_ros.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        ("share/" + PACKAGE + "/launch", glob("launch/*.py")),
        ("share/" + PACKAGE + "/config", glob("config/*.yaml") + glob("config/*.rviz") + glob("config/*.json")),
        ("share/" + PACKAGE + "/urdf", glob("urdf/*.urdf")),
    ]
    + data_tree("models"),
    python_requires=">=3.10",
    install_requires=["setuptools", "numpy>=1.21", "pyyaml>=5.4", "safetensors>=0.4", "torch>=2.2", "pillow>=9.1"],
    zip_safe=False,
    maintainer="wav maintainers",
    maintainer_email="maintainers@wav.dev",
    description="World-Value-Action latent-planning policy for the AgileX Piper dual-arm.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "wav = wav_core.cli.main:main",
            "policy_node = wav_ros.policy_node:main",
            "sim_node = wav_ros.sim_node:main",
            "piper_bridge = wav_ros.piper_bridge:main",
            "bag_player = wav_ros.bag_player:main",
            "joint_state_relay = wav_ros.joint_state_relay:main",
        ],
    },
)
