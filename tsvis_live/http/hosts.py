"""Host and Origin checks: the defence against DNS rebinding.

A page on `http://evil.example:6006` whose name is re-pointed at 127.0.0.1 talks to this
server as a same-origin page: the browser sends `Host: evil.example:6006` and (for sockets and
CORS) `Origin: http://evil.example:6006`. So the Host header must name this server, and a
browser's Origin must be a page this server serves. The rule (docs/reliability.md):

- bound to loopback (127.0.0.0/8, ::1, localhost): Host must be `localhost`, a 127.x address or
  `[::1]` (any port), or a `--allowed-host` name;
- bound to one other address or name: that address, or a `--allowed-host` name;
- bound to every interface (0.0.0.0, ::): any IP literal (an address cannot be rebound), the
  loopback names, this machine's hostname, or a `--allowed-host` name.

A request without Host or Origin comes from no browser and passes these checks (the token still
applies). Origin: its host must pass the same rule, and its port must be the server's own port
or the Host header's port (a different local web app is another origin).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from tsvis_live.http.errors import envelope

WILDCARDS = {"0.0.0.0", "::", ""}


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def normalize(name: str) -> str:
    """A host name as compared: lower case, no brackets, no trailing dot."""
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name[:-1] if name.endswith(".") else name


def is_loopback(host: str) -> bool:
    host = normalize(host)
    if host == "localhost":
        return True
    ip = _ip(host)
    return ip is not None and ip.is_loopback


def split_host_header(value: str) -> tuple[str, int | None] | None:
    """(host, port) of a Host header value; None when it is malformed."""
    value = value.strip()
    if not value:
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[1:end], value[end + 1:]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    elif ":" in value:
        return None  # an IPv6 address must be bracketed in a Host header
    else:
        host, port_text = value, None
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            return None
        port = int(port_text)
    return normalize(host), port


class HostPolicy:
    """Which Host names and Origins a server bound to `bind` answers (see the module doc)."""

    def __init__(self, bind: str | None, allowed: Iterable[str] = ()) -> None:
        self.bind = normalize(bind or "127.0.0.1")
        self.allowed = {normalize(a) for a in allowed if a.strip()}
        self.loopback = is_loopback(self.bind)
        self.wildcard = self.bind in WILDCARDS
        self.names = set(self.allowed)
        if self.wildcard:
            self.names |= {normalize(socket.gethostname()), normalize(socket.getfqdn())}
        elif not self.loopback:
            self.names.add(self.bind)

    def host_ok(self, host: str) -> bool:
        host = normalize(host)
        if host in self.names:
            return True
        if self.loopback:
            return is_loopback(host)
        if self.wildcard:
            return is_loopback(host) or _ip(host) is not None
        return False

    def origin_ok(self, origin: str, host_header: str | None, server_port: int | None) -> bool:
        try:
            parts = urlsplit(origin)
            port = parts.port
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        port = port or (443 if parts.scheme == "https" else 80)
        ports = {server_port}
        split = split_host_header(host_header) if host_header else None
        if split is not None:
            ports |= {split[1]} if split[1] else {80, 443}
        return port in ports and self.host_ok(parts.hostname)

    def describe(self) -> str:
        """The accepted names, for error messages."""
        if self.loopback:
            base = "localhost, 127.0.0.1 or [::1]"
        elif self.wildcard:
            base = "an IP address of this machine, localhost, " + socket.gethostname()
        else:
            base = self.bind
        extra = sorted(self.allowed - {self.bind})
        return base + (" or " + ", ".join(extra) if extra else "")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class HostMiddleware:
    """Refuses a foreign Host (421) or a foreign browser Origin (403); WebSockets close 1008."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        origin = _header(scope, b"origin")
        problem = None
        if host is not None:
            split = split_host_header(host)
            if split is None or not self.policy.host_ok(split[0]):
                problem = (421, f"Host {host[:100]!r} is not served here: use {self.policy.describe()}, "
                                "or start the server with --allowed-host NAME.")
        if problem is None and origin is not None:
            server = scope.get("server") or (None, None)
            if not self.policy.origin_ok(origin, host, server[1]):
                problem = (403, f"Origin {origin[:100]!r} may not use this server: pages of "
                                f"{self.policy.describe()} on this port may (see --allowed-host).")
        if problem is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": problem[1][:120]})
        else:
            await envelope(*problem)(scope, receive, send)
