"""The error envelope: a real HTTP status, the same number in `code`, a sentence in `msg`.

The original backend answered every error with HTTP 200 and a stack trace in `msg` (leaking
paths and line numbers). Here the status is real and tracebacks stay in the server log: a 500
tells the client only that something went wrong.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tsvis_live.http.json import SafeJSONResponse
from tsvis_live.session import PathRefused
from tsvis_live.store.database import DatabaseUnusable
from tsvis_live.store.provider import DamagedStore, NotFound

log = logging.getLogger(__name__)

_GENERIC = {
    400: "The request is invalid.",
    401: "A valid access token is required.",
    403: "Access is forbidden.",
    404: "The requested resource was not found.",
    405: "The method is not allowed on this path.",
    413: "The request or the requested data is too large.",
    421: "This server does not answer for the requested host.",
    500: "The server failed to handle the request; the details are in the server log.",
}


class ApiError(Exception):
    """An error the client caused (or may see): answered with `status` and `msg` verbatim."""

    def __init__(self, status: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = msg
        self.headers = headers


def envelope(status: int, msg: str, data: Any = None, headers: dict[str, str] | None = None) -> Response:
    return SafeJSONResponse({"code": status, "msg": msg, "data": data}, status_code=status, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return envelope(exc.status, exc.msg, headers=exc.headers)


async def _not_found(_request: Request, exc: Exception) -> Response:
    msg = str(exc) or _GENERIC[404]
    return envelope(404, msg[:1].upper() + msg[1:] + ("" if msg.endswith(".") else "."))


async def _refused(_request: Request, exc: Exception) -> Response:
    return envelope(400, f"Refused: {exc}.")


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 404:
        msg = f"No endpoint {request.url.path!r}."
    elif status == 304 or status < 400:
        return Response(status_code=status, headers=exc.headers)
    else:
        msg = _GENERIC.get(status, str(exc.detail))
    return envelope(status, msg, headers=exc.headers)


async def _unusable(_request: Request, exc: Exception) -> Response:
    """The session's database cannot be opened: say so (a server-side state, not a bug)."""
    log.error("%s", exc)
    return envelope(503, "The session database cannot be used; the server log says which file "
                    "and how to recover (--rebuild re-reads the logdir).")


async def _damaged(request: Request, exc: Exception) -> Response:
    """A read met a damaged page (the file changed under us, or the disk is failing)."""
    log.error("database error on %s: %s", request.url.path, getattr(exc, "orig", exc))
    return envelope(503, "The session database could not be read (it may be damaged); restart "
                    "the server with --rebuild to re-read the logdir into a fresh database.")


async def _internal(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return envelope(500, _GENERIC[500])


def exception_handlers() -> dict[Any, Any]:
    """Handlers to pass to `Starlette(exception_handlers=...)`."""
    return {
        ApiError: _api_error,
        NotFound: _not_found,
        PathRefused: _refused,
        HTTPException: _http_exception,
        DatabaseUnusable: _unusable,
        DamagedStore: _damaged,
        Exception: _internal,
    }


class InternalErrorMiddleware:
    """Answers an unexpected exception with the 500 envelope and does NOT re-raise it.

    Starlette's own handler for `Exception` sends the 500 and then re-raises, and uvicorn closes
    the keep-alive connection of any request whose app raised: a client lost its connection
    along with the answer. Installed innermost, so ApiError/HTTPException never reach it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # a streamed body failed half-way: nothing left to say, uvicorn closes
                raise
            log.error("internal error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            await envelope(500, _GENERIC[500])(scope, receive, send)
