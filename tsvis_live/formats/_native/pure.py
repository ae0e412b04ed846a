"""The pure-Python (numpy) twins of `_decode.frame` and `_decode.fast_scalars`.

Same arguments, same results (as numpy arrays): the fallback when the C extension is missing,
and the reference the differential tests hold it to. Vectorised rather than per record: the
framing walk only collects record offsets (one `crc32c` call per record for the data, numpy for
the 8-byte lengths), then numpy checks the exact byte layout of all records at once.
"""

from __future__ import annotations

import struct
from array import array
from typing import Any

import numpy as np

from tsvis_live.formats import tfrecord
from tsvis_live.formats._native import SIMPLE, TENSOR, TENSOR_SCALARS

_U8 = np.uint64
PAD = 64  # zero bytes after the window: layout probes may read a little past a record
_HI, _LO7 = _U8(0x8080808080808080), _U8(0x7F7F7F7F7F7F7F7F)  # varint continuation / payload bits
_MASK_DELTA = np.uint32(tfrecord._MASK_DELTA)
# value bytes after the tag -> (length, template bytes, offset of the number, dtype, kind)
_TEMPLATES = [
    (5, b"\x15", 1, "<f4", SIMPLE),
    (12, b"\x42\x0a\x08\x01\x12\x00\x2a\x04", 8, "<f4", TENSOR),  # DT_FLOAT, empty shape
    (10, b"\x42\x08\x08\x01\x2a\x04", 6, "<f4", TENSOR),  # DT_FLOAT, no shape
    (16, b"\x42\x0e\x08\x02\x12\x00\x32\x08", 8, "<f8", TENSOR),  # DT_DOUBLE, empty shape
    (14, b"\x42\x0c\x08\x02\x32\x08", 6, "<f8", TENSOR),  # DT_DOUBLE, no shape
]
# Value.metadata after a tensor: plugin_data{plugin_name: "scalars"}[, data_class: DATA_CLASS_SCALAR]
# (TF2, Keras and torch's new style write it on each tag's first value)
_SCALARS_META = [b"\x4a\x0b\x0a\x09\x0a\x07scalars", b"\x4a\x0d\x0a\x09\x0a\x07scalars\x20\x01"]

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


def frame(window: bytes, base: int) -> tuple[int, Any, np.ndarray, np.ndarray, int]:
    """(end offset, broken, data starts, data lengths, skipped) of the records of `window`.

    Only records whose data CRC holds are listed; `skipped` counts the others. `broken` is None,
    or (file offset, None) for a length checksum mismatch, or (file offset, the absurd length).
    """
    from crc32c import crc32c as crc  # on first use: its import costs every start 30-70 ms

    size, pos = len(window), 0
    unpack = struct.Struct("<Q").unpack_from
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
    none = np.zeros(0, dtype=np.int64)
    if not len(heads):
        return base + pos, None, none, none, 0
    buf = np.frombuffer(window, dtype=np.uint8)
    lengths = _at(buf, "<u8")[heads]
    bad_crc = _mask(_crc8(lengths)) != _at(buf, "<u4")[heads + 8]
    bad = bad_crc | (lengths > tfrecord.MAX_RECORD_SIZE)
    broken = None
    if bad.any():
        k = int(np.argmax(bad))
        broken = (base + int(heads[k]), None if bad_crc[k] else int(lengths[k]))
        pos = int(heads[k])
        heads = heads[:k]
    heads = heads[: len(hdr)]
    lengths = lengths[: len(heads)].astype(np.int64)
    footers = heads + 12 + lengths
    ok = _mask(np.frombuffer(crcs, dtype=np.uint32)[: len(heads)]) == _at(buf, "<u4")[footers]
    return base + pos, broken, heads[ok] + tfrecord.HEADER_SIZE, lengths[ok], int((~ok).sum())


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


