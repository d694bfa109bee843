"""Running independent jobs (one episode, one bag) in worker processes, or in this one."""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

_init_error: BaseException | None = None
"""In a worker: what its initializer raised, re-raised by its first job."""


def _guarded_init(initializer: Callable, initargs: tuple) -> None:
    # An exception escaping a pool initializer makes the pool start replacement workers forever
    # instead of reporting it; keep it and fail the first job with it.
    global _init_error
    try:
        initializer(*initargs)
    except Exception as exc:
        _init_error = exc


def _guarded_call(fn: Callable[[Any], Any], job: Any) -> Any:
    if _init_error is not None:
        raise _init_error
    return fn(job)


@contextmanager
def job_results(fn: Callable[[Any], Any], jobs: list, workers: int, ordered: bool = True,
                initializer: Callable | None = None, initargs: tuple = ()) -> Iterator[Iterable]:
    """`with job_results(fn, jobs, workers) as results:` iterate fn(job) for every job.

    workers == 1 (or a single job) runs them here, one after another, after `initializer(*initargs)`;
    otherwise in a pool of "spawn" processes (no forked MuJoCo, EGL or torch state) that each run
    `initializer` once, in job order when `ordered`, else as they finish; an initializer's error ends
    the run with that error. Leaving the block ends the workers: normally (their exit handlers run)
    when every result was taken, at once on an error.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: got {workers!r}, expected an integer >= 1")
    if workers == 1 or len(jobs) <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield map(fn, jobs)
        return
    pool = multiprocessing.get_context("spawn").Pool(
        min(workers, len(jobs)), initializer=None if initializer is None else _guarded_init,
        initargs=() if initializer is None else (initializer, initargs))
    call = functools.partial(_guarded_call, fn)
    finished = False
    try:
        yield pool.imap(call, jobs) if ordered else pool.imap_unordered(call, jobs)
        finished = True
    finally:
        if finished:
            pool.close()
        else:
            pool.terminate()
        pool.join()
