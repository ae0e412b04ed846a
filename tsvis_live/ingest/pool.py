"""The worker processes of a parallel pass, and how they are let go when one of them dies."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager


@contextmanager
def decoding_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A process pool that never outlives a break: on `BrokenProcessPool` its workers are killed.

    When a worker dies, CPython's pool sends SIGTERM to the workers it knows of and then joins
    every one. A worker that does not exit on SIGTERM (a stopped process, or one spawned while
    the pool broke, which then blocks forever writing a result nobody reads: seen in CI) makes
    that join, and with it the whole pass, wait forever. SIGKILL cannot be ignored; see
    `kill_workers` for the pipe a killed worker can leave half written.
    """
    ctx = multiprocessing.get_context("spawn")  # never fork a process that runs threads
    pool = ProcessPoolExecutor(workers, mp_context=ctx)
    try:
        yield pool
    except BrokenProcessPool:
        kill_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True)


def kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL every live worker process of `pool` (CPython keeps them in `_processes`), then
    close this process's write end of the pool's result pipe.

    Why the pipe: the pool's reader thread may be inside `recv`, part of a large result read,
    when its writer dies; this process holds the pipe's write end too, so without closing it the
    reader never sees the pipe end and waits forever, and so does the pool's join (seen in CI
    with 2 MB windows). Closed, the reader gets EOF and lets the pool go as broken.
    """
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        if proc.is_alive():
            proc.kill()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.join(timeout=5)  # the kernel closes a killed worker's end of the pipe as it exits
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    if writer is not None:
        writer.close()
