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
and logs the notes of the fallback records; notes of both kinds are merged afterwards (and
`_Scalars` keeps fallback points of fast tags per record, to be merged by record index). A
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
_HI, _LO7 = _U8(0x8080808080808080), _U8(0x7F7F7F7F7F7F7F7F)  # varint continuation / payload bits
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


_CRC = np.arange(256, dtype=np.uint32)[None].repeat(8, 0)  # slicing-by-8 tables of crc32c
for _ in range(8):
    _CRC[0] = (_CRC[0] >> 1) ^ np.where(_CRC[0] & 1, np.uint32(0x82F63B78), np.uint32(0))
for _k in range(1, 8):
    _CRC[_k] = (_CRC[_k - 1] >> 8) ^ _CRC[0][_CRC[_k - 1] & 0xFF]


def _crc8(words: np.ndarray) -> np.ndarray:
    """crc32c of many 8-byte strings given as little-endian u64 (slicing-by-8)."""
    x = words ^ _U8(0xFFFFFFFF)
    c = np.zeros(len(words), dtype=np.uint32)
    for k in range(8):
        c ^= _CRC[7 - k][((x >> _U8(8 * k)) & _U8(0xFF)).astype(np.intp)]
    return c ^ np.uint32(0xFFFFFFFF)


def _mask(c: np.ndarray) -> np.ndarray:
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
        reason = "length checksum mismatch" if bad_crc[k] else tfrecord.too_long(int(lengths[k]))
        err = tfrecord.BrokenFraming(base + int(heads[k]), reason)
        pos = int(heads[k])
        heads = heads[:k]
    heads = heads[: len(hdr)]
    footers = heads + 12 + lengths[: len(heads)].astype(np.int64)
    ok = _mask(np.frombuffer(crcs, dtype=np.uint32)[: len(heads)]) == _at(buf, "<u4")[footers]
    return heads, ok, base + pos, err


def _varint(u64: np.ndarray, buf: np.ndarray, pos: np.ndarray, limit: int) -> tuple[Any, Any, Any]:
    """Minimal varints of at most `limit` bytes at `pos`: (value as u64, byte count, ok)."""
    v, k, ok = buf[pos].astype(_U8), np.ones(len(pos), dtype=np.int64), np.ones(len(pos), dtype=bool)
    multi = np.flatnonzero(v >= _U8(0x80))  # most are one byte
    if len(multi):
        v[multi], k[multi], ok[multi] = _long_varint(u64, buf, pos[multi], limit)
    return v, k, ok


