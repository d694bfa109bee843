"""The planner process: loads a model and answers plan requests on stdin/stdout (see wire.py).

Run by RemotePolicy; planning in its own process keeps the node's interpreter lock free for the
subscriptions and the 200 Hz executor, and gives the planner whole cores."""

from __future__ import annotations

import sys
import traceback

from ..config.loader import from_dict
from ..planning.config import PlannerConfig
from .wire import read_message, write_message


def serve(inp, out) -> None:
    import torch

    from ..planning.policy import WAVPolicy

    policy = None
    while True:
        try:
            header, arrays = read_message(inp)
        except EOFError:
            return
        cmd = header.get("cmd")
        try:
            if cmd == "load":
                if header.get("threads", 0) > 0:
                    torch.set_num_threads(int(header["threads"]))
                policy = WAVPolicy.load(header["model"], from_dict(PlannerConfig, header["planner"]),
                                        device=header.get("device", "cpu"), backend=header.get("backend", "torch"))
                write_message(out, {"ok": True, "backend": policy.backend.name})
            elif cmd == "planner":
                policy.set_planner(from_dict(PlannerConfig, header["planner"]))
                write_message(out, {"ok": True})
            elif cmd == "plan":
                images, state = arrays
                res = policy.plan(images, state, header["instruction"], seed=header.get("seed"),
                                  warm=bool(header.get("warm", False)))
                write_message(out, {"ok": True, "snr": res.snr, "iteration_best_snr": res.iteration_best_snr,
                                    "iteration_mean_snr": res.iteration_mean_snr, "iterations": res.iterations,
                                    "timings_ms": res.timings_ms}, [res.actions, res.values])
            elif cmd == "quit":
                write_message(out, {"ok": True})
                return
            else:
                write_message(out, {"ok": False, "error": f"unknown command {cmd!r}"})
        except Exception as exc:  # reported to the node, which holds and logs
            write_message(out, {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                                "trace": traceback.format_exc(limit=5)})


def main() -> None:
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()



