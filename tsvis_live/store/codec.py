"""How arrays and media become bytes in the database, and back.

Columns are little-endian numpy buffers (no pickle anywhere). Histogram buckets are usually
contiguous (each left edge is the previous right edge), so they are stored as k+1 edges and k
counts, which keeps the database smaller than the event files they came from.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

_CONTIGUOUS = b"\x01"
_RAW = b"\x00"


def pack_i64(values) -> bytes:
    return np.asarray(values, dtype="<i8").tobytes()


def pack_f64(values) -> bytes:
    return np.asarray(values, dtype="<f8").tobytes()


def unpack_i64(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i8")


def unpack_f64(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f8")


def bounds(arrays: list[np.ndarray]) -> tuple[list[int], list[int]]:
    """Min and max of each non-empty array, as Python ints, in one pass over all of them (a
    window holds a short array per tag; a reduction per array cost more than the insert)."""
    if not arrays:
        return [], []
    starts = np.zeros(len(arrays), dtype=np.intp)
    np.cumsum([len(a) for a in arrays[:-1]], out=starts[1:])
    flat = np.concatenate(arrays)
    return np.minimum.reduceat(flat, starts).tolist(), np.maximum.reduceat(flat, starts).tolist()


def chunk_cursors(row: Any) -> np.ndarray:
    """A chunk row's cursors (scalar or histogram chunks): its explicit `cursors` when they are
    not one contiguous range, else first_cursor..first_cursor + count - 1."""
    if row.cursors is not None:
        return unpack_i64(row.cursors)
    return np.arange(row.first_cursor, row.first_cursor + row.count, dtype="<i8")


def pack_buckets(buckets: np.ndarray) -> bytes:
    """(k, 3) left/right/count -> bytes; contiguous edges are stored once. The one-row-per-
    histogram format of schema 0003, which migration 0004 reads (and its downgrade writes)."""
    b = np.asarray(buckets, dtype="<f8").reshape(-1, 3)
    if len(b) and np.array_equal(b[1:, 0], b[:-1, 1]):
        edges = np.concatenate([b[:, 0], b[-1:, 1]])
        return _CONTIGUOUS + edges.tobytes() + b[:, 2].tobytes()
    return _RAW + b.tobytes()


def unpack_buckets(data: bytes) -> np.ndarray:
    body = np.frombuffer(data, dtype="<f8", offset=1)
    if data[:1] == _CONTIGUOUS:
        k = (len(body) - 1) // 2
        edges, counts = body[: k + 1], body[k + 1 :]
        return np.stack([edges[:-1], edges[1:], counts], axis=1)
    return body.reshape(-1, 3)


def pack_array(array: np.ndarray) -> bytes:
    """Any numeric or string array as .npy bytes (object arrays become unicode first)."""
    a = np.asarray(array)
    if a.dtype == object:
        a = a.astype(str)
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def unpack_array(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"BM", 0, "image/bmp"),
    (b"ID3", 0, "audio/mpeg"),
    (b"OggS", 0, "audio/ogg"),
    (b"fLaC", 0, "audio/flac"),
    (b"\x93NUMPY", 0, "application/x-npy"),
)


def sniff_mime(data: bytes, default: str = "application/octet-stream") -> str:
    """The MIME type told by the bytes themselves, never by what a writer claimed."""
    for magic, offset, mime in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return default
