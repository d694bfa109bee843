"""The planner process: loads a model and answers requests on a socket it inherits (see wire.py).

Run by RemotePolicy; planning in its own process keeps the node's interpreter lock free for the
subscriptions and the 200 Hz executor, and gives the planner whole cores. The frames travel on
their own socket, and stdout is pointed at stderr, so whatever a library prints goes to the log
and never into a frame."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
import traceback
from dataclasses import fields

from ..config.loader import from_dict
from ..planning.config import PlannerConfig
from .wire import WireError, pack, read_message

TEST_HOOK_ENV = "WAV_PLANNER_TEST_HOOK"
"""Test-only, unset in use: a JSON object. {"stall_file": path} makes every load and plan wait while
that file exists (a hung planner), after writing the command's name to `path.waiting`;
{"print": text} makes every load and plan first print text to stdout, from Python and from the file
descriptor, the way a chatty library would."""


class Planner:
    """What the requests act on: the loaded WAVPolicy."""

    def __init__(self, test_hook: dict | None = None):
        self.policy = None
        self.hook = test_hook or {}

    def handle(self, header: dict, arrays: list) -> tuple[dict, list]:
        cmd = header.get("cmd")
        if cmd == "load":
            import torch

            from ..planning.policy import WAVPolicy

            self._chatter()
            self._stall(cmd)
            if header.get("threads", 0) > 0:
                torch.set_num_threads(int(header["threads"]))
            self.policy = WAVPolicy.load(header["model"], from_dict(PlannerConfig, header["planner"]),
                                         device=header.get("device", "cpu"), backend=header.get("backend", "torch"))
            return {"ok": True, "backend": self.policy.backend.name}, []
        if cmd not in ("planner", "backend", "reset", "plan"):
            return {"ok": False, "error": f"unknown command {cmd!r}"}, []
        if self.policy is None:
            return {"ok": False, "error": f"{cmd}: no model loaded yet"}, []
        if cmd == "planner":
            self.policy.set_planner(from_dict(PlannerConfig, header["planner"]))
            return {"ok": True, "backend": self.policy.backend.name}, []
        if cmd == "backend":
            self.policy.set_backend(header["backend"])
            return {"ok": True, "backend": self.policy.backend.name}, []
        if cmd == "reset":
            self.policy.reset()
            return {"ok": True}, []
        images, state = arrays
        self._chatter()
        self._stall(cmd)
        res = self.policy.plan(images, state, header["instruction"], seed=header.get("seed"),
                               warm=bool(header.get("warm", False)))
        summary = {f.name: getattr(res, f.name) for f in fields(res) if f.name not in ("actions", "values")}
        return {"ok": True, "result": summary}, [res.actions, res.values]

    def _chatter(self) -> None:
        if "print" in self.hook:
            print(self.hook["print"], flush=True)
            os.write(1, self.hook["print"].encode() + b"\n")

    def _stall(self, cmd: str) -> None:
        path = self.hook.get("stall_file")
        if path and os.path.exists(path):
            with open(f"{path}.waiting", "w") as f:
                f.write(cmd)
            while os.path.exists(path):
                time.sleep(0.05)


def serve(conn: socket.socket, planner: Planner) -> int:
    """Answer requests until `quit` or the node closes the connection; the exit code."""
    stream = conn.makefile("rb")
    while True:
        try:
            msg = read_message(stream)
        except EOFError:
            return 0
        except WireError as exc:
            print(f"plan_worker: {exc}; exiting", file=sys.stderr)
            return 2
        if msg.header.get("cmd") == "quit":
            conn.sendall(pack({"ok": True}, None, msg.request_id))
            return 0
        try:
            reply, arrays = planner.handle(msg.header, msg.arrays)
        except Exception as exc:  # reported to the node, which holds and logs
            reply, arrays = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                             "trace": traceback.format_exc(limit=5)}, []
        conn.sendall(pack(reply, arrays, msg.request_id))


def _exit_with_parent() -> None:
    """A planner whose node is gone has no one to answer; end it even if it is stuck in a plan."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="WAV planner process (started by RemotePolicy)")
    parser.add_argument("--fd", type=int, required=True, help="inherited socket for the framed requests")
    args = parser.parse_args(argv)
    os.dup2(2, 1)  # stdout is for logs only
    threading.Thread(target=_exit_with_parent, name="parent_watch", daemon=True).start()
    hook = json.loads(os.environ[TEST_HOOK_ENV]) if os.environ.get(TEST_HOOK_ENV) else None
    conn = socket.socket(fileno=args.fd)
    sys.exit(serve(conn, Planner(hook)))


if __name__ == "__main__":
    main()
