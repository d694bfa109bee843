"""Task registry: names accepted by `SimEnv(task=...)` and `wav sim ... --task`."""

from __future__ import annotations

from .base import Task
from .bowl import BowlTask
from .drawer import DrawerTask

TASKS: dict[str, type[Task]] = {"drawer": DrawerTask, "bowl": BowlTask}


def make_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"task: got {name!r}, expected one of {sorted(TASKS)}")
    return TASKS[name]()


__all__ = ["TASKS", "Task", "make_task"]
