"""One pass over a logdir: read what is new in every file and commit it.

Reading and decoding happen on the calling thread; commits go to the store (`Store.commit`,
run on the database's writer thread), so decoding the next window overlaps with writing the
previous one. Two passes may run at once,
on two threads: the first pass over a big logdir (the backlog, committed at BULK priority)
and live tailing of the files that file events name (URGENT), so a point flushed during the
backlog is stored and pushed at once; `FileClaims` keeps them off each other's files. A file
the live lane asked for while the backlog held it is handed back to the live lane (`handoff`)
once the backlog has read it to its end, so a trainer appending to a file the backlog happened
to be reading is not read at the backlog's pace from then on. Every commit carries the
file's new offset, so a pass can be interrupted at any moment and resumed without loss or
duplication. Each commit is handed to `on_commit` (the hub) after it lands.

A failure stays with what it touches (see `faults`): a file that cannot be read or stored backs
off alone while the others go on; a store that cannot write pauses the pass until it can.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from tsvis_live.formats import _native
from tsvis_live.formats.detect import LogFile
from tsvis_live.health import Health
from tsvis_live.ingest.claims import FileClaims
from tsvis_live.ingest.faults import Containment
from tsvis_live.ingest.grouping import SmallFiles
from tsvis_live.ingest.pool import decoding_pool
from tsvis_live.ingest.progress import Progress
from tsvis_live.ingest.source import Source, of_logdir
from tsvis_live.ingest.tailer import Span, Tailer
from tsvis_live.ingest.worker import read_span
from tsvis_live.store.database import BULK, URGENT, Database
from tsvis_live.store.filestate import FileState
from tsvis_live.store.provider import Store
from tsvis_live.store.writer import Commit

log = logging.getLogger(__name__)

# Above this much new data a pass decodes in worker processes. The compiled decoder reads
# ~3M events per core-second, faster than its results cross between processes: in the ingesting
# thread a pass takes 30-40% less CPU at every size and less wall time up to ~3M events (~200 MB)
# on 2 cores (docs/benchmarks.md). Decoding in pure Python is the bottleneck, so workers pay sooner.
BULK_BYTES = 32 << 20
NATIVE_BULK_BYTES = 192 << 20
# With the compiled decoder, worker processes need cores beside the one the store writer and the
# parent's own work take: on 2 cores a pool of 2 (or 1) read 10.2M events no faster than the
# ingesting thread (13.99 vs 12.49 s, medians of 3) with 55% more CPU and 172 vs 77 MB peak RSS.
NATIVE_POOL_MIN_CORES = 3


def bulk_bytes() -> int:
    """New bytes above which a pass uses worker processes (see BULK_BYTES)."""
    return NATIVE_BULK_BYTES if _native.compiled is not None else BULK_BYTES


def decode_workers() -> int:
    """Worker processes for a big pass: TSVIS_LIVE_DECODE_WORKERS, else one per core, or none
    (0: decode in the ingesting thread) with the compiled decoder on fewer than
    NATIVE_POOL_MIN_CORES cores. 0 or 1: no worker processes."""
    configured = os.environ.get("TSVIS_LIVE_DECODE_WORKERS", "").strip()
    if configured.isdigit():
        return int(configured)
    cores = os.cpu_count() or 1
    return 0 if _native.compiled is not None and cores < NATIVE_POOL_MIN_CORES else cores


class Ingester:
    """Keeps a session's store in step with its logdir, one pass at a time."""

    def __init__(self, store: Store | Database, logdir: Path | Source, on_commit: Callable[[Commit], None] | None = None,
                 stopping: threading.Event | None = None, health: Health | None = None,
                 handoff: Callable[[list[LogFile]], None] | None = None) -> None:
        self.store = store if isinstance(store, Store) else Store(store)
        self.health = health if health is not None else Health()
        self.containment = Containment(self.health)
        self.source = of_logdir(logdir)  # one local directory, a remote root, or several roots
        self.logdir = self.source.logdir
        self.on_commit = on_commit
        self.handoff = handoff  # reads a file on the live lane (see `_hand_back`); None: the backlog re-reads it
        self.writer = self.store.writer()  # its caches are dropped when a write rolls back
        self.states, plugins = self.store.file_states_sync()
        self.tailer = Tailer(plugins, self.source)
        self.stopping = stopping or threading.Event()  # set on shutdown: stop between windows
        self.claims = FileClaims()
        self._keys: dict[tuple[LogFile, Path | None], str] = {}  # see `_rel`
        self._runs: dict[tuple[Path, Path | None], str] = {}  # see `_run`
        self._bad_values: dict[str, int] = {}  # path -> values skipped as malformed (`_report_values`)

    def _rel(self, logfile: LogFile) -> str:
        """The file's name in the store, worked out once per file (a pass asks several times)."""
        key = (logfile, logfile.root)  # equal LogFiles of two nested roots have two names
        rel = self._keys.get(key)
        if rel is None:
            rel = self._keys[key] = self.source.key(logfile)
        return rel

    def _state_for(self, logfile: LogFile) -> FileState:
        rel = self._rel(logfile)
        state = self.states.get(rel)
        if state is None:
            state = FileState(path=rel, run=self._run(logfile), format=logfile.format)
        return state

    def _run(self, logfile: LogFile) -> str:
        """The file's run name, worked out once per run directory: with many runs, pathlib's
        `relative_to` for every new file took 17% of a first pass's GIL time."""
        key = (logfile.run_dir, logfile.root)
        run = self._runs.get(key)
        if run is None:
            run = self._runs[key] = self.source.run(logfile)
        return run

    def _submit(self, span: Span, priority: int) -> Future[Commit]:
        return self.store.commit(self.writer, span.state, span.batch, span.replace, priority)

    def pass_once(
        self, files: list[LogFile] | None = None, progress: Callable[[Progress], None] | None = None,
        backlog: bool = False,
    ) -> Progress:
        """Read every (or the given) log file up to its end and commit what is new.

        `backlog` marks the first pass over a logdir: its commits yield to live ones, and a
        concurrent live rescan leaves the files it has yet to read to it.
        """
        if files is None:
            logfiles = self.source.discover(self.health, self.stopping)
            if backlog:
                self.claims.plan([self._rel(lf) for lf in logfiles])
            else:  # a rescan while the backlog runs: only what the backlog will not read
                logfiles = [lf for lf in logfiles if not self.claims.planned(self._rel(lf))]
        else:
            logfiles = files
        priority = BULK if backlog else URGENT
        prog = Progress(files_total=len(logfiles))
        for lf in logfiles:
            state = self._state_for(lf)
            try:
                prog.bytes_total += max(0, self.source.size(lf) - state.offset)
            except OSError:
                pass
        workers = min(decode_workers(), len(logfiles))
        try:
            if prog.bytes_total >= bulk_bytes() and workers > 1 and self.source.parallel:
                try:
                    self._pass_parallel(logfiles, prog, progress, workers, priority)
                    return prog
                except BrokenProcessPool as exc:  # a worker died (OOM killer, a signal)
                    self.health.report("ingest", "workers", f"a decoding worker process died ({exc}); "
                                       "reading on in this process")
                    prog.files_done = 0  # the loop below goes over every file again, from its offset
            todo = deque(logfiles)
            group = SmallFiles(self, prog, progress, priority, todo)
            try:
                while todo:
                    lf = todo.popleft()
                    if self.stopping.is_set() or not self.containment.may_write():
                        break
                    if not self._read_claimed(lf, prog, progress, priority, group):
                        break  # the store cannot write: no other file can be stored either
                    prog.files_done += 1
                    if progress:
                        progress(prog)
                    if not todo:
                        group.flush()  # may give back a file that grew while the group held it
            finally:
                group.flush()
        finally:
            if backlog:
                self.claims.plan([])
        return prog

    def _read_claimed(self, lf: LogFile, prog: Progress, progress: Callable[[Progress], None] | None,
                      priority: int, group: SmallFiles | None = None) -> bool:
        """Read one file to its end unless another pass has it; False when the store failed.

        A file read whole in one window may go to `group` instead, which settles it later."""
        path = self._rel(lf)
        while self.containment.may_read(path) and self.claims.claim(path):
            try:
                grouped = self._ingest_file(lf, prog, progress, priority, group)
            except Exception as exc:
                self.claims.release(path)
                return not self.containment.failed(path, exc)
            if grouped or not self._file_stored(lf, priority):
                break  # nobody asked for it meanwhile (else: it grew, read the new bytes too)
        return True

    def _file_stored(self, lf: LogFile, priority: int) -> bool:
        """Let go of a file read to its end and stored; True when it grew meanwhile and this
        pass reads it again (rather than handing it back to the live lane)."""
        path = self._rel(lf)
        self.containment.finished(path)
        if priority == BULK:
            self.claims.done(path)
        return self.claims.release(path) and not self.stopping.is_set() and not self._hand_back(lf, priority)

    def _hand_back(self, lf: LogFile, priority: int) -> bool:
        """A file the live lane asked for while the backlog read it: True when it goes to the live
        lane now (URGENT, in the ingesting process) instead of being read again by the backlog,
        which would keep it at BULK priority for as long as its trainer keeps writing."""
        if priority != BULK or self.handoff is None:
            return False
        self.handoff([lf])
        return True

    def retry_now(self) -> None:
        """Make every backed-off file (and a paused store) due at the next pass."""
        self.containment.retry_now()

    def next_retry_in(self) -> float | None:
        """Seconds until a backed-off file or the store should be tried again (None: nothing waits)."""
        return self.containment.next_retry_in()

    def _pass_parallel(
        self, logfiles: list[LogFile], prog: Progress, progress: Callable[[Progress], None] | None, workers: int,
        priority: int,
    ) -> None:
        """Decode several files at once in worker processes; commit each window in file order.

        Each file has at most one window being read and one being committed: its next read
        starts as soon as a window is handed to the writer, so the worker decodes while the
        writer commits. That window's commit is settled before the next one is submitted, so
        a file's offsets are committed in order and a failed commit drops the window read after
        it (it starts where the failed one was to end). Commits stay on the single writer thread.
        """
        todo = list(reversed(logfiles))
        pending: dict[str, tuple[Future[Commit], Span]] = {}  # path -> its commit in flight
        with decoding_pool(workers) as pool:
            inflight: dict[Future, tuple[LogFile, FileState]] = {}

            def start(lf: LogFile, state: FileState) -> None:
                plugins = self.tailer.known_plugins(state.run)
                try:
                    inflight[pool.submit(read_span, lf, state, plugins)] = (lf, state)
                except (BrokenProcessPool, OSError, RuntimeError) as exc:
                    # A worker killed just before: submit() may see the broken pool, or trip
                    # over its half-closed queues ("handle is closed") while spawning a
                    # replacement. Either way the pool is gone: let every file go.
                    for other, _ in [(lf, None), *inflight.values()]:
                        self.claims.release(self._rel(other))
                    raise BrokenProcessPool(f"the worker pool broke: {exc}") from exc

            def start_next() -> None:
                while todo and not self.stopping.is_set() and self.containment.may_write():
                    nxt = todo.pop()
                    path = self._rel(nxt)
                    if self.containment.may_read(path) and self.claims.claim(path):
                        start(nxt, self._state_for(nxt))
                        return
                    prog.files_done += 1

            def settle(path: str) -> Span | None:
                """Wait for the file's commit in flight, if any; raises what the commit raised."""
                prev = pending.pop(path, None)
                if prev is None:
                    return None
                self._finish(*prev, prog)
                if progress:
                    progress(prog)
                return prev[1]

            try:
                while todo and len(inflight) < workers:
                    start_next()
                    if not todo:
                        break
                while inflight:
                    done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    for fut in done:
                        lf, _state = inflight.pop(fut)
                        path = self._rel(lf)
                        try:
                            committed = settle(path)  # before this window's result: its offset counts
                            try:
                                span = fut.result()
                            except BrokenProcessPool:  # not this file's fault: let every file go
                                for other, _ in [(lf, None), *inflight.values()]:
                                    self.claims.release(self._rel(other))
                                raise
                            if span is not None and committed is not None and span.state.id is None:
                                span.state.id = committed.state.id  # read before the commit gave it one
                            if span is not None and span.changed:
                                self.tailer.learn(span.state.run, span.batch.plugins)
                                commit = self._submit(span, priority)
                                st = span.state
                                if self.stopping.is_set():
                                    self._finish(commit, span, prog)
                                    self.claims.release(path)
                                    continue  # what is committed stays; the next start resumes there
                                if span.bytes_read > 0 and st.status == "ok" and st.offset < st.size:
                                    pending[path] = (commit, span)
                                    start(lf, st)
                                    continue
                                self._finish(commit, span, prog)
                                if progress:
                                    progress(prog)
                        except BrokenProcessPool:
                            raise
                        except Exception as exc:
                            self.claims.release(path)
                            self.containment.failed(path, exc)
                        else:
                            self.containment.finished(path)
                            if priority == BULK:
                                self.claims.done(path)
                            if self.claims.release(path) and not self._hand_back(lf, priority) \
                                    and self.claims.claim(path):
                                start(lf, self._state_for(lf))  # it grew meanwhile: read the new bytes
                                continue
                        prog.files_done += 1
                        start_next()
            finally:  # a broken pool or a stop: what was handed to the writer is settled first
                for path in list(pending):
                    try:
                        settle(path)
                    except Exception as exc:  # noqa: BLE001 - the file backs off; nothing was stored
                        self.containment.failed(path, exc)

    def _ingest_file(self, lf: LogFile, prog: Progress, progress: Callable[[Progress], None] | None,
                     priority: int = URGENT, group: SmallFiles | None = None) -> bool:
        """Read `lf` to its end, each window committed while the next is decoded; True when
        the file, read whole in one window, went to `group` instead."""
        state = self._state_for(lf)
        pending: tuple[Future[Commit], Span] | None = None
        while True:
            span = self.tailer.read(lf, state)
            if (group is not None and pending is None and span is not None and span.changed
                    and _at_end(span) and group.takes(span)):
                group.add(lf, span)
                return True
            if pending is not None:
                self._finish(*pending, prog)
                if span is not None and span.state.id is None:
                    span.state.id = pending[1].state.id
                pending = None
                if progress:
                    progress(prog)
            if span is None or not span.changed:
                return False
            pending = (self._submit(span, priority), span)
            if self.stopping.is_set() or _at_end(span):
                self._finish(*pending, prog)
                return False
            state = span.state

    def _report_values(self, span: Span) -> None:
        """Values skipped as malformed (a bad mesh part) while the file reads on: area "values",
        one problem per file, kept open since the skipped values stay skipped."""
        path, problems = span.state.path, span.batch.problems
        count = self._bad_values[path] = self._bad_values.get(path, 0) + len(problems)
        self.health.report("values", path, f"{count} value(s) skipped as malformed; the last: {problems[-1]}")

    def _finish(self, future: Future[Commit], span: Span, prog: Progress) -> None:
        self._stored(future.result(), span, prog)

    def _stored(self, commit: Commit, span: Span, prog: Progress) -> None:
        """Record a committed window: the file's new state, progress, and the hub's news."""
        self.containment.stored()
        self.states[span.state.path] = span.state
        prog.bytes_done += span.bytes_read
        prog.events += span.batch.events
        prog.points += commit.points
        prog.skipped += span.batch.skipped
        if span.batch.problems and span.state.status == "ok":  # values skipped in a read file
            self._report_values(span)
        if self.on_commit is not None:  # even a media-only commit moves the session's cursor
            self.on_commit(commit)


def _at_end(span: Span) -> bool:
    """The window read the file to its end (or to where it broke): nothing more to read now."""
    st = span.state
    return span.bytes_read == 0 or st.status != "ok" or st.offset >= st.size
