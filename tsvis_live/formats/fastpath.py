"""Decode a window of TFRecord-framed Events, with a fast path for plain scalar events.

Why: parsing every record with protobuf and appending points one by one costs ~2 us per event
in Python, while nearly all events of real logs are one scalar each, laid out the same way:
`Event{wall_time, step, summary{value{tag, simple_value | rank-0 float/double tensor}}}`.
`_native` walks the framing (both CRCs checked) and picks out the records of exactly that
layout, column-wise and grouped by tag, in C (or in numpy when the extension is missing). Any
record that does not match exactly (histograms, metadata, several values, odd encodings, bad
UTF-8...) goes to `EventDecoder.decode` as before, except the plain histograms the compiled scan
computes (`fasthist`: kept as columns, `HistogramColumns`). Scalar columns of fast tags come
back as numpy arrays (int64 steps, float64 wall times and values).

The result is identical to `scan` + `decode` per record: same points in file order per tag,
same `events` / `skipped`, same plugin notes in the same order, same offset and framing error.
Plugin state is the subtle part: `decode` reads `decoder.plugins` (a tensor scalar is only a
scalar once its tag is known as one), so during the fallback pass `decoder.plugins` is a
`_Plugins` dict that answers as if the fast records before the current one had been decoded,
and logs the notes of the fallback records; notes of both kinds are merged afterwards (and
`_Scalars` keeps fallback points of fast tags per record, to be merged by record index). A
tensor record whose tag was claimed by another plugin cannot be decided that way: then the
window is decoded again with tensor records on the slow path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tsvis_live.formats import _native, fasthist, tfrecord
from tsvis_live.records import Batch, ScalarColumns

if TYPE_CHECKING:  # protobuf and the event protos load on the first record that needs them
    from tsvis_live.formats.events import EventDecoder

log = logging.getLogger(__name__)
_DTYPES = ("<i8", "<f8", "<f8")  # steps, wall times, values


@dataclass
class _Fast:
    """The records that match the scalar layout, grouped by tag (file order within a tag)."""

    index: np.ndarray  # record numbers
    kind: np.ndarray  # _native.SIMPLE, TENSOR or TENSOR_SCALARS (a tensor with "scalars" metadata)
    wall: np.ndarray
    step: np.ndarray
    value: np.ndarray
    tags: dict[str, tuple[int, int]]  # tag -> its slice of the columns

    @classmethod
    def scan(cls, window: bytes, starts: np.ndarray, lengths: np.ndarray, tensors: bool,
             pure: bool) -> _Fast:
        *cols, raw, ends = _native.fast_scalars(window, starts, lengths, tensors, pure)
        names = [fasthist.utf8(t) for t in raw]
        bounds = [0, *ends.tolist()]
        if None in names:  # protobuf rejects bad UTF-8 too: those records take the slow path
            valid, counts = np.array([t is not None for t in names]), np.diff(bounds)
            cols = [c[np.repeat(valid, counts)] for c in cols]
            bounds = [0, *np.cumsum(counts[valid]).tolist()]
            names = [t for t in names if t is not None]
        tags = dict(zip(names, zip(bounds, bounds[1:])))
        return cls(*cols, tags)


class _Plugins(dict):
    """`decoder.plugins` during the fallback pass (see the module docstring)."""

    def __init__(self, plugins: dict[str, str], fast: dict[str, np.ndarray]) -> None:
        super().__init__(plugins)
        self.fast, self.last, self.cur = fast, {}, -1
        self.notes: list[tuple[int, str, str]] = []

    def get(self, tag: Any, default: Any = None) -> Any:
        idx = self.fast.get(tag)
        if idx is not None:  # a fast record of this tag since its last note makes it "scalars"
            k = int(np.searchsorted(idx, self.last.get(tag, -1), side="right"))
            if k < len(idx) and idx[k] < self.cur:
                return "scalars"
        return dict.get(self, tag, default)

    def __setitem__(self, tag: str, plugin: str) -> None:
        self.notes.append((self.cur, tag, plugin))
        self.last[tag] = self.cur
        dict.__setitem__(self, tag, plugin)


def _fast_notes(fast: _Fast, fast_idx: dict[str, np.ndarray], plugins: dict[str, str],
                notes: list[tuple[int, str, str]]) -> list[tuple[int, str, str]] | None:
    """The plugin notes of the fast records; None if a tensor record met a foreign plugin."""
    by_tag: dict[str, list[tuple[int, str | None]]] = {}
    for i, tag, plugin in notes:
        by_tag.setdefault(tag, []).append((i, plugin))
    out = []
    for tag, idx in fast_idx.items():  # the first fast record after each note decides
        bounds = [(-1, plugins.get(tag)), *by_tag.get(tag, []), (1 << 62, None)]
        for (i, state), (nxt, _) in zip(bounds, bounds[1:]):
            # record numbers are >= 0: before any note the first fast record decides (no search:
            # a window of 1,500 files x 50 tags made 75,000 of them)
            k = 0 if i < 0 else int(np.searchsorted(idx, i, side="right"))
            if k == len(idx) or idx[k] > nxt or state == "scalars":
                continue
            if state and fast.kind[fast.tags[tag][0] + k] == _native.TENSOR:
                return None
            out.append((int(idx[k]), tag, "scalars"))
    return out


def decode_window(window: bytes, base: int, decoder: EventDecoder, batch: Batch,
                  pure: bool = False) -> tuple[int, tfrecord.BrokenFraming | None]:
    """Decode every complete record of `window` (first byte at file offset `base`) into `batch`.

    Returns the offset just past the last complete record and the framing error if the framing
    broke (then the offset is where it broke). Same results as `tfrecord.scan` + `decode`.
    `pure` runs the pure-Python framing and layout parse even when the compiled ones exist.
    """
    end, broken, starts, lengths, skipped = _native.frame(window, base, pure)
    err = None
    if broken is not None:
        at, length = broken
        why = "length checksum mismatch" if length is None else tfrecord.too_long(length)
        err = tfrecord.BrokenFraming(at, why)
    batch.skipped += skipped  # data CRC failed
    if not len(starts):
        return end, err
    ends = starts + lengths
    for tensors in (True, False):
        fast = _Fast.scan(window, starts, lengths, tensors, pure)
        fast_idx = {t: fast.index[a:b] for t, (a, b) in fast.tags.items()}
        slow = np.ones(len(starts), dtype=bool)
        slow[fast.index] = False
        numbers = np.flatnonzero(slow)
        slow_at = (numbers, starts[slow], ends[slow])
        hits = None if pure else _native.histograms(window, starts[slow], lengths[slow])
        if not fast_idx:  # nothing to interleave with
            fasthist.decode_slow(window, base, *slow_at, decoder, batch, None, hits)
            return end, err
        sb = Batch(scalars=_Scalars(fast_idx))
        plugins = decoder.plugins
        decoder.plugins = live = _Plugins(plugins, fast_idx)
        try:
            fasthist.decode_slow(window, base, *slow_at, decoder, sb, live, hits)
        finally:
            decoder.plugins = plugins
        notes = _fast_notes(fast, fast_idx, plugins, live.notes)
        if notes is not None:
            break
    assert notes is not None
    for _, tag, plugin in sorted(notes + live.notes, key=lambda n: n[0]):
        plugins[tag] = plugin
        batch.plugins[tag] = plugin
    _merge_scalars(batch, fast, fast_idx, sb.scalars)
    fasthist.add_histograms(batch, sb.histograms)
    for name in ("blobs", "tensors", "graphs", "hparams", "layouts", "problems"):
        getattr(batch, name).extend(getattr(sb, name))
    batch.events += len(fast.index) + sb.events
    batch.skipped += sb.skipped
    return end, err


class _Scalars(dict):
    """`batch.scalars` during the fallback pass: points of fast tags are kept per record."""

    def __init__(self, fast: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.fast, self.cur = fast, -1
        self.pieces: dict[str, list[tuple[int, ScalarColumns]]] = {}
        self.first: dict[str, tuple[int, int]] = {}  # tag -> (record, order) of its first point

    def get(self, tag: Any, default: Any = None) -> Any:
        if tag not in self.fast:
            return dict.get(self, tag, default)
        pieces = self.pieces.setdefault(tag, [])
        if not pieces or pieces[-1][0] != self.cur:
            pieces.append((self.cur, ScalarColumns()))
            self.first.setdefault(tag, (self.cur, len(self.first)))
        return pieces[-1][1]

    def __setitem__(self, tag: str, cols: ScalarColumns) -> None:
        self.first.setdefault(tag, (self.cur, len(self.first)))
        dict.__setitem__(self, tag, cols)


def _merge_scalars(batch: Batch, fast: _Fast, fast_idx: dict[str, np.ndarray],
                   slow: _Scalars) -> None:
    """Append fast and fallback points per tag in record order; tags in order of first point."""
    first = dict(slow.first)
    for t, idx in fast_idx.items():
        first[t] = min(first.get(t, (1 << 62, 0)), (int(idx[0]), -1))
    for tag in sorted(first, key=first.__getitem__):
        if tag in slow:  # no fast record has this tag
            new = slow[tag]
        else:  # fast points, with the fallback ones of the same tag put in by record index
            a, b = fast.tags[tag]
            s, w, v = fast.step[a:b], fast.wall[a:b], fast.value[a:b]
            pieces = slow.pieces.get(tag, [])
            if not pieces:
                new = ScalarColumns(s, w, v)
            else:
                cuts = [0, *np.searchsorted(fast_idx[tag], [i for i, _ in pieces]).tolist(), b - a]
                parts = [(s[lo:hi], w[lo:hi], v[lo:hi]) for lo, hi in zip(cuts, cuts[1:])]
                for k, (_, c) in enumerate(pieces):
                    parts.insert(2 * k + 1, (c.steps, c.wall_times, c.values))
                new = ScalarColumns(*(_concat([p[j] for p in parts], _DTYPES[j]) for j in range(3)))
        cols = batch.scalars.get(tag)
        if cols is None:
            batch.scalars[tag] = new
        else:
            cols.steps, cols.wall_times, cols.values = (
                _concat([old, add], dt) for old, add, dt in
                zip((cols.steps, cols.wall_times, cols.values), (new.steps, new.wall_times, new.values), _DTYPES))


def _concat(parts: list[Any], dtype: str) -> Any:
    """Lists stay lists (the decoder appends to them); anything else becomes one array."""
    if all(isinstance(p, list) for p in parts):
        return [x for p in parts for x in p]
    return np.concatenate([np.asarray(p, dtype=dtype) for p in parts])
