"""The `/ws` endpoint: subscriptions in, point and category messages out (docs/protocol.md).

Two tasks per connection: one reads client messages, one sends. The sender wakes when the
hub has commits for this client, waits a short batching window, and sends everything since in
a few frames. A client that falls too far behind gets `resync` instead of unbounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

from tsvis_live.http.context import session_for
from tsvis_live.http.errors import ApiError
from tsvis_live.http.security import token_ok
from tsvis_live.session import Session
from tsvis_live.store import reader
from tsvis_live.stream.feed import KINDS, Feed, chunked, encode, points_message, stored_points
from tsvis_live.stream.hub import Subscriber

log = logging.getLogger(__name__)

BATCH_WINDOW = 0.025  # seconds to gather points before sending
HEARTBEAT = 5.0
DEFAULT_CLIENT_BUFFER = 100_000  # points queued per client before it must resync
DEFAULT_SNAPSHOT_POINTS = 2000


def origin_ok(ws: WebSocket) -> bool:
    """Browsers send Origin: it must name the host being served (no cross-site sockets)."""
    origin = ws.headers.get("origin")
    if not origin:
        return True  # not a browser: the token rule still applies
    host = ws.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


class Connection:
    def __init__(self, ws: WebSocket, session: Session) -> None:
        self.ws = ws
        self.session = session
        self.feed = Feed()
        limit = getattr(ws.app.state, "client_buffer", DEFAULT_CLIENT_BUFFER)
        self.sub: Subscriber = session.hub.subscribe(limit)
        self.lock = asyncio.Lock()  # replays and live sends never interleave for one client
        self.batch = False  # client opted in: one frame per batching window

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_text(encode(message))

    async def send_all(self, messages: list[dict[str, Any]]) -> None:
        if self.batch and len(messages) > 1:
            await self.ws.send_text('{"type":"batch","messages":[' + ",".join(map(encode, messages)) + "]}")
            return
        for m in messages:
            await self.send(m)

    # -- client messages -----------------------------------------------------------------
    async def handle(self, raw: str) -> None:
        try:
            msg = json.loads(raw)
            if not isinstance(msg, dict):
                raise ValueError
        except ValueError:
            await self.send({"type": "error", "message": "Messages must be JSON objects."})
            return
        op = msg.get("op")
        if op == "ping":
            await self.send({"type": "pong"})
        elif op == "options":
            self.batch = bool(msg.get("batch", self.batch))
        elif op in ("subscribe", "unsubscribe"):
            kind, run, tag = msg.get("kind"), msg.get("run"), msg.get("tag")
            if kind not in KINDS:
                await self.send({"type": "error", "message": f"'kind' must be one of {list(KINDS)}, got {kind!r}."})
            elif not isinstance(run, str) or not isinstance(tag, str):
                await self.send({"type": "error", "message": "'run' and 'tag' must be strings."})
            elif op == "unsubscribe":
                self.feed.unsubscribe((kind, run, tag))
            else:
                await self.subscribe((kind, run, tag), msg.get("since"), msg.get("max_points"))
        else:
            await self.send({"type": "error",
                             "message": f"Unknown op {op!r}: use subscribe, unsubscribe, options or ping."})

    async def subscribe(self, key: tuple[str, str, str], since: Any, max_points: Any) -> None:
        if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
            await self.send({"type": "error", "message": "'since' must be a non-negative integer cursor."})
            return
        limit = max_points if isinstance(max_points, int) and max_points > 0 else DEFAULT_SNAPSHOT_POINTS
        async with self.lock:  # the pump waits: queued commits are filtered after the replay
            try:
                if since is not None:
                    points, cursors = await self.session.db.read(lambda c: stored_points(c, key, since))
                    self.feed.subscribe(key, since)
                    await self.send_all(self.feed.accept(key, points, cursors))
                else:
                    await self.snapshot(key, limit)
            except reader.NotFound:
                # not written yet: follow it anyway, its first points will arrive live
                self.feed.subscribe(key, since or 0)
                await self.send(points_message(*key, [], since or 0, snapshot=True, downsampled=False))

    async def snapshot(self, key: tuple[str, str, str], limit: int) -> None:
        from tsvis_live.http.live import current_series  # the same shaping as REST

        points, cursors, mark, downsampled = await self.session.db.read(lambda c: current_series(c, key, limit))
        self.feed.subscribe(key, mark)
        if not points:
            await self.send(points_message(key[0], key[1], key[2], [], mark, snapshot=True, downsampled=False))
            return
        await self.send_all(chunked(key[0], key[1], key[2], points, cursors, snapshot=True, downsampled=downsampled))

    # -- the sender ----------------------------------------------------------------------
    async def pump(self) -> None:
        sub = self.sub
        while True:
            try:
                await asyncio.wait_for(sub.wakeup.wait(), timeout=HEARTBEAT)
            except asyncio.TimeoutError:
                await self.send({"type": "heartbeat", "cursor": self.session.hub.last_cursor})
                continue
            await asyncio.sleep(BATCH_WINDOW)
            sub.wakeup.clear()
            async with self.lock:
                if sub.overflowed:
                    marks = self.feed.clear()
                    sub.overflowed = False
                    await self.send({
                        "type": "resync",
                        "reason": "The client fell behind and live points were dropped; resubscribe with 'since'.",
                        "subscriptions": [{"kind": k, "run": r, "tag": t, "cursor": c} for (k, r, t), c in marks.items()],
                    })
                    continue
                commits = sub.drain()
                if commits:
                    await self.send_all(self.feed.from_commits(commits))


async def websocket_endpoint(ws: WebSocket) -> None:
    if not token_ok(ws) or not origin_ok(ws):
        await ws.close(code=1008, reason="forbidden origin or missing token")
        return
    try:
        session = await session_for(ws)
    except ApiError as exc:
        await ws.close(code=1008, reason=exc.msg[:120] if hasattr(exc, "msg") else "unknown session")
        return
    await ws.accept()
    conn = Connection(ws, session)
    pump = asyncio.create_task(conn.pump())
    try:
        await conn.send({"type": "hello", "session_id": session.id, "cursor": session.hub.last_cursor,
                         "heartbeat": HEARTBEAT})
        while True:
            raw = await ws.receive_text()
            await conn.handle(raw)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        session.hub.unsubscribe(conn.sub)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
