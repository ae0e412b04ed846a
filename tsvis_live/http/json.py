"""JSON responses that `JSON.parse` always accepts, and the success envelope.

NaN and +-Inf are legal floats in training data but not in JSON; they go out as the strings
"NaN", "Infinity" and "-Infinity" (compute.jsonsafe, which costs one C-encoder pass on clean data).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from tsvis_live.compute import jsonsafe


def dumps(content: Any) -> bytes:
    """UTF-8 JSON with non-finite floats as strings (numpy values allowed)."""
    return jsonsafe.dumps(content)


def items(values: list[Any]) -> bytes:
    """The elements of a JSON array without the brackets (a chunk of a streamed list)."""
    return jsonsafe.dumps(values)[1:-1]


class SafeJSONResponse(JSONResponse):
    """A JSONResponse whose body is always valid JSON (NaN/Inf as strings)."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def ok(data: Any, headers: dict[str, str] | None = None) -> Response:
    """The success envelope `{"code": 200, "msg": "ok", "data": ...}`."""
    return SafeJSONResponse({"code": 200, "msg": "ok", "data": data}, headers=headers)


def ok_stream(head: str, parts: Iterable[bytes], tail: str, headers: dict[str, str] | None = None) -> Response:
    """The success envelope around `data` = head + parts + tail, streamed as it is produced.

    Used for long series, so the full answer is never built as one Python object. A plain
    generator: Starlette iterates it in its thread pool, off the event loop.
    """

    def body() -> Iterator[bytes]:
        yield ('{"code":200,"msg":"ok","data":' + head).encode("utf-8")
        yield from parts
        yield (tail + "}").encode("utf-8")

    return StreamingResponse(body(), media_type="application/json", headers=headers)
