"""Typed query parameters whose 400 messages name the parameter at fault.

Names that could be used as paths (run, tag, id, trainJobName) are refused when they hold a
`..` segment, start like an absolute path, or contain NUL: nothing the API serves is named
like that, and the original backend built file paths from them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from starlette.requests import Request

from tsvis_live.http.errors import ApiError

_MISSING = object()
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


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


def string(request: Request, name: str, default: str | None | object = _MISSING) -> str | None:
    """A string parameter; required unless a default is given (an empty value counts as missing)."""
    value = _raw(request, name)
    if value is None or value == "":
        if default is _MISSING:
            raise _missing(name)
        return default  # type: ignore[return-value]
    return value


def name(request: Request, param: str, default: str | None | object = _MISSING) -> str | None:
    """A run/tag/id/trainJobName: a string checked by `check_name`."""
    value = string(request, param, default)
    return None if value is None else check_name(param, value)


def integer(request: Request, name: str, default: int | None | object = _MISSING, *,
            minimum: int | None = None, maximum: int | None = None) -> int | None:
    value = _raw(request, name)
    if value is None or value == "":
        if default is _MISSING:
            raise _missing(name)
        return default  # type: ignore[return-value]
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
    if minimum is not None and number < minimum:
        raise _invalid(name, value, f"an integer >= {minimum}")
    if maximum is not None and number > maximum:
        raise _invalid(name, value, f"an integer <= {maximum}")
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
    return name(request, "run"), name(request, "tag")  # type: ignore[return-value]


def paging(request: Request, max_limit: int = 100_000) -> tuple[int, int | None]:
    """`offset` (default 0) and `limit` (default: all) of a paged list."""
    offset = integer(request, "offset", 0, minimum=0)
    limit = integer(request, "limit", None, minimum=0, maximum=max_limit)
    return offset, limit  # type: ignore[return-value]
