"""Typed query parameters whose 400 messages name the parameter at fault.

Run and tag names are names in the store, never file paths: any string a writer can put in an
event file is accepted (`''`, `/abs`, `../x`, NUL...), limited only in length, so whatever
getCategory lists can be read. `id` and `trainJobName` ARE paths in --logroot mode: they are
refused when they hold a `..` segment, start like an absolute path, or contain NUL.

Every integer is bounded to SQLite's int64 range; every JSON-valued parameter goes through
`parse_json`, which bounds size and nesting before the decoder sees it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

from tsvis_live.http.errors import ApiError

_MISSING = object()
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what SQLite can bind
MAX_NAME = 4096  # characters of a run or tag name (runs are relative paths: PATH_MAX)
MAX_JSON_BYTES = 256 * 1024
MAX_JSON_DEPTH = 16


def _raw(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return None if value is None else value


def _missing(name: str) -> ApiError:
    return ApiError(400, f"Missing required parameter {name!r}.")


def _invalid(name: str, value: str, what: str) -> ApiError:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return ApiError(400, f"Parameter {name!r} must be {what}, got {shown!r}.")


def check_name(name: str, value: str) -> str:
    """Refuse path-like values: `..` segments, absolute paths, NUL."""
    if "\x00" in value:
        raise ApiError(400, f"Parameter {name!r} must not contain NUL characters.")
    if value.startswith(("/", "\\")) or _DRIVE.match(value):
        raise ApiError(400, f"Parameter {name!r} must not be an absolute path.")
    if ".." in re.split(r"[\\/]", value):
        raise ApiError(400, f"Parameter {name!r} must not contain '..' path segments.")
    return value


class JSONRefused(ValueError):
    """A JSON text that is too large, too deeply nested, or not JSON at all."""


def _depth_exceeds(text: str, limit: int) -> bool:
    """True when brackets nest deeper than `limit` (outside strings); linear, no recursion."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def parse_json(text: str, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode client JSON with bounds: raises JSONRefused with a sentence fragment saying why.

    The bounds come first, so a 100,000-deep `[[[...` never reaches the recursive decoder.
    """
    if len(text) > max_bytes:
        raise JSONRefused(f"is longer than {max_bytes} characters")
    if _depth_exceeds(text, max_depth):
        raise JSONRefused(f"nests deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise JSONRefused("is not valid JSON") from None


def json_param(request: Request, name: str, default: str) -> Any:
    """A JSON-valued query parameter, decoded with `parse_json`'s bounds."""
    raw = _raw(request, name)
    try:
        return parse_json(default if raw is None or raw == "" else raw)
    except JSONRefused as exc:
        raise ApiError(400, f"Parameter {name!r} {exc}.") from None


def check_length(name: str, value: str, limit: int = MAX_NAME) -> str:
    if len(value) > limit:
        raise ApiError(400, f"Parameter {name!r} is {len(value)} characters long; at most {limit} are allowed.")
    return value


def string(request: Request, name: str, default: str | None | object = _MISSING) -> str | None:
    """A string parameter; required unless a default is given (an empty value counts as missing)."""
    value = _raw(request, name)
    if value is None or value == "":
        if default is _MISSING:
            raise _missing(name)
        return default  # type: ignore[return-value]
    return value


def name(request: Request, param: str, default: str | None | object = _MISSING) -> str | None:
    """An id/trainJobName (a path in --logroot mode): a string checked by `check_name`."""
    value = string(request, param, default)
    return None if value is None else check_name(param, check_length(param, value, 1024))


def series_name(request: Request, param: str) -> str:
    """A run or tag: any string the store can hold, '' included; only its length is limited."""
    value = _raw(request, param)
    if value is None:
        raise _missing(param)
    return check_length(param, value)


def integer(request: Request, name: str, default: int | None | object = _MISSING, *,
            minimum: int | None = None, maximum: int | None = None) -> int | None:
    """An integer within [minimum, maximum], and always within int64 (SQLite's integers)."""
    minimum = INT64_MIN if minimum is None else max(minimum, INT64_MIN)
    maximum = INT64_MAX if maximum is None else min(maximum, INT64_MAX)
    value = _raw(request, name)
    if value is None or value == "":
        if default is _MISSING:
            raise _missing(name)
        return default  # type: ignore[return-value]
    if len(value) > 40:  # no int64 needs more; also spares int() a 5,000-digit string
        raise _invalid(name, value, f"an integer between {minimum} and {maximum}")
    try:
        number = int(value.strip())
    except ValueError:
        try:  # the frontend may send "12.0" for a step
            f = float(value)
        except ValueError:
            raise _invalid(name, value, "an integer") from None
        if not f.is_integer():
            raise _invalid(name, value, "an integer") from None
        number = int(f)
    if not minimum <= number <= maximum:
        raise _invalid(name, value, f"an integer between {minimum} and {maximum}")
    return number


def number(request: Request, name: str, default: float | None | object = _MISSING, *,
           finite: bool = True) -> float | None:
    value = _raw(request, name)
    if value is None or value == "":
        if default is _MISSING:
            raise _missing(name)
        return default  # type: ignore[return-value]
    try:
        f = float(value)
    except ValueError:
        raise _invalid(name, value, "a number") from None
    if finite and not math.isfinite(f):
        raise _invalid(name, value, "a finite number")
    return f


def choice(request: Request, name: str, choices: Iterable[str], default: str | None | object = _MISSING,
           *, lower: bool = True) -> str | None:
    """One of `choices` (compared lower-cased unless lower=False)."""
    options = list(choices)
    value = _raw(request, name)
    if value is None or value == "":
        if default is _MISSING:
            raise _missing(name)
        return default  # type: ignore[return-value]
    key = value.lower() if lower else value
    if key not in options:
        raise _invalid(name, value, "one of " + ", ".join(repr(c) for c in options))
    return key


def run_tag(request: Request) -> tuple[str, str]:
    """The `run` and `tag` every series endpoint needs."""
    return series_name(request, "run"), series_name(request, "tag")


def paging(request: Request, max_limit: int = 100_000) -> tuple[int, int | None]:
    """`offset` (default 0) and `limit` (default: all) of a paged list."""
    offset = integer(request, "offset", 0, minimum=0)
    limit = integer(request, "limit", None, minimum=0, maximum=max_limit)
    return offset, limit  # type: ignore[return-value]
