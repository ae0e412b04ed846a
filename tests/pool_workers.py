"""Find the process-pool workers of a process (to kill them, as the OOM killer would)."""

from __future__ import annotations

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
