"""Decode a window of TFRecord-framed Events, with a vectorized path for plain scalar events.

Why: parsing every record with protobuf and appending points one by one costs ~2 us per event
in Python, while nearly all events of real logs are one scalar each, laid out the same way:
`Event{wall_time, step, summary{value{tag, simple_value | rank-0 float/double tensor}}}`.
Here the framing walk only collects record offsets (CRCs: one C call per record for the data,
numpy for the 8-byte lengths), then numpy checks the exact byte layout of all records at once,
extracts wall_time / step / value column-wise and groups points by tag bytes. Any record that
does not match exactly (histograms, metadata, several values, odd encodings, bad UTF-8...)
goes to `EventDecoder.decode` as before.

The result is identical to `scan` + `decode` per record: same points in file order per tag,
same `events` / `skipped`, same plugin notes in the same order, same offset and framing error.
Plugin state is the subtle part: `decode` reads `decoder.plugins` (a tensor scalar is only a
scalar once its tag is known as one), so during the fallback pass `decoder.plugins` is a
`_Plugins` dict that answers as if the fast records before the current one had been decoded,
and logs the notes of the fallback records; notes of both kinds are merged afterwards. A
tensor record whose tag was claimed by another plugin cannot be decided that way: then the
window is decoded again with tensor records on the slow path.
"""

from __future__ import annotations

import logging
import struct
from array import array
from typing import Any

import crc32c as _crc32c
import numpy as np

from tsvis_live.formats import tfrecord
from tsvis_live.formats.events import DecodeError, EventDecoder
from tsvis_live.records import Batch, ScalarColumns

log = logging.getLogger(__name__)

_U8 = np.uint64
_PAD = 64  # zero bytes after the window: layout probes may read a little past a record
_HI = _U8(0x8080808080808080)
_LO7 = _U8(0x7F7F7F7F7F7F7F7F)
_MASK_DELTA = np.uint32(tfrecord._MASK_DELTA)
# value bytes after the tag -> (length, template bytes, offset of the number, dtype)
_SIMPLE, _TENSOR = 1, 2
_TEMPLATES = [
    (5, b"\x15", 1, "<f4", _SIMPLE),
    (12, b"\x42\x0a\x08\x01\x12\x00\x2a\x04", 8, "<f4", _TENSOR),  # DT_FLOAT, empty shape
    (10, b"\x42\x08\x08\x01\x2a\x04", 6, "<f4", _TENSOR),  # DT_FLOAT, no shape
    (16, b"\x42\x0e\x08\x02\x12\x00\x32\x08", 8, "<f8", _TENSOR),  # DT_DOUBLE, empty shape
    (14, b"\x42\x0c\x08\x02\x32\x08", 6, "<f8", _TENSOR),  # DT_DOUBLE, no shape
]


def _crc_tables() -> np.ndarray:
    t = np.zeros((8, 256), dtype=np.uint32)
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        t[0, b] = c
    for k in range(1, 8):
        t[k] = (t[k - 1] >> 8) ^ t[0][t[k - 1] & 0xFF]
    return t


_CRC = _crc_tables()


def _crc8(words: np.ndarray) -> np.ndarray:
    """crc32c of many 8-byte strings given as little-endian u64 (slicing-by-8)."""
    x = words ^ _U8(0xFFFFFFFF)
    c = np.zeros(len(words), dtype=np.uint32)
    for k in range(8):
        c ^= _CRC[7 - k][((x >> _U8(8 * k)) & _U8(0xFF)).astype(np.intp)]
    return c ^ np.uint32(0xFFFFFFFF)


def _mask(c: np.ndarray) -> np.ndarray:
    c = c.astype(np.uint32)
    return ((c >> np.uint32(15)) | (c << np.uint32(17))) + _MASK_DELTA


def _at(buf: np.ndarray, dtype: str) -> np.ndarray:
    """An overlapping view: element i is the `dtype` value stored at byte i of `buf`."""
    size = np.dtype(dtype).itemsize
    return np.ndarray((len(buf) - size + 1,), dtype=dtype, buffer=buf, strides=(1,))


