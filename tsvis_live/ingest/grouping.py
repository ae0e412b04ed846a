"""Small files read whole, committed together: one transaction for many files.

A sweep's logdir holds thousands of small event files, each read in one window. One COMMIT
per file made the commit itself the biggest single cost of such a pass (a quarter of the store
writer's time on 1,000 runs x 50 tags). A pass in the ingesting thread therefore gathers the
files it reads whole in one window and commits them in one transaction, up to one window's
worth of bytes, so a live commit never waits behind more than it did before.

Nothing about a file is recorded before its group is committed: until then it stays claimed
and its new state is only in the group. A group that fails is committed again file by file, so
one file that cannot be stored fails alone; a store that cannot write fails them all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from tsvis_live.formats.detect import LogFile
from tsvis_live.ingest.faults import is_store_failure
from tsvis_live.ingest.progress import Progress
from tsvis_live.ingest.tailer import WINDOW, Span

if TYPE_CHECKING:
    from tsvis_live.ingest.ingester import Ingester

GROUP_BYTES = WINDOW  # a group writes no more than one window of a big file does
GROUP_FILES = 64


class SmallFiles:
    """The group being gathered by one in-thread pass."""

    def __init__(self, ingester: Ingester, prog: Progress, progress: Callable[[Progress], None] | None,
                 priority: int, todo: deque[LogFile]) -> None:
        self._ing = ingester
        self._prog, self._progress, self._priority, self._todo = prog, progress, priority, todo
        self._files: list[tuple[LogFile, Span]] = []
        self._bytes = 0

    def takes(self, span: Span) -> bool:
        """True when `span` (a file's first window, ending at the file's end) fits a group."""
        return span.bytes_read <= GROUP_BYTES and not span.replace

    def add(self, lf: LogFile, span: Span) -> None:
        if self._bytes + span.bytes_read > GROUP_BYTES:
            self.flush()
        self._files.append((lf, span))
        self._bytes += span.bytes_read
        if len(self._files) >= GROUP_FILES:
            self.flush()

    def flush(self) -> None:
        """Commit the gathered files and settle each: recorded and let go, or failed."""
        files, self._files, self._bytes = self._files, [], 0
        if not files:
            return
        ing = self._ing
        new = [span.state.id is None for _, span in files]
        try:
            commits = ing.store.commit_many(ing.writer, [(s.state, s.batch, s.replace) for _, s in files],
                                            self._priority).result()
        except Exception as exc:  # noqa: BLE001 - settled below, file by file
            for (_lf, span), was_new in zip(files, new):
                if was_new:
                    span.state.id = None  # the id it was given was rolled back with the group
            store_failed = is_store_failure(exc)
            left = files if store_failed else self._one_by_one(files)
            for lf, _span in left:  # not tried: the store cannot write; the next pass reads them
                ing.claims.release(ing._rel(lf))
            if store_failed:
                ing.containment.failed(ing._rel(files[0][0]), exc)
            return
        for (lf, span), commit in zip(files, commits):
            self._settle(lf, span, lambda c=commit: c)

    def _one_by_one(self, files: list[tuple[LogFile, Span]]) -> list[tuple[LogFile, Span]]:
        """Commit a failed group's files each on its own (one file's data failed the group);
        returns those left untried because the store itself failed meanwhile."""
        for i, (lf, span) in enumerate(files):
            if not self._settle(lf, span, lambda s=span: self._ing._submit(s, self._priority).result()):
                return files[i + 1 :]
        return []

    def _settle(self, lf: LogFile, span: Span, committed: Callable[[], object]) -> bool:
        """Record one file of the group, or its failure; False when the store failed."""
        ing = self._ing
        try:
            ing._stored(committed(), span, self._prog)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - this file backs off; the others go on
            ing.claims.release(ing._rel(lf))
            return not ing.containment.failed(ing._rel(lf), exc)
        if self._progress:
            self._progress(self._prog)
        if ing._file_stored(lf, self._priority):
            self._todo.appendleft(lf)  # it grew while in the group: read the new bytes too
            self._prog.files_done -= 1  # counted again when that read ends
        return True