def _long_varint(u64: np.ndarray, buf: np.ndarray, pos: np.ndarray, limit: int) -> tuple[Any, Any, Any]:
    w = u64[pos]
    term = ~w & _HI
    low = term & (~term + _U8(1))  # high bit of the last byte; 0 if longer than 8 bytes
    mask = (low << _U8(1)) - _U8(1)
    k = np.frexp(low.astype(np.float64))[1].astype(np.int64) >> 3  # low is 2 ** (8 k - 1)
    v = w & mask & _LO7
    v = (v & _U8(0x007F007F007F007F)) | ((v & _U8(0x7F007F007F007F00)) >> _U8(1))
    v = (v & _U8(0x00003FFF00003FFF)) | ((v & _U8(0x3FFF00003FFF0000)) >> _U8(2))
    v = (v & _U8(0x000000000FFFFFFF)) | ((v & _U8(0x0FFFFFFF00000000)) >> _U8(4))
    ok = (term != 0) & ((w & (mask ^ (mask >> _U8(8)))) != 0)
    long = np.flatnonzero(term == 0)
    if limit > 8 and len(long):  # 9 or 10 bytes: negative or huge int64 steps
        b8, b9 = buf[pos[long] + 8].astype(_U8), buf[pos[long] + 9].astype(_U8)
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
        p, tl, good = p + 1 + k, tl.astype(np.int64), good & ok
        rest = ends - p - tl
        kind = np.zeros(len(p), dtype=np.int8)
        value = np.zeros(len(p), dtype=np.float64)
        for size, tpl, off, dtype, what in _TEMPLATES:
            if what == _TENSOR and not tensors:
                continue
            sel = np.flatnonzero(good & (rest == size))
            te = ends[sel] - size
            hit = u64[te] & _U8((1 << (8 * len(tpl))) - 1) == _U8(int.from_bytes(tpl, "little"))
            sel, te = sel[hit], te[hit]
            kind[sel] = what
            with np.errstate(invalid="ignore"):  # signaling NaNs are quieted, as in C
                value[sel] = _at(buf, dtype)[te + off]
        i = self.index = np.flatnonzero(kind)
        self.kind, self.wall, self.step, self.value = kind[i], wall[i], step[i], value[i]
        self._group(window, u64, p[i], tl[i])

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
        if (miss := uniq[at] != h).any():
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
        tags = [_utf8(window[a : a + m]) for a, m in zip(ts[rep].tolist(), tl[rep].tolist())]
        valid = np.array([t is not None for t in tags], dtype=bool)
        keep = same & valid[at]
        self.index, self.kind, self.wall = self.index[keep], self.kind[keep], self.wall[keep]
        self.step, self.value, ids = self.step[keep], self.value[keep], at[keep]
        # per tag, in file order: a stable sort by tag id
        self.order = np.argsort(ids.astype(np.uint16) if len(uniq) < 65536 else ids, kind="stable")
        ends = np.cumsum(np.bincount(ids, minlength=len(uniq))).tolist()
        self.tags = {t: (a, b) for t, a, b in zip(tags, [0] + ends, ends) if b > a}

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


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:  # protobuf rejects it too: the record takes the slow path
        return None


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
            k = int(np.searchsorted(idx, i, side="right"))
            if k == len(idx) or idx[k] > nxt or state == "scalars":
                continue
            if state and fast.kind[fast.order[fast.tags[tag][0] + k]] == _TENSOR:
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
    batch.skipped += len(ok) - len(good)  # data CRC failed
    for tensors in (True, False):
        fast = _Fast(window, buf, starts[good], ends[good], tensors)
        index = good[fast.index]
        fast_idx = {t: index[fast.order[a:b]] for t, (a, b) in fast.tags.items()}
        slow = ok.copy()
        slow[index] = False
        rows = zip(*(x.tolist() for x in (np.flatnonzero(slow), starts[slow], ends[slow])))
        if not fast_idx:  # nothing to interleave with
            _decode_all(window, base, rows, decoder, batch, None)
            return end, err
        sb = Batch(scalars=_Scalars(fast_idx))
        plugins = decoder.plugins
        decoder.plugins = live = _Plugins(plugins, fast_idx)
        try:
            _decode_all(window, base, rows, decoder, sb, live)
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
    for name in ("histograms", "blobs", "tensors", "graphs", "hparams", "layouts"):
        getattr(batch, name).extend(getattr(sb, name))
    batch.events += len(fast.index) + sb.events
    batch.skipped += sb.skipped
    return end, err


def _decode_all(window: bytes, base: int, rows: Any, decoder: EventDecoder, batch: Batch,
                live: _Plugins | None) -> None:
    """The old loop over the records `rows` (index, data start, data end) that are not fast."""
    scalars = batch.scalars
    for i, a, b in rows:
        if live is not None:
            live.cur = scalars.cur = i
        try:
            decoder.decode(window[a:b], batch)
        except DecodeError as exc:
            log.debug("skipping record at byte %d: %s", base + a - 12, exc)
            batch.skipped += 1


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
    cols_of = (fast.step[fast.order], fast.wall[fast.order], fast.value[fast.order])
    for tag in sorted(first, key=first.__getitem__):
        if tag in slow:  # no fast record has this tag
            new = slow[tag]
        else:  # fast points, with the fallback ones of the same tag put in by record index
            a, b = fast.tags[tag]
            s, w, v = (x[a:b].tolist() for x in cols_of)
            pieces = slow.pieces.get(tag, [])
            cuts = np.searchsorted(fast_idx[tag], [i for i, _ in pieces]).tolist() + [b - a]
            new = ScalarColumns(s[: cuts[0]], w[: cuts[0]], v[: cuts[0]])
            for (_, c), lo, hi in zip(pieces, cuts, cuts[1:]):
                new.steps += c.steps + s[lo:hi]
                new.wall_times += c.wall_times + w[lo:hi]
                new.values += c.values + v[lo:hi]
        cols = batch.scalars.get(tag)
        if cols is None:
            batch.scalars[tag] = new
        else:
            cols.steps += new.steps
            cols.wall_times += new.wall_times
            cols.values += new.values
