"""Run a command as a measured child process: wall time, CPU time, peak RSS.

Peak RSS comes from `wait4` (the kernel's ru_maxrss of that child, exact, in KB on Linux) and,
as a cross-check for programs that spawn workers, from polling the summed VmRSS of the whole
process tree every 20 ms. A `stop_when` predicate over stderr lines lets a server that never
exits by itself (the Rust data server) be stopped once it reports that it is done; VmHWM is
read from /proc just before it is killed.
"""

from __future__ import annotations

import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

PYTHON = sys.executable
T = TypeVar("T")
_HZ = os.sysconf("SC_CLK_TCK")


@dataclass
class ProcResult:
    cmd: list[str]
    returncode: int
    wall: float  # seconds from spawn to exit (or to the stop line)
    cpu: float  # user + system seconds of the child and its reaped descendants
    maxrss_mb: float  # ru_maxrss from wait4, MB
    tree_peak_mb: float  # sampled peak of the summed RSS of the process tree, MB
    tree_pss_mb: float  # sampled peak of the summed PSS (shared pages split fairly), MB
    stdout: str
    stderr: str
    stop_at: float | None = None  # seconds from spawn to the stop line, when one was awaited
    hwm_mb: float | None = None  # VmHWM read just before a stop
    lines: list[tuple[float, str]] = field(default_factory=list)  # (t, stderr line)
    others_cpu: float = 0.0  # CPU seconds used by everything else on the machine meanwhile
    harness_cpu: float = 0.0  # CPU seconds this measuring process spent meanwhile (polling)

    @property
    def others_share(self) -> float:
        """Average number of cores the rest of the machine kept busy during the run."""
        return self.others_cpu / self.wall if self.wall else 0.0

    def json_lines(self) -> list[str]:
        return [ln for ln in self.stdout.splitlines() if ln.startswith("{")]


def _status_kb(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _tree(pid: int) -> list[int]:
    pids, stack = [], [pid]
    while stack:
        p = stack.pop()
        pids.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return pids


def tree_rss_kb(pid: int) -> int:
    return sum(_status_kb(p, "VmRSS") or 0 for p in _tree(pid))


def tree_rss_pss_kb(pid: int) -> tuple[int, int]:
    """Summed (RSS, PSS) of a process and its descendants, from smaps_rollup."""
    rss = pss = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def run_measured(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 3600.0,
    stop_when: Callable[[str], bool] | None = None,
    poll: float = 0.02,
) -> ProcResult:
    """Run `cmd`, measure it, return its output. Stdout goes to a temp file (no pipe stalls)."""
    out_f = tempfile.TemporaryFile(mode="w+b")
    env_full = {**os.environ, **(env or {})}
    busy0, _ = _cpu_times()
    self0 = _self_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=out_f, stderr=subprocess.PIPE, env=env_full, cwd=cwd)
    lines: list[tuple[float, str]] = []
    stopped = threading.Event()
    stop_info: dict[str, float] = {}

    def read_err() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append((time.perf_counter() - t0, line))
            if stop_when is not None and not stopped.is_set() and stop_when(line):
                stop_info["t"] = time.perf_counter() - t0
                stop_info["hwm"] = float(_status_kb(proc.pid, "VmHWM") or 0)
                stopped.set()

    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    peak = peak_pss = 0
    next_pss, pss_cost = 0.0, 0.0
    deadline = t0 + timeout
    while True:
        if stopped.is_set():
            os.kill(proc.pid, signal.SIGKILL)
            break
        peak = max(peak, tree_rss_kb(proc.pid))
        now = time.perf_counter()
        if now >= next_pss:
            # smaps_rollup walks the page tables under the target's mmap lock: on a 3 GB process
            # that costs milliseconds and would slow it down, so keep its duty cycle near 1%
            _, pss = tree_rss_pss_kb(proc.pid)
            pss_cost = time.perf_counter() - now
            peak_pss = max(peak_pss, pss)
            next_pss = now + max(poll, 100 * pss_cost)
        if _exited(proc.pid):
            break
        if time.perf_counter() > deadline:
            os.kill(proc.pid, signal.SIGKILL)
            break
        stopped.wait(poll)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    busy1, _ = _cpu_times()
    harness = _self_cpu() - self0
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(timeout=5)
    out_f.seek(0)
    stdout = out_f.read().decode("utf-8", "replace")
    out_f.close()
    return ProcResult(
        cmd=list(cmd),
        returncode=proc.returncode,
        wall=stop_info.get("t", wall),
        cpu=usage.ru_utime + usage.ru_stime,
        maxrss_mb=usage.ru_maxrss / 1024,
        tree_peak_mb=peak / 1024,
        tree_pss_mb=peak_pss / 1024,
        stdout=stdout,
        stderr="\n".join(ln for _, ln in lines),
        stop_at=stop_info.get("t"),
        hwm_mb=stop_info["hwm"] / 1024 if "hwm" in stop_info else None,
        lines=lines,
        others_cpu=max(0.0, (busy1 - busy0) / _HZ - (usage.ru_utime + usage.ru_stime) - harness),
        harness_cpu=harness,
    )


