"""A policy that plans in a child process and looks like WAVPolicy to the runtime."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from ..config.loader import to_dict
from ..model.files import load_card
from ..planning.config import PlannerConfig
from ..planning.policy import PlanResult
from .wire import read_message, write_message


class RemotePolicy:
    def __init__(self, model_dir: str | Path, planner: PlannerConfig, device: str = "cpu", backend: str = "torch",
                 threads: int = 1):
        self.card = load_card(model_dir)
        self.cfg = self.card.config
        self._lock = threading.Lock()
        env = dict(os.environ)
        if threads > 0:
            env["OMP_NUM_THREADS"] = str(threads)
        self._proc = subprocess.Popen([sys.executable, "-m", "wav_core.runtime.plan_worker"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env=env)
        reply = self._call({"cmd": "load", "model": str(Path(model_dir).resolve()), "planner": to_dict(planner),
                            "device": device, "backend": backend, "threads": threads})
        self.backend_name = reply[0]["backend"]
        self.planner_cfg = planner

    def _call(self, header: dict, arrays: list[np.ndarray] | None = None):
        with self._lock:
            if self._proc.poll() is not None:
                raise RuntimeError(f"planner process exited with code {self._proc.returncode}")
            write_message(self._proc.stdin, header, arrays)
            reply, out = read_message(self._proc.stdout)
        if not reply.get("ok"):
            raise RuntimeError(f"planner process: {reply.get('error')}")
        return reply, out

    def set_planner(self, cfg: PlannerConfig) -> None:
        self._call({"cmd": "planner", "planner": to_dict(cfg)})
        self.planner_cfg = cfg

    def plan(self, images: np.ndarray, state: np.ndarray, instruction: str | None = None, *,
             seed: int | None = None, warm: bool = False) -> PlanResult:
        instruction = self.card.instruction if instruction is None else instruction
        reply, (actions, values) = self._call(
            {"cmd": "plan", "instruction": instruction, "seed": seed, "warm": warm},
            [np.asarray(images), np.asarray(state, dtype=np.float64)])
        return PlanResult(actions=actions, values=values, snr=reply["snr"],
                          iteration_best_snr=reply["iteration_best_snr"], iteration_mean_snr=reply["iteration_mean_snr"],
                          iterations=reply["iterations"], timings_ms=reply["timings_ms"])

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._call({"cmd": "quit"})
            except (RuntimeError, EOFError, OSError):
                pass
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
