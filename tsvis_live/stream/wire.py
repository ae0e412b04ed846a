"""A `Commit` as bytes, for the trip between server processes (docs/protocol.md, "Commits
between processes").

Versioned JSON rather than pickle: a message read from a shared broker must never be able to
run code in the reader, and another implementation (or the next version of this one) must be
able to read it. JSON has no NaN or infinities, so non-finite floats travel as the strings
"NaN", "Infinity" and "-Infinity", exactly as the HTTP API writes them; integers (steps,
cursors) are exact at any size. Anything that is not a well-formed version-1 message raises
`ValueError` with a sentence saying what is wrong, so a reader can skip it and carry on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tsvis_live.records import HistogramRecord, ScalarColumns
from tsvis_live.store.writer import CategoryUpdate, Commit, SeriesUpdate

VERSION = 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_TOKENS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_HIST_FIELDS = ("min", "max", "num", "sum", "sum_squares")


# -- encoding --------------------------------------------------------------------------------
def _token(x: float) -> float | str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def _floats(values: Any) -> list[Any]:
    """Floats as JSON-ready values: a finite column costs one numpy pass and a `tolist`."""
    arr = np.asarray(values, dtype=np.float64)
    out = arr.tolist()
    if arr.size and not np.isfinite(arr).all():
        if arr.ndim == 1:
            return [_token(x) for x in out]
        return [[_token(x) for x in row] for row in out] if arr.ndim == 2 else _deep(out)
    return out


def _deep(value: Any) -> Any:
    return [_deep(v) for v in value] if isinstance(value, list) else _token(value)


def _cursors(cursors: Sequence[int]) -> dict[str, list[int]]:
    """A contiguous run of cursors (the scalar case) as [first, last]; anything else listed."""
    n = len(cursors)
    if isinstance(cursors, range) and cursors.step == 1 and n:
        return {"cursor_range": [cursors.start, cursors.stop - 1]}
    listed = [int(c) for c in cursors]
    if n > 1 and listed[-1] - listed[0] == n - 1 and all(b - a == 1 for a, b in zip(listed, listed[1:])):
        return {"cursor_range": [listed[0], listed[-1]]}
    return {"cursors": listed}


def _update(u: SeriesUpdate) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": u.kind, "run": u.run, "tag": u.tag, **_cursors(u.cursors)}
    if u.scalars is not None:
        c = u.scalars
        out["scalars"] = {"steps": np.asarray(c.steps, dtype=np.int64).tolist(),
                          "wall_times": _floats(c.wall_times), "values": _floats(c.values)}
    else:
        out["histograms"] = [
            {"step": int(h.step), "wall_time": _token(float(h.wall_time)),
             **{f: _token(float(getattr(h, f))) for f in _HIST_FIELDS},
             "buckets": _floats(h.buckets)}
            for h in u.histograms
        ]
    return out


def encode_commit(commit: Commit) -> bytes:
    """The commit as a version-1 JSON message (ASCII: lone surrogates in names survive)."""
    message = {
        "v": VERSION, "base": int(commit.base), "cursor": int(commit.cursor), "points": int(commit.points),
        "updates": [_update(u) for u in commit.updates],
        "categories": [{"run": c.run, "kind": c.kind, "tag": c.tag, "cursor": int(c.cursor)}
                       for c in commit.categories],
    }
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode("ascii")


# -- decoding --------------------------------------------------------------------------------
def _int(value: Any, what: str, low: int = INT64_MIN) -> int:
    if type(value) is not int or not low <= value <= INT64_MAX:
        raise ValueError(f"{what} must be an integer in {low}..{INT64_MAX}, got {_show(value)}")
    return value


def _float(value: Any, what: str) -> float:
    kind = type(value)
    if kind is float or kind is int:
        return float(value)
    if kind is str and value in _TOKENS:
        return _TOKENS[value]
    raise ValueError(f"{what} must be a number or one of 'NaN', 'Infinity', '-Infinity', got {_show(value)}")


def _str(value: Any, what: str, optional: bool = False) -> str | None:
    if isinstance(value, str) or (optional and value is None):
        return value
    raise ValueError(f"{what} must be a string, got {_show(value)}")


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list, got {_show(value)}")
    return value


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object, got {_show(value)}")
    return value


def _show(value: Any) -> str:
    text = json.dumps(value, default=repr) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _float_list(value: Any, what: str) -> list[float]:
    return [_float(x, what) for x in _list(value, what)]


def _decode_cursors(u: dict[str, Any], what: str) -> Sequence[int]:
    if ("cursors" in u) == ("cursor_range" in u):
        raise ValueError(f"{what} must have exactly one of 'cursors' and 'cursor_range'")
    if "cursor_range" in u:
        pair = _list(u["cursor_range"], f"{what}.cursor_range")
        if len(pair) != 2:
            raise ValueError(f"{what}.cursor_range must be [first, last]")
        first, last = (_int(c, f"{what}.cursor_range", 0) for c in pair)
        if last < first:
            raise ValueError(f"{what}.cursor_range ends before it starts ({first} > {last})")
        return range(first, last + 1)
    return [_int(c, f"{what}.cursors", 0) for c in _list(u["cursors"], f"{what}.cursors")]


def _decode_histogram(h: Any, tag: str, what: str) -> HistogramRecord:
    h = _obj(h, what)
    try:
        buckets = np.asarray([[_float(x, f"{what}.buckets") for x in _list(row, f"{what}.buckets")]
                              for row in _list(h["buckets"], f"{what}.buckets")], dtype=np.float64)
        fields = {f: _float(h[f], f"{what}.{f}") for f in _HIST_FIELDS}
        step, wall = _int(h["step"], f"{what}.step"), _float(h["wall_time"], f"{what}.wall_time")
    except KeyError as exc:
        raise ValueError(f"{what} has no {exc.args[0]!r}") from None
    if buckets.size and (buckets.ndim != 2 or buckets.shape[1] != 3):
        raise ValueError(f"{what}.buckets must be rows of [left, right, count]")
    return HistogramRecord(tag=tag, step=step, wall_time=wall, buckets=buckets.reshape(-1, 3), **fields)


def _decode_update(u: Any, i: int) -> SeriesUpdate:
    what = f"updates[{i}]"
    u = _obj(u, what)
    try:
        kind, run, tag = (_str(u[k], f"{what}.{k}") for k in ("kind", "run", "tag"))
    except KeyError as exc:
        raise ValueError(f"{what} has no {exc.args[0]!r}") from None
    cursors = _decode_cursors(u, what)
    if ("scalars" in u) == ("histograms" in u):
        raise ValueError(f"{what} must have exactly one of 'scalars' and 'histograms'")
    if "scalars" in u:
        s = _obj(u["scalars"], f"{what}.scalars")
        try:
            steps = [_int(x, f"{what}.scalars.steps") for x in _list(s["steps"], f"{what}.scalars.steps")]
            cols = ScalarColumns(steps, _float_list(s["wall_times"], f"{what}.scalars.wall_times"),
                                 _float_list(s["values"], f"{what}.scalars.values"))
        except KeyError as exc:
            raise ValueError(f"{what}.scalars has no {exc.args[0]!r}") from None
        if not len(cols.steps) == len(cols.wall_times) == len(cols.values) == len(cursors):
            raise ValueError(f"{what}: steps, wall_times, values and cursors differ in length")
        return SeriesUpdate(kind, run, tag, cursors, scalars=cols)
    hists = [_decode_histogram(h, tag, f"{what}.histograms[{j}]")
             for j, h in enumerate(_list(u["histograms"], f"{what}.histograms"))]
    if len(hists) != len(cursors):
        raise ValueError(f"{what}: {len(hists)} histograms but {len(cursors)} cursors")
    return SeriesUpdate(kind, run, tag, cursors, histograms=hists)


def _decode_category(c: Any, i: int) -> CategoryUpdate:
    what = f"categories[{i}]"
    c = _obj(c, what)
    try:
        return CategoryUpdate(_str(c["run"], f"{what}.run"), _str(c["kind"], f"{what}.kind"),
                              _str(c["tag"], f"{what}.tag", optional=True), _int(c["cursor"], f"{what}.cursor", 0))
    except KeyError as exc:
        raise ValueError(f"{what} has no {exc.args[0]!r}") from None


def _bare_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"bare {name} (non-finite floats are written as strings)", name, 0)


def decode_commit(data: bytes) -> Commit:
    """The `Commit` a version-1 message holds; ValueError for anything else."""
    try:
        message = json.loads(data, parse_constant=_bare_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"not a JSON commit message ({type(exc).__name__}: {str(exc)[:80]})") from None
    message = _obj(message, "the message")
    if message.get("v") != VERSION:
        raise ValueError(f"unsupported commit message version {_show(message.get('v'))} (this reader knows {VERSION})")
    try:
        base, cursor = _int(message["base"], "base", 0), _int(message["cursor"], "cursor", 0)
        points = _int(message["points"], "points", 0)
        updates = [_decode_update(u, i) for i, u in enumerate(_list(message["updates"], "updates"))]
        categories = [_decode_category(c, i) for i, c in enumerate(_list(message["categories"], "categories"))]
    except KeyError as exc:
        raise ValueError(f"the message has no {exc.args[0]!r}") from None
    if cursor < base:
        raise ValueError(f"cursor {cursor} is below base {base}")
    return Commit(updates=updates, categories=categories, cursor=cursor, points=points, base=base)


# -- stream entries ----------------------------------------------------------------------------
def encode_gap(base: int, cursor: int) -> bytes:
    """A gap marker: commits (base, cursor] exist in the store but are not carried (too large,
    or published while the broker was unreachable); a receiver reads them from the store."""
    return json.dumps({"v": VERSION, "base": int(base), "cursor": int(cursor)}, separators=(",", ":")).encode()


def parse_entry(fields: dict[bytes, bytes]) -> tuple[int, int, Commit | None]:
    """(base, cursor, commit) of a stream entry, whose one field is `commit` (a message) or
    `gap` (a marker: commit None); ValueError for anything else."""
    if b"commit" in fields:
        commit = decode_commit(fields[b"commit"])
        return commit.base, commit.cursor, commit
    if b"gap" in fields:
        try:
            gap = _obj(json.loads(fields[b"gap"], parse_constant=_bare_constant), "a gap marker")
            base, cursor = _int(gap["base"], "a gap's base", 0), _int(gap["cursor"], "a gap's cursor", 0)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, KeyError) as exc:
            raise ValueError(f"a malformed gap marker ({type(exc).__name__})") from None
        if gap.get("v") != VERSION or cursor < base:
            raise ValueError(f"a gap marker needs v {VERSION} and base <= cursor")
        return base, cursor, None
    names = ", ".join(sorted(k.decode("utf-8", "replace")[:20] for k in fields)[:5])
    raise ValueError(f"an entry with neither 'commit' nor 'gap' (fields: {names or 'none'})")
