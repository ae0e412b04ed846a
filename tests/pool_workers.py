"""Find the process-pool workers of a process (to kill them, as the OOM killer would), and
make a worker fail the way a killed one does."""

from __future__ import annotations

import os
import struct
import sys
import time
from pathlib import Path


def pool_workers(pid: int) -> list[int]:
    """The pids of `pid`'s spawned pool workers (multiprocessing's resource tracker excluded)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            try:
                cmdline = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                kids.append(int(stat.parent.name))
    return sorted(kids)


def write_half_a_result() -> None:
    """Run in a pool worker: begin a result message on the pool's result pipe and never end it,
    as a worker killed while writing a large result leaves it (the pool's reader then waits
    inside `recv` for bytes that will not come)."""
    frame = sys._getframe()
    while frame is not None and "result_queue" not in frame.f_locals:
        frame = frame.f_back
    assert frame is not None, "not running in a ProcessPoolExecutor worker"
    writer = frame.f_locals["result_queue"]._writer
    os.write(writer.fileno(), struct.pack("!i", 1 << 20) + b"x" * 10)
    time.sleep(3600)
