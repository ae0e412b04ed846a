"""Read what is new in one log file since its stored offset.

Event files are tailed: only bytes past the offset are read, a short final record waits for
the next pass, a corrupt record is skipped and counted, broken framing marks the file. A file
that shrank or whose identity (inode, first bytes) changed is read again from zero, and the
store drops its old points in the same transaction. Whole-file formats (projector configs,
JSON graphs) are re-read entirely when their size or mtime changes. Where the bytes come from
is the source's business (`ingest.source`): a local file goes through
`formats.paths.open_contained` (nothing outside the logdir, no FIFO, is ever opened); an object
in a remote store is read by byte range, and "identity" is its version (ETag) instead of an inode.

When does a short final record stop being "still being written"? A length over 2 GiB never
will be (broken framing at once, in `tfrecord`). A plausible length that the file does not
hold yet is waited for as long as the file keeps changing; once the file has not been modified
for `STALL_SECONDS`, its writer is taken to be gone and the file is marked broken with a
sentence saying so (everything before that record is stored). If such a file grows after all,
it is read again from that record: nothing is lost by the verdict.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tsvis_live.formats import fastpath, tfrecord
from tsvis_live.formats.detect import TAILED_FORMATS, LogFile
from tsvis_live.ingest.source import HEAD_SIZE, LOCAL, FileIO, OpenedFile, Source
from tsvis_live.records import Batch
from tsvis_live.store.filestate import FileState

if TYPE_CHECKING:  # protobuf and the event protos load when a file first needs a decoder
    from tsvis_live.formats.events import EventDecoder

log = logging.getLogger(__name__)

__all__ = ["HEAD_SIZE", "STALLED", "Span", "Tailer"]
WINDOW = 2 << 20  # bytes read per step and per transaction: bounds memory, and how long a live commit waits behind a backlog one
STALL_SECONDS = 600.0  # a file unmodified this long ends where its writer stopped
STALLED = "the file ends inside a record"  # start of the error of a stalled file


@dataclass
class Span:
    """The result of one read: the file's next state, its points, and whether to replace."""

    state: FileState
    batch: Batch
    replace: bool
    bytes_read: int
    status_changed: bool = False

    @property
    def changed(self) -> bool:
        return self.replace or self.bytes_read > 0 or self.status_changed or not self.batch.is_empty()


def _stalled(data: bytes, at: int, st: Any, end: int) -> str | None:
    """The error for a file whose record at `end` cannot complete (see the module docstring)."""
    rest = st.st_size - end
    if rest <= 0 or time.time() - st.st_mtime < STALL_SECONDS:
        return None
    claim = tfrecord.pending_length(data, at)
    if claim is None and rest >= tfrecord.HEADER_SIZE:
        return None  # the window ended inside a header the file holds: not short
    if claim is not None and claim <= rest:
        return None
    what = f"needs {claim} bytes" if claim is not None else "has no complete header"
    return (f"{STALLED} at byte {end} (the record {what}, {rest} are there) and has not grown for "
            f"{int(time.time() - st.st_mtime)} s: its writer stopped mid-record; read again if it grows")


