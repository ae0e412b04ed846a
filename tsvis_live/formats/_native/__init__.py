"""Framing and plain-scalar decoding, compiled (`_decode.c`) or in numpy (`pure`).

`frame` and `fast_scalars` give the same results either way (see `pure` for what they return):
the compiled code runs unless the extension was not built, does not import, or
TSVIS_LIVE_PURE is set to anything but "" or "0" (tests and benchmarks use it to run the pure
path); `pure=True` asks for the pure path on one call.
"""

from __future__ import annotations

import logging
import os
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


def histograms(window: bytes, starts: np.ndarray, lengths: np.ndarray) -> dict[int, tuple] | None:
    """Histogram records among `starts`, computed as `events` computes them; None if pure.

    Record number -> (tag bytes, step, wall time, stats [min, max, num, sum, sum_squares],
    (k, 3) buckets, is a tensor, carries histogram metadata). Only plain layouts are listed;
    whether a record is used as such depends on the plugin state (see `fastpath`).
    """
    if compiled is None:
        return None
    index, step, stats, rows, tag_ids, tags, flags, buckets = compiled.histograms(
        window, np.ascontiguousarray(starts, "<i8"), np.ascontiguousarray(lengths, "<i8"))
    if not index:
        return {}
    rows = np.frombuffer(rows, "<i8").tolist()
    table = np.frombuffer(stats, "<f8").reshape(-1, 6).tolist()
    allb = np.frombuffer(buckets, "<f8").reshape(-1, 3)
    return {i: (tags[t], s, st[0], st[1:], allb[a:b], f & 1, f & 2) for i, s, st, t, f, a, b in zip(
        np.frombuffer(index, "<i8").tolist(), np.frombuffer(step, "<i8").tolist(), table,
        np.frombuffer(tag_ids, "<i4").tolist(), flags, rows, rows[1:])}