def _frame(window: bytes, base: int) -> tuple[np.ndarray, np.ndarray, int, Any]:
    """Walk the framing: (header offsets, data CRC ok, end offset, BrokenFraming | None)."""
    size, pos = len(window), 0
    unpack, crc = struct.Struct("<Q").unpack_from, _crc32c.crc32c
    hdr, crcs = array("q"), array("I")
    add_hdr, add_crc = hdr.append, crcs.append
    try:
        while True:  # lengths are checked afterwards, all at once (garbage only adds work)
            end = pos + 16 + unpack(window, pos)[0]
            if end > size:
                break
            add_hdr(pos)
            add_crc(crc(window[pos + 12 : end - 4]))
            pos = end
    except struct.error:  # fewer than 8 bytes left
        pass
    heads = np.frombuffer(hdr, dtype=np.int64)
    if size - pos >= tfrecord.HEADER_SIZE:
        heads = np.append(heads, pos)
    if not len(heads):
        return heads, np.zeros(0, dtype=bool), base + pos, None
    buf = np.frombuffer(window, dtype=np.uint8)
    lengths = _at(buf, "<u8")[heads]
    bad_crc = _mask(_crc8(lengths)) != _at(buf, "<u4")[heads + 8]
    bad = bad_crc | (lengths > tfrecord.MAX_RECORD_SIZE)
    err = None
    if bad.any():
        k = int(np.argmax(bad))
        reason = "length checksum mismatch" if bad_crc[k] else f"record length {lengths[k]} is implausible"
        err = tfrecord.BrokenFraming(base + int(heads[k]), reason)
        pos = int(heads[k])
        heads = heads[:k]
    heads = heads[: len(hdr)]
    footers = heads + 12 + lengths[: len(heads)].astype(np.int64)
    ok = _mask(np.frombuffer(crcs, dtype=np.uint32)[: len(heads)]) == _at(buf, "<u4")[footers]
    return heads, ok, base + pos, err


def _varint(u64: np.ndarray, buf: np.ndarray, pos: np.ndarray, limit: int) -> tuple[Any, Any, Any]:
    """Minimal varints of at most `limit` bytes at `pos`: (value as u64, byte count, ok)."""
    v = buf[pos].astype(_U8)
    k = np.ones(len(pos), dtype=np.int64)
    ok = np.ones(len(pos), dtype=bool)
    multi = np.flatnonzero(v >= _U8(0x80))  # most are one byte
    if len(multi):
        v[multi], k[multi], ok[multi] = _long_varint(u64, buf, pos[multi], limit)
    return v, k, ok


def _long_varint(u64: np.ndarray, buf: np.ndarray, pos: np.ndarray, limit: int) -> tuple[Any, Any, Any]:
    w = u64[pos]
    term = ~w & _HI
    low = term & (~term + _U8(1))  # high bit of the last byte; 0 if longer than 8 bytes
    mask = (low << _U8(1)) - _U8(1)
    k = np.bitwise_count(mask).astype(np.int64) >> 3
    v = w & mask & _LO7
    v = (v & _U8(0x007F007F007F007F)) | ((v & _U8(0x7F007F007F007F00)) >> _U8(1))
    v = (v & _U8(0x00003FFF00003FFF)) | ((v & _U8(0x3FFF00003FFF0000)) >> _U8(2))
    v = (v & _U8(0x000000000FFFFFFF)) | ((v & _U8(0x0FFFFFFF00000000)) >> _U8(4))
    ok = (term != 0) & ((w & (mask ^ (mask >> _U8(8)))) != 0)
    long = np.flatnonzero(term == 0)
    if limit > 8 and len(long):  # 9 or 10 bytes: negative or huge int64 steps
        b8 = buf[pos[long] + 8].astype(_U8)
        b9 = buf[pos[long] + 9].astype(_U8)
        nine = b8 < 0x80
        ten = ~nine & (b9 == 1)
        v[long] |= ((b8 & _U8(0x7F)) << _U8(56)) | np.where(ten, _U8(1) << _U8(63), _U8(0))
        k[long] = np.where(nine, 9, 10)
        ok[long] = (nine & (b8 != 0)) | ten
    return v, k, ok & (k <= limit)


