"""Access token checks for every HTTP request and WebSocket handshake.

The CLI refuses to listen on a non-loopback host without `--token` (anyone on the network
could otherwise read the logs). With a token set, a request must carry it as `?token=`,
`Authorization: Bearer <token>` or the `tsvis_token` cookie. The cookie is set when the token
arrives in the query, so a browser opened on `/?token=...` keeps working for the page's own
API calls (the TS-VIS frontend never adds the token itself).

The token can come from `--token`, `--token-file PATH` or the TSVIS_LIVE_TOKEN environment
variable: the last two keep it out of /proc/PID/cmdline, which every local user can read.
"""

from __future__ import annotations

import hmac
import os
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tsvis_live.http.errors import envelope

ENV_TOKEN = "TSVIS_LIVE_TOKEN"
COOKIE = "tsvis_token"
STATE_KEY = "tsvis_token"
MAX_BODY = 1 << 20  # the API is GET-only: a large body is never legitimate


class TokenUnavailable(ValueError):
    """--token-file names a file that cannot be read or holds no token."""


def load_token(given: str | None, token_file: Path | None, environ: dict[str, str] | None = None) -> str | None:
    """The access token: --token, else the --token-file's first line, else $TSVIS_LIVE_TOKEN."""
    if given:
        return given
    if token_file is not None:
        try:
            lines = Path(token_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
            raise TokenUnavailable(f"cannot read the token file {token_file}: {reason}") from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise TokenUnavailable(f"the token file {token_file} is empty: put the token on its first line")
        return token
    env = (os.environ if environ is None else environ).get(ENV_TOKEN, "").strip()
    return env or None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _query_token(scope: Scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None


def presented_tokens(scope: Scope) -> list[tuple[str, str]]:
    """(source, token) for each place the request carries a token."""
    found = []
    q = _query_token(scope)
    if q is not None:
        found.append(("query", q))
    auth = _header(scope, b"authorization")
    if auth and auth[:7].lower() == "bearer ":
        found.append(("bearer", auth[7:].strip()))
    cookie = _header(scope, b"cookie")
    if cookie:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookie)
        except Exception:  # a malformed Cookie header simply carries no token
            jar = SimpleCookie()
        if COOKIE in jar:
            found.append(("cookie", unquote(jar[COOKIE].value)))
    return found


def _expected(scope: Scope) -> str | None:
    app = scope.get("app")
    state = getattr(app, "state", None)
    return getattr(state, STATE_KEY, None) if state is not None else None


def _matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def token_ok(scope_or_request: Any) -> bool:
    """True when no token is configured or the request/WebSocket scope carries the right one."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    expected = _expected(scope)
    if not expected:
        return True
    return any(_matches(expected, given) for _src, given in presented_tokens(scope))


class TokenMiddleware:
    """Refuses requests without the token (401 envelope, or WebSocket close 1008)."""

    def __init__(self, app: ASGIApp, token: str | None = None) -> None:
        self.app = app
        self.token = token or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if kind == "http":
            length = _header(scope, b"content-length")
            if length and length.isdigit() and int(length) > MAX_BODY:
                await envelope(413, "The request body is too large.")(scope, receive, send)
                return
        if self.token is None:
            await self.app(scope, receive, send)
            return
        presented = presented_tokens(scope)
        good = [src for src, given in presented if _matches(self.token, given)]
        if not good:
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "token required"})
                return
            msg = "A valid access token is required (?token=, Authorization: Bearer, or cookie)."
            await envelope(401, msg, headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        if kind == "websocket" or "query" not in good or "cookie" in good:
            await self.app(scope, receive, send)
            return
        cookie = f"{COOKIE}={quote(self.token, safe='')}; Path=/; HttpOnly; SameSite=Strict"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)
