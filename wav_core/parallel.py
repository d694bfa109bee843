"""Running independent jobs (one episode, one bag) in worker processes, or in this one."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def job_results(fn: Callable[[Any], Any], jobs: list, workers: int, ordered: bool = True) -> Iterator[Iterable]:
    """`with job_results(fn, jobs, workers) as results:` iterate fn(job) for every job.

    workers == 1 (or a single job) runs them here, one after another; otherwise in a pool of "spawn"
    processes (no forked MuJoCo, EGL or torch state), in job order when `ordered`, else as they
    finish. Leaving the block ends the workers, also on an error, so a failed job stops the rest.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: got {workers!r}, expected an integer >= 1")
    if workers == 1 or len(jobs) <= 1:
        yield map(fn, jobs)
        return
    pool = multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)))
    try:
        yield pool.imap(fn, jobs) if ordered else pool.imap_unordered(fn, jobs)
    finally:
        pool.terminate()
        pool.join()
