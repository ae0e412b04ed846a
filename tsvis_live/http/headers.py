"""Security headers on every HTTP response: a Content-Security-Policy without inline script.

Run and tag names, labels and graph text are attacker-controlled strings shown by the UIs; if
one ever reached the DOM as HTML, the policy still stops it from running script. Inline
`<script>` blocks of a UI's index.html (the TS-VIS build has none today) are allowed by their
sha256 hash, computed at startup, never by 'unsafe-inline'. `Referrer-Policy: no-referrer`
keeps a `?token=` URL out of Referer headers.

The TS-VIS 0.4.2 bundle (`--ui tsvis`) compiles its Vue root template at runtime with
`new Function`, so for that UI alone the policy adds 'unsafe-eval' (still no inline script);
the dashboard needs neither.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = ("default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; "
          "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'none'")
_INLINE = re.compile(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-...') for each inline script of `html`."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(body.encode('utf-8')).digest()).decode()}'"
            for body in _INLINE.findall(html) if body.strip()]


def content_security_policy(index_html: str | None = None, *, allow_eval: bool = False) -> str:
    """The policy for a UI whose page is `index_html` (its inline scripts allowed by hash)."""
    sources = ["'unsafe-eval'"] if allow_eval else []
    sources += inline_script_hashes(index_html) if index_html else []
    return POLICY.format(scripts="".join(" " + h for h in sources))


class SecurityHeadersMiddleware:
    """Adds the policy, nosniff, no-referrer and no-framing to every HTTP response."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = {
            "content-security-policy": csp,
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "x-frame-options": "DENY",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in self.headers.items():
                    if key not in headers:
                        headers[key] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