class _Fast:
    """The records that match the scalar layout: record index, kind, tag id, columns."""

    def __init__(self, window: bytes, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 tensors: bool) -> None:
        u64 = _at(buf, "<u8")
        p = starts.copy()
        has_wall = buf[p] == 0x09
        wall = np.where(has_wall, _at(buf, "<f8")[p + 1], 0.0)
        p += 9 * has_wall
        has_step = buf[p] == 0x10
        step, k, good = _varint(u64, buf, p + 1, 10)
        step = np.where(has_step, step, _U8(0)).view(np.int64)
        good |= ~has_step
        p += np.where(has_step, 1 + k, 0)
        for _ in range(2):  # summary{value{...}}: each a length-delimited field up to the end
            good &= buf[p] == (0x2A if _ == 0 else 0x0A)
            n, k, ok = _varint(u64, buf, p + 1, 5)
            p += 1 + k
            good &= ok & (p + n.astype(np.int64) == ends)
        good &= buf[p] == 0x0A
        tl, k, ok = _varint(u64, buf, p + 1, 5)
        p += 1 + k
        tl = tl.astype(np.int64)
        good &= ok
        rest = ends - p - tl
        kind = np.zeros(len(p), dtype=np.int8)
        value = np.zeros(len(p), dtype=np.float64)
        for size, tpl, off, dtype, what in _TEMPLATES:
            if what == _TENSOR and not tensors:
                continue
            sel = np.flatnonzero(good & (rest == size))
            te = ends[sel] - size
            nb = len(tpl)
            word = u64[te] & _U8((1 << (8 * nb)) - 1)
            hit = word == _U8(int.from_bytes(tpl, "little"))
            sel, te = sel[hit], te[hit]
            kind[sel] = what
            with np.errstate(invalid="ignore"):  # signaling NaNs are quieted, as in C
                value[sel] = _at(buf, dtype)[te + off]
        self.index = np.flatnonzero(kind)
        self.kind, self.wall, self.step = kind[self.index], wall[self.index], step[self.index]
        self.value = value[self.index]
        self._group(window, u64, p[self.index], tl[self.index])

    def _group(self, window: bytes, u64: np.ndarray, ts: np.ndarray, tl: np.ndarray) -> None:
        """Tag ids by a hash of the tag bytes, verified byte for byte; bad UTF-8 drops out."""
        n = len(ts)
        h = tl.astype(_U8) * _U8(0x9E3779B97F4A7C15)
        nwords = (tl + 7) >> 3
        groups = [(sel, self._hash(u64, ts, tl, h, sel, w))
                  for w in np.flatnonzero(np.bincount(nwords)).tolist() if w
                  for sel in [np.flatnonzero(nwords == w)]]
        if n == 0:
            self.order, self.tags = np.zeros(0, dtype=np.intp), {}
            return
        uniq = np.unique(h[:4096])  # most windows cycle through a few tags: sample, then fix up
        at = np.minimum(np.searchsorted(uniq, h), len(uniq) - 1)
        miss = uniq[at] != h
        if miss.any():
            uniq = np.union1d(uniq, h[miss])
            at = np.searchsorted(uniq, h)
        rep = np.empty(len(uniq), dtype=np.int64)
        rep[at] = np.arange(n)
        rep_of = rep[at]
        same = tl == tl[rep_of]  # then a hash collision would be between equal word counts
        local = np.empty(n, dtype=np.intp)
        for sel, words in groups:
            local[sel] = np.arange(len(sel))
            mine = np.flatnonzero(same[sel])
            differ = (words[mine] != words[local[rep_of[sel[mine]]]]).any(axis=1)
            same[sel[mine[differ]]] = False
        tags: list[str | None] = []
        for r in rep.tolist():
            try:
                tags.append(window[int(ts[r]) : int(ts[r] + tl[r])].decode("utf-8"))
            except UnicodeDecodeError:
                tags.append(None)
        valid = np.array([t is not None for t in tags], dtype=bool)
        keep = same & valid[at]
        self.index, self.kind, self.wall = self.index[keep], self.kind[keep], self.wall[keep]
        self.step, self.value, ids = self.step[keep], self.value[keep], at[keep]
        # per tag, in file order: a stable sort by tag id
        order = np.argsort(ids.astype(np.uint16) if len(uniq) < 65536 else ids, kind="stable")
        bounds = np.cumsum(np.bincount(ids, minlength=len(uniq)))
        self.order, self.tags = order, {}
        start = 0
        for t, stop in zip(tags, bounds.tolist()):
            if stop > start:
                self.tags[t] = (start, stop)
            start = stop

    @staticmethod
    def _hash(u64: np.ndarray, ts: np.ndarray, tl: np.ndarray, h: np.ndarray, sel: np.ndarray,
              nwords: int) -> np.ndarray:
        """Mix the tag words of records `sel` into `h`; returns the (len(sel), nwords) words."""
        words = u64[ts[sel, None] + 8 * np.arange(nwords)]
        last = (tl[sel] - 8 * (nwords - 1)).astype(_U8)
        words[:, -1] &= np.where(last == 8, ~_U8(0), (_U8(1) << (last * _U8(8))) - _U8(1))
        acc = h[sel]
        for j in range(nwords):
            acc = (acc ^ words[:, j]) * _U8(0xFF51AFD7ED558CCD)
            acc ^= acc >> _U8(29)
        h[sel] = acc
        return words


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
    by_tag: dict[str, list[tuple[int, str]]] = {}
    for i, tag, plugin in notes:
        if tag in fast_idx:
            by_tag.setdefault(tag, []).append((i, plugin))
    out = []
    for tag, idx in fast_idx.items():
        bounds = [(-1, plugins.get(tag))] + by_tag.get(tag, [])
        for j, (i, state) in enumerate(bounds):
            nxt = bounds[j + 1][0] if j + 1 < len(bounds) else 1 << 62
            k = int(np.searchsorted(idx, i, side="right"))
            if i == nxt or k == len(idx) or idx[k] > nxt or state == "scalars":
                continue
            lo, _ = fast.tags[tag]
            if state and fast.kind[fast.order[lo + k]] == _TENSOR:
                return None
            out.append((int(idx[k]), tag, "scalars"))
    return out