def fast_scalars(window: bytes, starts: np.ndarray, lengths: np.ndarray,
                 tensors: bool) -> tuple[Any, ...]:
    """The records laid out as `Event{wall_time?, step?, summary{value{tag, number}}}`.

    Returns (index, kind, wall, step, value, tags, ends): per matching record its number in
    `starts`, kind (SIMPLE, or only if `tensors` TENSOR or TENSOR_SCALARS), wall time, step and value, grouped
    by tag (tags in order of first appearance, records in file order within a tag); `tags` are
    the tag bytes and `ends[t]` is where tag t's records end in the columns.
    """
    buf = np.frombuffer(window + bytes(PAD), dtype=np.uint8)
    starts = np.asarray(starts, dtype=np.int64)
    ends = starts + np.asarray(lengths, dtype=np.int64)
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
    for key in (0x2A, 0x0A):  # summary{value{...}}: each a length-delimited field up to the end
        good &= buf[p] == key
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
        if what == TENSOR and not tensors:
            continue
        for meta in [b""] + (_SCALARS_META if what == TENSOR else []):
            sel = np.flatnonzero(good & (rest == size + len(meta)))
            te = ends[sel] - size - len(meta)
            hit = u64[te] & _U8((1 << (8 * len(tpl))) - 1) == _U8(int.from_bytes(tpl, "little"))
            if meta:
                tail = buf[(te + size)[:, None] + np.arange(len(meta))]
                hit &= (tail == np.frombuffer(meta, np.uint8)).all(axis=1)
            sel, te = sel[hit], te[hit]
            kind[sel] = TENSOR_SCALARS if meta else what
            with np.errstate(invalid="ignore"):  # signaling NaNs are quieted, as in C
                value[sel] = _at(buf, dtype)[te + off]
    i = np.flatnonzero(kind)
    ids, tags = _group(window, u64, p[i], tl[i])
    order = np.argsort(ids, kind="stable")
    bounds = np.cumsum(np.bincount(ids, minlength=len(tags))).astype(np.int64)
    return (i[order], kind[i][order], wall[i][order], step[i][order], value[i][order], tags,
            bounds)


def _group(window: bytes, u64: np.ndarray, ts: np.ndarray, tl: np.ndarray) -> tuple[Any, list[bytes]]:
    """Tag ids (in order of first appearance) and tag bytes: by a hash of the tag words,
    verified word for word against the first record of each hash."""
    n = len(ts)
    if n == 0:
        return np.zeros(0, dtype=np.int64), []
    h = tl.astype(_U8) * _U8(0x9E3779B97F4A7C15)
    nwords = (tl + 7) >> 3
    groups = [(sel, _hash(u64, ts, tl, h, sel, w))
              for w in np.flatnonzero(np.bincount(nwords)).tolist() if w
              for sel in [np.flatnonzero(nwords == w)]]
    uniq, first, at = np.unique(h, return_index=True, return_inverse=True)
    rep_of = first[at]
    same = tl == tl[rep_of]  # then a hash collision would be between equal word counts
    local = np.empty(n, dtype=np.intp)
    for sel, words in groups:
        local[sel] = np.arange(len(sel))
        mine = np.flatnonzero(same[sel])
        differ = (words[mine] != words[local[rep_of[sel[mine]]]]).any(axis=1)
        same[sel[mine[differ]]] = False
    if not same.all():  # a 64-bit hash collision: the odd tags get ids of their own
        at, first, extra = at.copy(), first.tolist(), {}
        for j in np.flatnonzero(~same).tolist():
            key = window[int(ts[j]) : int(ts[j] + tl[j])]
            if key not in extra:
                extra[key] = len(first)
                first.append(j)
            at[j] = extra[key]
        first = np.array(first, dtype=np.int64)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    tags = [b""] * len(first)
    for j, r in enumerate(rank.tolist()):
        a, m = int(ts[first[j]]), int(tl[first[j]])
        tags[r] = window[a : a + m]
    return rank[at], tags


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
