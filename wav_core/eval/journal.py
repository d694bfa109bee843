"""A journal of finished episodes, so an evaluation stopped part way (a time guard, a lost machine)
resumes where it stopped instead of starting its seeds again.

One JSON line per finished episode, appended and flushed as it finishes, keyed by everything that
decides its outcome: the model's weights, the task and evaluation settings and the planner setting.
A rerun with the same key reuses those episodes; a line written under another key (a retrained
model, other settings) is ignored, never mixed in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from ..planning import PlannerConfig
from .closed_loop import EpisodeResult, EvalConfig


def weights_digest(model_dir: str | Path) -> str:
    """Short SHA-256 of a model directory's weights file: what makes two evaluations the same model."""
    path = Path(model_dir) / "weights.safetensors"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def episode_key(weights: str, cfg: EvalConfig, planner: PlannerConfig, variant: dict | None = None) -> str:
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("episodes", "seed")}
    key = {"weights": weights, "eval": settings, "planner": dataclasses.asdict(planner)}
    if variant:
        key["variant"] = variant
    return json.dumps(key, sort_keys=True, default=str)


class EpisodeJournal:
    """`variant`: settings outside EvalConfig and PlannerConfig that also decide an episode (e.g. how
    `wav headroom` picks its chunks), part of the key; each line may carry an `extra` record of the
    episode, returned by `load` in `extras`."""

    def __init__(self, path: str | Path, weights: str, cfg: EvalConfig, variant: dict | None = None):
        self.path, self.weights, self.cfg, self.variant = Path(path), weights, cfg, variant
        self.extras: dict[tuple[int, int], dict] = {}

    def load(self, planners: list[PlannerConfig]) -> dict[tuple[int, int], EpisodeResult]:
        """The journalled episodes of these planner settings: (planner index, seed) -> result. A
        torn last line (the process killed mid-write) is cut off the file, so appends start clean."""
        keys = {episode_key(self.weights, self.cfg, p, self.variant): k for k, p in enumerate(planners)}
        done: dict[tuple[int, int], EpisodeResult] = {}
        if not self.path.is_file():
            return done
        lines = self.path.read_text().splitlines()
        for n, line in enumerate(lines, 1):
            try:
                rec = json.loads(line)
                k = keys.get(rec["key"])
                if k is not None:
                    res = EpisodeResult(**rec["episode"])
                    done[(k, res.seed)] = res
                    if "extra" in rec:
                        self.extras[(k, res.seed)] = rec["extra"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                if n < len(lines):
                    raise ValueError(f"{self.path}: line {n} is not a journalled episode ({exc})") from None
                self.path.write_text("".join(f"{kept}\n" for kept in lines[:-1]))
        return done

    def append(self, planner: PlannerConfig, res: EpisodeResult, extra: dict | None = None) -> None:
        rec = {"key": episode_key(self.weights, self.cfg, planner, self.variant), "episode": dataclasses.asdict(res)}
        if extra is not None:
            rec["extra"] = extra
        line = json.dumps(rec)
        with open(self.path, "a") as f:
            f.write(line + "\n")
            f.flush()
