"""A policy that plans in a child process and looks like WAVPolicy to the runtime.

The child may hang or die; the node must not. Every request has a deadline; on a timeout, a broken
frame or the child's death the child is killed and a fresh one is started in the background with
exponential back-off, loaded with the same model and the latest planner settings. Until it is
ready `plan()` raises PlannerUnavailable at once, so the caller holds the arm and asks again.
`close()` never waits on a request in flight: it kills the child, which ends that request."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config.loader import to_dict
from ..model.files import load_card
from ..planning.config import PlannerConfig
from ..planning.policy import PlanResult
from .plan_channel import PlannerTimeout
from .planner_process import PlannerProcess, child_env, describe_exit
from .wire import MAX_FRAME_BYTES, WireError

QUIT_TIMEOUT_S = 2.0
"""How long close() lets an idle child finish by itself before killing it."""


class PlannerUnavailable(RuntimeError):
    """The planner process is being restarted (or was closed): hold, and try again later."""


@dataclass(frozen=True)
class BackendInfo:
    name: str
    """The backend the child actually uses (after any fallback)."""


class RemotePolicy:
    def __init__(self, model_dir: str | Path, planner: PlannerConfig, device: str = "cpu", backend: str = "torch",
                 threads: int = 1, *, plan_timeout_s: float = 10.0, load_timeout_s: float = 300.0,
                 restart_backoff_s: float = 0.5, restart_backoff_max_s: float = 30.0,
                 warn_after_restart_s: float = 60.0, max_frame_bytes: int = MAX_FRAME_BYTES,
                 env: dict[str, str] | None = None):
        """`plan_timeout_s` bounds a plan (and reset); `load_timeout_s` bounds loading the model and
        rebuilding the backend for new planner settings (an engine build can take minutes). A restart
        waits `restart_backoff_s`, doubling after each restart up to `restart_backoff_max_s`, back
        to the start after a plan succeeds. health() says WARN for `warn_after_restart_s` after a
        restart. `env` adds variables to the child's environment."""
        for key, value in (("plan_timeout_s", plan_timeout_s), ("load_timeout_s", load_timeout_s),
                           ("restart_backoff_s", restart_backoff_s), ("warn_after_restart_s", warn_after_restart_s),
                           ("max_frame_bytes", max_frame_bytes)):
            if not value > 0:
                raise ValueError(f"RemotePolicy {key}: got {value}, expected > 0")
        if restart_backoff_max_s < restart_backoff_s:
            raise ValueError(f"RemotePolicy restart_backoff_max_s: got {restart_backoff_max_s}, expected >= "
                             f"restart_backoff_s ({restart_backoff_s})")
        self.card = load_card(model_dir)
        self.cfg = self.card.config
        self.model_dir = Path(model_dir).resolve()
        self.device, self.threads = device, threads
        self.plan_timeout_s, self.load_timeout_s = plan_timeout_s, load_timeout_s
        self.restart_backoff_s, self.restart_backoff_max_s = restart_backoff_s, restart_backoff_max_s
        self.warn_after_restart_s = warn_after_restart_s
        self.planner_cfg = planner
        self.backend_name = backend
        self._backend_request = backend
        self._env = child_env(threads, env)
        self._max_frame_bytes = max_frame_bytes
        # Guards the fields below; never held across a request or a wait on the child.
        self._state = threading.Lock()
        self._closed = False
        self._worker: PlannerProcess | None = None
        """The ready child; None while restarting."""
        self._starting: PlannerProcess | None = None
        self._restarter: threading.Thread | None = None
        self._wake = threading.Event()
        self._failure: str | None = None
        """What happened to the last child that failed."""
        self._start_error: str | None = None
        """Why the last attempt to replace it failed, if it did."""
        self._restarts = 0
        self._restarted_at: float | None = None
        self._next_try: float | None = None
        self._backoff = restart_backoff_s
        self._start_loaded(self._install_first)

    # -- the WAVPolicy interface -------------------------------------------------------------------
    @property
    def backend(self) -> BackendInfo:
        return BackendInfo(self.backend_name)

    @property
    def image_shape(self) -> tuple[int, ...]:
        h, w = self.cfg.image_size
        return (len(self.cfg.views), self.cfg.n_history, h, w, 3)

    def plan(self, images: np.ndarray, state: np.ndarray, instruction: str | None = None, *,
             seed: int | None = None, warm: bool = False) -> PlanResult:
        """Like WAVPolicy.plan; PlannerUnavailable (a RuntimeError) at once while the child is restarting,
        or after `plan_timeout_s` if it hangs. After a restart the first `warm` plan starts cold."""
        instruction = self.card.instruction if instruction is None else instruction
        reply, (actions, values) = self._request(
            {"cmd": "plan", "instruction": instruction, "seed": seed, "warm": warm},
            [np.asarray(images), np.asarray(state, dtype=np.float64)], self.plan_timeout_s)
        with self._state:
            self._backoff = self.restart_backoff_s
        return PlanResult(actions=actions, values=values, **reply["result"])

    def set_planner(self, cfg: PlannerConfig) -> None:
        """New planner settings. While the child is restarting they are kept and loaded into the new one."""
        cfg.validate()
        self._apply_setting({"cmd": "planner", "planner": to_dict(cfg)}, planner=cfg)

    def set_backend(self, name: str) -> None:
        """Switch what runs the networks in the child (see WAVPolicy.set_backend)."""
        self._apply_setting({"cmd": "backend", "backend": name}, backend=name)

    def reset(self) -> None:
        """Forget the previous plan (a new episode). A restarting child has nothing to forget."""
        try:
            self._request({"cmd": "reset"}, None, self.plan_timeout_s)
        except PlannerUnavailable:
            pass

    def close(self) -> None:
        """End the child, within a few seconds whatever it is doing; a plan in flight on another thread
        raises PlannerUnavailable."""
        with self._state:
            if self._closed:
                return
            self._closed = True
            worker, starting, self._worker = self._worker, self._starting, None
        self._wake.set()
        if starting is not None:
            starting.kill()
        if worker is None:
            return
        if worker.lock.acquire(blocking=False):  # idle: let it quit by itself
            try:
                worker.channel.request({"cmd": "quit"}, None, QUIT_TIMEOUT_S)
                worker.wait_exit(QUIT_TIMEOUT_S)
            except (PlannerTimeout, EOFError, WireError, OSError):
                pass
            finally:
                worker.lock.release()
        worker.kill()

    # -- diagnostics -------------------------------------------------------------------------------
    def health(self) -> tuple[str, str]:
        """(level, message): ERROR while the child is dead, hung or restarting, WARN for a while after a
        restart, OK otherwise."""
        self._check_alive()
        with self._state:
            if self._closed:
                return "ERROR", "planner process closed"
            if self._worker is None:
                if self._starting is not None or self._next_try is None:
                    step = "starting a new one"
                else:
                    step = f"next start in {max(0.0, self._next_try - time.monotonic()):.1f} s"
                tried = f"; the last start failed: {self._start_error}" if self._start_error else ""
                return "ERROR", (f"planner process {self._failure}; restarting ({step}; {self._restarts} restarts "
                                 f"so far{tried})")
            if self._restarted_at is not None and time.monotonic() - self._restarted_at < self.warn_after_restart_s:
                return "WARN", (f"planner process restarted {time.monotonic() - self._restarted_at:.0f} s ago after it "
                                f"{self._failure} ({self._restarts} restarts so far)")
            return "OK", f"planner process pid {self._worker.pid} ready, backend {self.backend_name}"

    @property
    def pid(self) -> int | None:
        """The ready child's process id (None while restarting or closed)."""
        worker = self._worker
        return None if worker is None else worker.pid

    @property
    def restarts(self) -> int:
        return self._restarts

    # -- requests ----------------------------------------------------------------------------------
    def _current(self) -> PlannerProcess:
        with self._state:
            if self._closed:
                raise PlannerUnavailable("planner process closed")
            if self._worker is None:
                raise PlannerUnavailable(f"planner process {self._failure}; restarting")
            return self._worker

    def _request(self, header: dict, arrays: list[np.ndarray] | None, timeout_s: float):
        worker = self._current()
        if not worker.lock.acquire(timeout=timeout_s):
            raise PlannerUnavailable(f"planner process busy with another request for {timeout_s:g} s")
        try:
            if worker.dead:  # it failed while this request waited for it
                raise PlannerUnavailable("planner process restarting")
            reply = self._exchange(worker, header, arrays, timeout_s)
        finally:
            if worker.dead:
                worker.close_socket()
            worker.lock.release()
        if not reply.header.get("ok"):
            raise RuntimeError(f"planner process: {reply.header.get('error')}")
        return reply.header, reply.arrays

    def _exchange(self, worker: PlannerProcess, header: dict, arrays, timeout_s: float):
        """One request on `worker` (lock held); any failure of the child ends it and raises PlannerUnavailable."""
        try:
            return worker.channel.request(header, arrays, timeout_s)
        except PlannerTimeout:
            reason = f"gave no reply to {header['cmd']!r} within {timeout_s:g} s (killed)"
        except EOFError:
            code = worker.wait_exit(1.0)
            reason = "closed its connection" if code is None else describe_exit(code)
        except WireError as exc:
            reason = f"sent a broken frame ({exc})"
        self._fail(worker, reason)
        with self._state:
            closed = self._closed
        raise PlannerUnavailable("planner process closed" if closed else f"planner process {reason}; restarting")

    def _apply_setting(self, header: dict, planner: PlannerConfig | None = None, backend: str | None = None) -> None:
        while True:
            try:
                reply, _ = self._request(header, None, self.load_timeout_s)
            except PlannerUnavailable:
                with self._state:
                    if self._closed or self._worker is None:  # the next child loads with these settings
                        self.planner_cfg = planner or self.planner_cfg
                        self._backend_request = backend or self._backend_request
                        return
                continue  # a new child became ready meanwhile: tell it
            with self._state:
                self.planner_cfg = planner or self.planner_cfg
                self._backend_request = backend or self._backend_request
                self.backend_name = reply["backend"]
            return

    # -- life cycle --------------------------------------------------------------------------------
    def _check_alive(self) -> None:
        worker = self._worker
        code = None if worker is None else worker.exit_code()
        if code is not None:
            self._fail(worker, describe_exit(code))

    def _fail(self, worker: PlannerProcess, reason: str) -> None:
        """End `worker`; if it was the ready child, start bringing up a new one."""
        with self._state:
            current = worker is self._worker and not self._closed
            if current:
                self._worker, self._failure, self._start_error, self._next_try = None, reason, None, None
                if self._restarter is None:
                    self._restarter = threading.Thread(target=self._restart, name="wav_planner_restart", daemon=True)
                    self._restarter.start()
        worker.kill()

    def _restart(self) -> None:
        while True:
            with self._state:
                delay = self._backoff
                self._next_try = time.monotonic() + delay
            if self._wake.wait(delay):
                return
            try:
                self._start_loaded(self._install_restarted)
                return
            except PlannerUnavailable:
                return
            except Exception as exc:  # noqa: BLE001 - any failure to come up is retried, and reported by health()
                with self._state:
                    self._start_error = str(exc)
                    self._backoff = min(2 * self._backoff, self.restart_backoff_max_s)

    def _install_first(self, worker: PlannerProcess) -> None:
        self._worker = worker

    def _install_restarted(self, worker: PlannerProcess) -> None:
        self._worker, self._restarter, self._next_try = worker, None, None
        self._restarts += 1
        self._restarted_at = time.monotonic()
        self._backoff = min(2 * self._backoff, self.restart_backoff_max_s)

    def _start_loaded(self, install) -> None:
        """Start a child, load the model into it, and `install` it (under the state lock) if the settings
        did not change meanwhile; otherwise start over with the new ones."""
        while True:
            with self._state:
                if self._closed:
                    raise PlannerUnavailable("planner process closed")
                settings = (self.planner_cfg, self._backend_request)
                worker = self._starting = PlannerProcess(self._env, self._max_frame_bytes)
            try:
                backend = self._load(worker, *settings)
            except BaseException:
                worker.kill()
                raise
            finally:
                with self._state:
                    self._starting = None
            with self._state:
                if not self._closed and settings == (self.planner_cfg, self._backend_request):
                    self.backend_name = backend
                    install(worker)
                    return
                closed = self._closed
            worker.kill()
            if closed:
                raise PlannerUnavailable("planner process closed")

    def _load(self, worker: PlannerProcess, planner: PlannerConfig, backend: str) -> str:
        header = {"cmd": "load", "model": str(self.model_dir), "planner": to_dict(planner), "device": self.device,
                  "backend": backend, "threads": self.threads}
        try:
            reply = worker.channel.request(header, None, self.load_timeout_s)
        except PlannerTimeout:
            raise RuntimeError(f"planner process gave no reply to 'load' within {self.load_timeout_s:g} s "
                               "(raise load_timeout_s if loading this model takes longer)") from None
        except EOFError:
            code = worker.wait_exit(1.0)
            raise RuntimeError(f"planner process {'closed its connection' if code is None else describe_exit(code)} "
                               "while loading the model") from None
        except WireError as exc:
            raise RuntimeError(f"planner process sent a broken frame while loading: {exc}") from None
        if not reply.header.get("ok"):
            raise RuntimeError(f"planner process: {reply.header.get('error')}")
        return reply.header["backend"]
