"""One planner child process and its connection: start it, ask it, end it for certain."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

from .plan_channel import Channel


class PlannerProcess:
    def __init__(self, env: dict[str, str], max_frame_bytes: int):
        parent, child = socket.socketpair()
        try:
            # Its own session: a Ctrl-C on the node's terminal reaches the node, which ends the child.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "wav_core.runtime.plan_worker", "--fd", str(child.fileno())],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()  # only the child holds its end, so its death reads as end-of-stream here
        self.channel = Channel(parent, max_frame_bytes)
        self.lock = threading.Lock()
        """Held by the one thread talking on the channel; never needed to end the process."""
        self.dead = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def exit_code(self) -> int | None:
        return self.proc.poll()

    def wait_exit(self, timeout_s: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGKILL and reap; wakes a thread blocked on the channel. Safe from any thread, any number of times."""
        self.dead = True
        self.channel.shutdown()
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        self.wait_exit(5.0)
        if self.lock.acquire(blocking=False):
            try:
                self.close_socket()
            finally:
                self.lock.release()

    def close_socket(self) -> None:
        """Only with `lock` held (no other thread may be reading the socket)."""
        self.channel.sock.close()


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"exited with code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exited with code {code}"


def child_env(threads: int, extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    if threads > 0:
        env["OMP_NUM_THREADS"] = str(threads)
    env.update(extra or {})
    return env
