"""Test-session settings: one compute thread per library.

The suite runs MuJoCo's software renderer, DDS threads and torch side by side on small machines;
spinning OpenMP workers would otherwise fight over the cores and make timings erratic."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("LP_NUM_THREADS", "1")
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # wav_test_support
