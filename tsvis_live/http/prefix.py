"""Serving the whole application under a URL path prefix (`--path_prefix`), behind a proxy."""

from __future__ import annotations

import json
import re

_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)+")


def path_prefix(value: str) -> str:
    """`/a/b` from `a/b/`, `/a/b` or `/a/b/`; "" for none. Raises ValueError on anything else."""
    value = value.strip()
    if value in ("", "/"):
        return ""
    prefix = "/" + value.strip("/")
    if not _PREFIX.fullmatch(prefix) or any(part in (".", "..") for part in prefix.split("/")):
        raise ValueError(f"--path_prefix {value!r} must be a URL path like /tsvis (letters, digits, . _ ~ -)")
    return prefix


class PathPrefix:
    """ASGI wrapper serving `app` under `prefix` only: `/prefix/x` is `/x` to the app (whose
    pages use relative URLs), `/prefix` redirects to `/prefix/`, anything else is a 404."""

    def __init__(self, app, prefix: str) -> None:
        self.app, self.prefix = app, prefix

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path.startswith(self.prefix + "/"):
            cut = len(self.prefix.encode())
            raw = scope.get("raw_path")
            scope = {**scope, "path": path[len(self.prefix):],
                     "raw_path": raw[cut:] if raw and raw.startswith(self.prefix.encode() + b"/") else raw}
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            return await send({"type": "websocket.close", "code": 1008})
        if path == self.prefix:
            query = scope.get("query_string", b"").decode("latin-1")
            location = self.prefix + "/" + ("?" + query if query else "")
            return await self._answer(send, 308, b"", [(b"location", location.encode("latin-1"))])
        body = json.dumps({"code": 404, "msg": f"Not found: this server serves under {self.prefix}/.",
                           "data": None}).encode()
        await self._answer(send, 404, body, [(b"content-type", b"application/json")])

    @staticmethod
    async def _answer(send, status: int, body: bytes, headers: list) -> None:
        headers = [*headers, (b"content-length", str(len(body)).encode()),
                   (b"x-content-type-options", b"nosniff"),
                   (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