def _exited(pid: int) -> bool:
    """True once the child has exited, without reaping it (wait4 collects its rusage later)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def dir_bytes(path: str | Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def warm_cache(path: str | Path) -> int:
    """Read every file once so that all measured tools start from the same warm page cache."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                while chunk := f.read(1 << 22):
                    total += len(chunk)
    return total


def _self_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return sum(parts) - idle, sum(parts)


def cpu_busy(interval: float = 0.5) -> float:
    """Fraction of all cores busy over `interval` seconds (other sessions share this machine)."""
    b0, t0 = _cpu_times()
    time.sleep(interval)
    b1, t1 = _cpu_times()
    return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


def wait_quiet(threshold: float = 0.2, max_wait: float = 90.0) -> float:
    """Wait (at most `max_wait` s) until the machine is mostly idle; return the last busy fraction."""
    deadline = time.perf_counter() + max_wait
    busy = cpu_busy()
    while busy > threshold and time.perf_counter() < deadline:
        busy = cpu_busy(1.0)
    return busy


def proc_cpu(pid: int) -> float:
    """utime + stime of a live process (all its threads), seconds; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _HZ


class Noise:
    """How many cores the rest of the machine (not us, not `pids`) kept busy over a span."""

    def __init__(self, *pids: int) -> None:
        self.pids = pids
        self.t0 = time.perf_counter()
        self.busy0 = _cpu_times()[0]
        self.self0 = _self_cpu()
        self.pid0 = sum(proc_cpu(p) for p in pids)

    def others_cores(self) -> float:
        span = time.perf_counter() - self.t0
        machine = (_cpu_times()[0] - self.busy0) / _HZ
        ours = _self_cpu() - self.self0 + sum(proc_cpu(p) for p in self.pids) - self.pid0
        return max(0.0, machine - ours) / span if span > 0 else 0.0


NOISY_CORES = 0.5  # a repeat during which other processes kept this many cores busy is redone


def clean_repeats(measure: Callable[[int], T], others: Callable[[T], float], repeats: int,
                  extra: int | None = None) -> tuple[list[T], list[T]]:
    """Run `measure(attempt)` until `repeats` runs were not disturbed by other load.

    At most `extra` (default `repeats`) additional attempts; if still short, the least disturbed
    of the noisy runs fill in. Returns (kept, discarded); every run is in one of the two.
    """
    clean: list[T] = []
    noisy: list[T] = []
    attempt = 0
    while len(clean) < repeats and attempt < repeats + (repeats if extra is None else extra):
        run = measure(attempt)
        (clean if others(run) < NOISY_CORES else noisy).append(run)
        attempt += 1
    noisy.sort(key=others)
    while len(clean) < repeats and noisy:
        clean.append(noisy.pop(0))
    return clean, noisy
