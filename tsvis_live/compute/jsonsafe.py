"""JSON encoding for responses: NaN/+Inf/-Inf become "NaN"/"Infinity"/"-Infinity".

The TS-VIS frontend uses ``JSON.parse``, which rejects bare ``NaN``/``Infinity``.

Design: encode once with the C encoder (``allow_nan=True``), which writes non-finite
floats as the bare tokens ``NaN``, ``Infinity``, ``-Infinity``. Clean data (the usual
case) is detected with two substring searches and returned untouched. Otherwise a
correct post-pass quotes exactly the tokens that lie *outside* string literals: a
string delimiter is a ``"`` preceded by an even number of backslashes, so the parity
of delimiters before a match tells whether it is inside a string. A tag named
``"NaN"`` or text containing ``Infinity`` is therefore never altered.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

_QUOTE = 0x22
_BACKSLASH = 0x5C


def _default(obj: Any) -> Any:
    """Make numpy values encodable; non-finite floats are fixed by the post-pass."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _encode(obj: Any) -> bytes:
    text = json.dumps(obj, allow_nan=True, default=_default, separators=(",", ":"),
                      ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: let json escape them instead
        text = json.dumps(obj, allow_nan=True, default=_default, separators=(",", ":"),
                          ensure_ascii=True)
        return text.encode("ascii")


def _string_delimiters(buf: bytes) -> np.ndarray:
    """Sorted positions of the quotes that open or close JSON strings."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    quotes = np.flatnonzero(arr == _QUOTE)
    if quotes.size == 0:
        return quotes
    prev = quotes - 1
    maybe_escaped = quotes[(prev >= 0) & (arr[np.maximum(prev, 0)] == _BACKSLASH)]
    if maybe_escaped.size == 0:
        return quotes
    escaped = []
    for q in maybe_escaped.tolist():
        run = 0
        i = q - 1
        while i >= 0 and buf[i] == _BACKSLASH:
            run += 1
            i -= 1
        if run % 2:
            escaped.append(q)
    if not escaped:
        return quotes
    return np.setdiff1d(quotes, np.asarray(escaped, dtype=quotes.dtype), assume_unique=True)


def _find_all(buf: bytes, needle: bytes) -> list[int]:
    out = []
    i = buf.find(needle)
    while i >= 0:
        out.append(i)
        i = buf.find(needle, i + len(needle))
    return out


def _tokens(buf: bytes) -> list[tuple[int, int]]:
    """Spans of ``NaN``/``Infinity``/``-Infinity`` candidates (in strings or not).

    ``bytes.find`` is a fast memchr-style scan, much quicker than a regex over a
    large body.
    """
    spans = [(i, i + 3) for i in _find_all(buf, b"NaN")]
    for i in _find_all(buf, b"Infinity"):
        start = i - 1 if i > 0 and buf[i - 1] == 0x2D else i
        spans.append((start, i + 8))
    spans.sort()
    return spans


def _quote_non_finite(buf: bytes) -> bytes:
    matches = _tokens(buf)
    if not matches:
        return buf
    delims = _string_delimiters(buf)
    starts = np.fromiter((s for s, _ in matches), dtype=np.int64, count=len(matches))
    outside = (np.searchsorted(delims, starts) % 2) == 0
    if not outside.any():
        return buf
    pieces: list[bytes] = []
    pos = 0
    for (start, end), out in zip(matches, outside.tolist()):
        if not out:
            continue
        pieces.append(buf[pos:start])
        pieces.append(b'"' + buf[start:end] + b'"')
        pos = end
    pieces.append(buf[pos:])
    return b"".join(pieces)


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` (dicts, lists, tuples, numbers, strings, numpy values) to UTF-8 JSON.

    Non-finite floats anywhere (including inside numpy arrays) become the strings
    ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``; strings are never modified.
    """
    buf = _encode(obj)
    if b"NaN" not in buf and b"Infinity" not in buf:
        return buf
    return _quote_non_finite(buf)


def finite_or_str(x: float) -> float | str:
    """One value in the wire convention (for code that builds structures by hand)."""
    if x != x:
        return "NaN"
    if x == float("inf"):
        return "Infinity"
    if x == float("-inf"):
        return "-Infinity"
    return x