def decode_window(window: bytes, base: int, decoder: EventDecoder,
                  batch: Batch) -> tuple[int, tfrecord.BrokenFraming | None]:
    """Decode every complete record of `window` (first byte at file offset `base`) into `batch`.

    Returns the offset just past the last complete record and the framing error if the framing
    broke (then the offset is where it broke). Same results as `tfrecord.scan` + `decode`.
    """
    heads, ok, end, err = _frame(window, base)
    if not len(heads):
        return end, err
    buf = np.frombuffer(window + bytes(_PAD), dtype=np.uint8)
    starts = heads + tfrecord.HEADER_SIZE
    ends = starts + _at(buf, "<u8")[heads].astype(np.int64)
    good = np.flatnonzero(ok)
    for tensors in (True, False):
        fast = _Fast(window, buf, starts[good], ends[good], tensors)
        index = good[fast.index]
        fast_idx = {t: index[fast.order[a:b]] for t, (a, b) in fast.tags.items()}
        slow = np.ones(len(heads), dtype=bool)
        slow[index] = False
        slow &= ok
        sb = Batch()
        plugins = decoder.plugins
        decoder.plugins = live = _Plugins(plugins, fast_idx)
        caps: list[tuple[int, dict[str, ScalarColumns]]] = []
        try:
            for i, a, b in zip(*(x.tolist() for x in (np.flatnonzero(slow), starts[slow], ends[slow]))):
                live.cur = i
                sb.scalars = caps_i = {}
                try:
                    decoder.decode(window[a:b], sb)
                except DecodeError as exc:
                    log.debug("skipping record at byte %d: %s", base + a - 12, exc)
                    sb.skipped += 1
                if caps_i:
                    caps.append((i, caps_i))
        finally:
            decoder.plugins = plugins
        notes = _fast_notes(fast, fast_idx, plugins, live.notes)
        if notes is not None:
            break
    assert notes is not None
    for _, tag, plugin in sorted(notes + live.notes, key=lambda n: n[0]):
        plugins[tag] = plugin
        batch.plugins[tag] = plugin
    _merge_scalars(batch, fast, fast_idx, caps)
    for name in ("histograms", "blobs", "tensors", "graphs", "hparams", "layouts"):
        getattr(batch, name).extend(getattr(sb, name))
    batch.events += len(fast.index) + sb.events
    batch.skipped += int(len(ok) - ok.sum()) + sb.skipped
    return end, err


def _merge_scalars(batch: Batch, fast: _Fast, fast_idx: dict[str, np.ndarray],
                   caps: list[tuple[int, dict[str, ScalarColumns]]]) -> None:
    """Append fast and fallback points per tag in record order; tags in order of first point."""
    slow: dict[str, list[tuple[int, ScalarColumns]]] = {}
    first: dict[str, tuple[int, int]] = {t: (int(idx[0]), 0) for t, idx in fast_idx.items()}
    for i, cols in caps:
        for j, (tag, c) in enumerate(cols.items()):
            slow.setdefault(tag, []).append((i, c))
            if tag not in first or first[tag][0] > i:
                first[tag] = (i, j)
    cols_of = (fast.step[fast.order], fast.wall[fast.order], fast.value[fast.order])
    for tag in sorted(first, key=first.__getitem__):
        a, b = fast.tags.get(tag, (0, 0))
        steps, walls, values = (x[a:b].tolist() for x in cols_of)
        pieces = slow.get(tag)
        if pieces:  # interleave the fallback points by record index
            idx = fast_idx.get(tag, np.zeros(0, dtype=np.int64))
            cuts = np.searchsorted(idx, [i for i, _ in pieces]).tolist()
            s, w, v = steps, walls, values
            steps, walls, values, prev = [], [], [], 0
            for cut, (_, c) in zip(cuts, pieces):
                steps += s[prev:cut] + c.steps
                walls += w[prev:cut] + c.wall_times
                values += v[prev:cut] + c.values
                prev = cut
            steps, walls, values = steps + s[prev:], walls + w[prev:], values + v[prev:]
        cols = batch.scalars.get(tag)
        if cols is None:
            batch.scalars[tag] = ScalarColumns(steps, walls, values)
        else:
            cols.steps += steps
            cols.wall_times += walls
            cols.values += values
