"""Framing and plain-scalar decoding, compiled (`_decode.c`) or in numpy (`pure`).

`frame` and `fast_scalars` give the same results either way (see `pure` for what they return):
the compiled code runs unless the extension was not built, does not import, or
TSVIS_LIVE_PURE is set to anything but "" or "0" (tests and benchmarks use it to run the pure
path); `pure=True` asks for the pure path on one call.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
SIMPLE, TENSOR, TENSOR_SCALARS = 1, 2, 3  # record kinds, as `pure` and `_decode.c` number them


def _pure() -> ModuleType:
    """The numpy fallback, loaded when first asked for (its tables are built at import)."""
    from tsvis_live.formats._native import pure

    return pure


def _load() -> ModuleType | None:
    if os.environ.get("TSVIS_LIVE_PURE", "") not in ("", "0"):
        return None
    try:
        from tsvis_live.formats._native import _decode
    except ImportError as exc:
        log.info("compiled decoder unavailable (%s): decoding in pure Python", exc)
        return None
    return _decode


compiled: ModuleType | None = _load()


def frame(window: bytes, base: int, pure: bool = False) -> tuple[int, Any, np.ndarray, np.ndarray, int]:
    """(end offset, broken, data starts, data lengths, skipped): see `pure.frame`."""
    if pure or compiled is None:
        return _pure().frame(window, base)
    end, broken, starts, lengths, skipped = compiled.frame(window, base)
    return end, broken, np.frombuffer(starts, "<i8"), np.frombuffer(lengths, "<i8"), skipped


def fast_scalars(window: bytes, starts: np.ndarray, lengths: np.ndarray, tensors: bool,
                 pure: bool = False) -> tuple[Any, ...]:
    """(index, kind, wall, step, value, tags, ends) grouped by tag: see `pure.fast_scalars`."""
    if pure or compiled is None:
        return _pure().fast_scalars(window, starts, lengths, tensors)
    index, kind, wall, step, value, tags, ends = compiled.fast_scalars(
        window, np.ascontiguousarray(starts, "<i8"), np.ascontiguousarray(lengths, "<i8"), tensors)
    return (np.frombuffer(index, "<i8"), np.frombuffer(kind, "i1"), np.frombuffer(wall, "<f8"),
            np.frombuffer(step, "<i8"), np.frombuffer(value, "<f8"), tags,
            np.frombuffer(ends, "<i8"))


@dataclass(frozen=True, slots=True)
class Hits:
    """The plain-layout histogram records among the records asked about, as `_decode.c` finds
    them; histogram i's bucket rows are buckets[rows[i]:rows[i + 1]]. Its length: how many."""

    index: np.ndarray  # int64 record numbers, increasing
    step: np.ndarray  # int64
    stats: np.ndarray  # float64 (n, 6): wall time, min, max, num, sum, sum_squares
    rows: np.ndarray  # int64 (n + 1,)
    tag_ids: np.ndarray  # int32 into `tags`
    tags: list[bytes]  # each distinct tag once
    flags: np.ndarray  # uint8: HIST_TENSOR (a tensor, not a legacy `histo`) | HIST_META
    buckets: np.ndarray  # float64 (K, 3)

    def __len__(self) -> int:
        return len(self.index)


HIST_TENSOR, HIST_META = 1, 2  # Hits.flags, as histograms.c sets them


def histograms(window: bytes, starts: np.ndarray, lengths: np.ndarray) -> Hits | None:
    """Histogram records among `starts`, computed as `events` computes them; None if pure.

    Only plain layouts are listed (a legacy `histo` or a (k, 3) float tensor, with histogram
    metadata or none); whether a record is used as such depends on the plugin state (see
    `fasthist`). Arrays only: nothing is built per histogram.
    """
    if compiled is None:
        return None
    index, step, stats, rows, tag_ids, tags, flags, buckets = compiled.histograms(
        window, np.ascontiguousarray(starts, "<i8"), np.ascontiguousarray(lengths, "<i8"))
    return Hits(np.frombuffer(index, "<i8"), np.frombuffer(step, "<i8"), np.frombuffer(stats, "<f8").reshape(-1, 6),
                np.frombuffer(rows, "<i8"), np.frombuffer(tag_ids, "<i4"), tags, np.frombuffer(flags, "u1"),
                np.frombuffer(buckets, "<f8").reshape(-1, 3))