class Tailer:
    """Per-file reading state (decoders keep each tag's plugin between reads)."""

    def __init__(self, known_plugins: dict[str, dict[str, str]] | None = None,
                 source: Source | None = None) -> None:
        self._source = source  # None: local files (worker processes, tools)
        self._decoders: dict[str, EventDecoder] = {}
        self._runs: dict[str, str] = {}  # path -> run of each decoder
        self._known = known_plugins or {}

    def known_plugins(self, run: str) -> dict[str, str]:
        """Every tag -> plugin seen in a run so far (decoders of all its files pooled)."""
        merged = dict(self._known.get(run, {}))
        for path, dec in list(self._decoders.items()):  # a second ingest lane may add one
            if self._runs.get(path) == run:
                merged.update(dec.plugins)
        return merged

    def learn(self, run: str, plugins: dict[str, str]) -> None:
        """Remember plugins decoded elsewhere (in a worker process)."""
        if plugins:
            self._known.setdefault(run, {}).update(plugins)

    def _decoder(self, state: FileState) -> EventDecoder:
        dec = self._decoders.get(state.path)
        if dec is None:
            from tsvis_live.formats.events import EventDecoder

            dec = self._decoders[state.path] = EventDecoder(dict(self._known.get(state.run, {})))
            self._runs[state.path] = state.run
        return dec

    def read(self, logfile: LogFile, state: FileState, window: int = WINDOW) -> Span | None:
        """Read the next span of `logfile`; None when the file is gone or unchanged."""
        io = LOCAL if self._source is None else self._source.io(logfile)
        with io.opened(logfile) as opened:
            ident = opened.identity(state)
            if ident is None:
                return None
            st, head = ident
            replaced = io.replaced(state, st, head)
            if replaced:
                log.info("%s was replaced or truncated; reading it again", state.path)
                # the old file's head goes too: a new file shorter than it would look replaced again
                state = replace(state, offset=0, status="ok", error=None, events=0, skipped=0, head=b"")
                self._decoders.pop(state.path, None)
            if logfile.format in TAILED_FORMATS:
                return self._read_events(opened, logfile, state, st, head, replaced, window)
        return self._read_whole(io, logfile, state, st, head, replaced)

    def _read_whole(
        self, io: FileIO, logfile: LogFile, state: FileState, st: Any, head: bytes, replaced: bool
    ) -> Span | None:
        stamp = io.stamp(logfile, st)  # a projector config also follows its checkpoints
        if state.id is not None and not replaced and (st.st_size, stamp) == (state.size, state.mtime_ns):
            return None
        nxt = replace(state, inode=st.st_ino, head=head, size=st.st_size, mtime_ns=stamp,
                      offset=st.st_size, status="ok", error=None)
        try:
            batch = io.read_whole(logfile)
        except (ValueError, OSError) as exc:
            nxt.status, nxt.error = "broken", str(exc)
            batch = Batch()
        nxt.events, nxt.skipped = batch.events, batch.skipped
        if batch.problems:  # read, but not all of it: say which parts and why
            nxt.status, nxt.error = "partial", "; ".join(batch.problems)
        return Span(nxt, batch, replace=state.id is not None, bytes_read=st.st_size)

    def _read_events(
        self, opened: OpenedFile, logfile: LogFile, state: FileState, st: Any, head: bytes, replaced: bool,
        window: int,
    ) -> Span | None:
        new_head = head if len(head) > len(state.head) else state.head
        was = state.status
        if was != "ok" and (state.error or "").startswith(STALLED) and st.st_size != state.size:
            state = replace(state, status="ok", error=None)  # a stalled file grew after all
        nxt = replace(state, inode=st.st_ino, head=new_head, size=st.st_size, mtime_ns=st.st_mtime_ns)
        if state.id is not None and not replaced and (state.status != "ok" or st.st_size == state.offset):
            if new_head != state.head:
                return Span(nxt, Batch(), replace=False, bytes_read=0)
            return None
        batch = Batch()
        try:
            data = opened.read(state.offset, window)
        except OSError as exc:
            log.warning("cannot read %s: %s", logfile.path, exc)
            return None
        decoder = self._decoder(nxt)
        end, broken = fastpath.decode_window(data, state.offset, decoder, batch)
        if broken is None:
            broken = _stalled(data, end - state.offset, st, end)
        if broken is not None:
            log.warning("%s: %s; the rest of the file is ignored", state.path, broken)
            nxt.status, nxt.error = "broken", str(broken)
        nxt.offset = end
        nxt.events += batch.events
        nxt.skipped += batch.skipped
        return Span(nxt, batch, replace=replaced, bytes_read=end - state.offset,
                    status_changed=nxt.status != was)
