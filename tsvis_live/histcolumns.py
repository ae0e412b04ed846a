"""Histograms as columns that still behave as the list of `HistogramRecord`s they stand for.

Why: the compiled decoder finds a window's histograms as arrays and the store writes them as
arrays (`store.histochunks`); building a Python object per histogram in between cost more than
decoding them. `HistogramColumns` is a `list` whose items are made from the columns the first
time anything reads it as a list (iteration, indexing, comparison...), once; until then, or as
long as nothing changed it, `columns()` gives the arrays to whoever can take them (the store,
pickling to and from worker processes). Slices and `take` give new columns, not records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tsvis_live.records import HistogramRecord


class HistogramColumns(list):
    """Histogram i: tags[ids[i]], steps[i], stats[i] (wall time, min, max, num, sum,
    sum_squares) and buckets[starts[i]:ends[i]] (rows of a (K, 3) float64 array)."""

    __slots__ = ("tags", "ids", "steps", "stats", "starts", "ends", "buckets", "_built", "_changed")

    def __init__(self, tags: Sequence[str | None], ids: np.ndarray, steps: np.ndarray, stats: np.ndarray,
                 starts: np.ndarray, ends: np.ndarray, buckets: np.ndarray) -> None:
        super().__init__()
        self.tags, self.ids, self.steps, self.stats = list(tags), ids, steps, stats
        self.starts, self.ends, self.buckets = starts, ends, buckets
        self._built = self._changed = False

    def columns(self) -> HistogramColumns | None:
        """Self while the columns still describe the list (nothing was added or removed)."""
        return None if self._changed else self

    def take(self, order: np.ndarray | slice) -> HistogramColumns:
        """The histograms `order` (indices or a slice) as new columns sharing the buckets."""
        return HistogramColumns(self.tags, self.ids[order], self.steps[order], self.stats[order],
                                self.starts[order], self.ends[order], self.buckets)

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """(cumulative bucket row ends, the rows one after the other): no copy when contiguous."""
        sizes = self.ends - self.starts
        ends = np.cumsum(sizes)
        n = len(sizes)
        if not n:
            return ends, np.zeros((0, 3))
        if n == 1 or bool(np.all(self.starts[1:] == self.ends[:-1])):
            return ends, self.buckets[int(self.starts[0]) : int(self.ends[-1])]
        rows = np.arange(int(ends[-1])) + np.repeat(self.starts - (ends - sizes), sizes)
        return ends, np.take(self.buckets, rows, axis=0)  # 4x buckets[rows] (19,350 rows: 50 vs 200 us)

    def _build(self) -> None:
        if self._built:
            return
        self._built = True
        tags, b = self.tags, self.buckets
        list.extend(self, [
            HistogramRecord(tags[t], s, w, b[a:e], lo, hi, num, total, squares)
            for t, s, (w, lo, hi, num, total, squares), a, e in zip(
                self.ids.tolist(), self.steps.tolist(), self.stats.tolist(), self.starts.tolist(),
                self.ends.tolist())])

    def __len__(self) -> int:
        return list.__len__(self) if self._built else len(self.steps)

    def __getitem__(self, key: Any) -> Any:
        if not self._built and isinstance(key, slice) and key.step in (None, 1):
            return self.take(key)
        self._build()
        return list.__getitem__(self, key)

    def __radd__(self, other: Any) -> Any:
        self._build()
        return other + list(self) if isinstance(other, list) else NotImplemented

    def __reduce__(self) -> tuple[Any, tuple]:
        if self._changed:
            return list, (list(self),)
        ends, rows = self.flat()
        starts = ends - (self.ends - self.starts)
        used = sorted(set(self.ids.tolist()))
        remap = np.zeros(len(self.tags), dtype="<i4")
        remap[used] = np.arange(len(used), dtype="<i4")
        return HistogramColumns, ([self.tags[i] for i in used], remap[self.ids], self.steps, self.stats,
                                  starts, ends, np.ascontiguousarray(rows))


def _reading(name: str) -> Callable[..., Any]:
    method = getattr(list, name)

    def call(self: HistogramColumns, *args: Any) -> Any:
        self._build()
        for arg in args:  # list's C code reads another list's items directly
            if isinstance(arg, HistogramColumns):
                arg._build()
        return method(self, *args)

    call.__name__ = name
    return call


def _changing(name: str) -> Callable[..., Any]:
    method = getattr(list, name)

    def call(self: HistogramColumns, *args: Any) -> Any:
        self._build()
        self._changed = True
        return method(self, *args)

    call.__name__ = name
    return call


for _name in ("__iter__", "__reversed__", "__contains__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__",
              "__ge__", "__add__", "__mul__", "__rmul__", "__repr__", "index", "count", "copy"):
    setattr(HistogramColumns, _name, _reading(_name))
for _name in ("__setitem__", "__delitem__", "__iadd__", "__imul__", "append", "extend", "insert", "pop",
              "remove", "reverse", "sort", "clear"):
    setattr(HistogramColumns, _name, _changing(_name))
HistogramColumns.__hash__ = None  # type: ignore[assignment]  # a list: unhashable
