"""The entry point of ingest worker processes: decode one window of one file.

A module of its own so that a spawned worker imports only the readers (no SQLAlchemy, no
Alembic): each worker then costs tens of megabytes less.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsvis_live.formats.detect import LogFile
from tsvis_live.histcolumns import HistogramColumns
from tsvis_live.ingest.tailer import Span, Tailer
from tsvis_live.records import HistogramRecord
from tsvis_live.store.filestate import FileState


def read_span(logfile: LogFile, state: FileState, plugins: dict[str, str]) -> Span | None:
    """Worker-process entry: decode the next window of one file (decoders are per call).

    The result crosses to the parent as numpy buffers: scalar columns as one array each, and
    all histograms of the span as a handful of arrays (`HistogramColumns` as the fast path
    found them, else `PackedHistograms`), since pickling an object and an array per histogram
    costs far more than the bytes themselves.
    """
    span = Tailer({state.run: plugins}).read(logfile, state)
    if span is not None:
        for cols in span.batch.scalars.values():
            cols.steps = np.asarray(cols.steps, dtype="<i8")
            cols.wall_times = np.asarray(cols.wall_times, dtype="<f8")
            cols.values = np.asarray(cols.values, dtype="<f8")
        hists = span.batch.histograms
        columnar = isinstance(hists, HistogramColumns) and hists.columns() is not None  # pickles as such
        if hists and not columnar and all(h.buckets.dtype == np.float64 and h.buckets.shape[1:] == (3,) for h in hists):
            span.batch.histograms = PackedHistograms(hists)
    return span


class PackedHistograms(list):
    """A list of `HistogramRecord`s that pickles as columns; it unpickles as a plain list."""

    def __reduce__(self) -> tuple[Any, tuple]:
        tags: dict[str, int] = {}
        ids = [tags.setdefault(h.tag, len(tags)) for h in self]
        steps = np.array([h.step for h in self], dtype="<i8")
        stats = np.array([(h.wall_time, h.min, h.max, h.num, h.sum, h.sum_squares) for h in self],
                         dtype="<f8")
        rows = np.cumsum([0] + [len(h.buckets) for h in self])
        buckets = np.concatenate([np.asarray(h.buckets, dtype="<f8").reshape(-1, 3) for h in self])
        return _unpack, (list(tags), np.array(ids, dtype="<i4"), steps, stats, rows, buckets)


def _unpack(tags: list[str], ids: np.ndarray, steps: np.ndarray, stats: np.ndarray, rows: np.ndarray,
            buckets: np.ndarray) -> list[HistogramRecord]:
    bounds = rows.tolist()
    return [HistogramRecord(tags[t], s, w, buckets[a:b], lo, hi, num, total, squares)
            for t, s, (w, lo, hi, num, total, squares), a, b
            in zip(ids.tolist(), steps.tolist(), stats.tolist(), bounds, bounds[1:])]
