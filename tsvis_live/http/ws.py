"""The `/ws` endpoint: subscriptions in, point and category messages out (docs/protocol.md).

Two tasks per connection: one reads client messages, one sends. The sender wakes when the
hub has commits for this client, waits a short batching window, and sends everything since in
a few frames. A client that falls too far behind gets `resync` instead of unbounded memory.

What one client can make the server hold is bounded (docs/reliability.md): a message is at
most MAX_MESSAGE characters (bigger frames are cut off by the protocol layer at MAX_FRAME
bytes), a run or tag name MAX_NAME characters, MAX_SUBSCRIPTIONS series per socket. A bad
message gets an `error` frame and the socket stays open; a frame too large or binary gets an
`error` frame, then close 1009 or 1003. Host, Origin and token are checked by the middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from tsvis_live.http.context import session_for
from tsvis_live.http.errors import ApiError
from tsvis_live.http.params import INT64_MAX, MAX_NAME, JSONRefused, parse_json
from tsvis_live.http.security import token_ok
from tsvis_live.session import Session
from tsvis_live.store.provider import NotFound
from tsvis_live.stream.feed import (
    KINDS,
    Feed,
    batches,
    chunked,
    encode,
    points_message,
    protocol_rows,
)
from tsvis_live.stream.hub import Subscriber

log = logging.getLogger(__name__)

BATCH_WINDOW = 0.025  # seconds to gather points before sending
HEARTBEAT = 5.0
DEFAULT_CLIENT_BUFFER = 100_000  # points queued per client before it must resync
DEFAULT_SNAPSHOT_POINTS = 2000
MAX_SNAPSHOT_POINTS = 1_000_000
MAX_MESSAGE = 64 * 1024  # characters of one client message (a subscribe is ~100)
# bytes: uvicorn's ws_max_size, the protocol layer's own cut-off (1009 without our error frame).
# Well above MAX_MESSAGE, so most oversize messages get the app's error frame and a clean close.
MAX_FRAME = 1024 * 1024
MAX_DEPTH = 8  # JSON nesting of a client message (a subscribe has 1)
MAX_SUBSCRIPTIONS = 2000  # series one socket may follow
CLOSE_UNSUPPORTED, CLOSE_TOO_BIG = 1003, 1009


def _bad_name(field: str, value: Any) -> str | None:
    """Why a run/tag value cannot be followed, or None: any string the store can hold."""
    if not isinstance(value, str):
        return "'run' and 'tag' must be strings."
    if len(value) > MAX_NAME:
        return f"'{field}' is {len(value)} characters long; at most {MAX_NAME} are allowed."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"'{field}' is not valid Unicode (it holds a lone surrogate)."
    return None


class Client:
    """One /ws client: its socket, its subscriptions (`Feed`) and its hub queue."""

    def __init__(self, ws: WebSocket, session: Session) -> None:
        self.ws = ws
        self.session = session
        self.feed = Feed()
        limit = getattr(ws.app.state, "client_buffer", DEFAULT_CLIENT_BUFFER)
        self.sub: Subscriber = session.hub.subscribe(limit, weigh=self.feed.weigh)
        self.lock = asyncio.Lock()  # replays and live sends never interleave for one client
        self.batch = False  # client opted in: one frame per batching window

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_text(encode(message))

    async def error(self, text: str) -> None:
        await self.send({"type": "error", "message": text})

    async def refuse(self, code: int, text: str) -> None:
        """An error frame saying why, then the close code (the socket ends)."""
        async with self.lock:
            with contextlib.suppress(Exception):
                await self.error(text)
            with contextlib.suppress(Exception):
                await self.ws.close(code=code, reason=text[:120])

    async def send_all(self, messages: list[dict[str, Any]]) -> None:
        if self.batch and len(messages) > 1:
            for group in batches([encode(m) for m in messages]):  # frames under 1 MiB
                await self.ws.send_text('{"type":"batch","messages":[' + ",".join(group) + "]}")
            return
        for m in messages:
            await self.send(m)

    # -- client messages -----------------------------------------------------------------
    async def handle(self, raw: str) -> None:
        try:
            msg = parse_json(raw, max_bytes=MAX_MESSAGE, max_depth=MAX_DEPTH)
        except JSONRefused as exc:
            await self.error(f"The message {exc}: send one JSON object per frame.")
            return
        if not isinstance(msg, dict):
            await self.error("Messages must be JSON objects, like {\"op\": \"ping\"}.")
            return
        op = msg.get("op")
        if op == "ping":
            await self.send({"type": "pong"})
        elif op == "options":
            self.batch = bool(msg.get("batch", self.batch))
        elif op in ("subscribe", "unsubscribe"):
            kind, run, tag = msg.get("kind"), msg.get("run"), msg.get("tag")
            problem = _bad_name("run", run) or _bad_name("tag", tag)
            if kind not in KINDS:
                await self.error(f"'kind' must be one of {list(KINDS)}, got {str(kind)[:40]!r}.")
            elif problem:
                await self.error(problem)
            elif op == "unsubscribe":
                self.feed.unsubscribe((kind, run, tag))
            else:
                await self.subscribe((kind, run, tag), msg.get("since"), msg.get("max_points"))
        else:
            shown = op[:40] if isinstance(op, str) else type(op).__name__
            await self.error(f"Unknown op {shown!r}: use subscribe, unsubscribe, options or ping.")

    async def subscribe(self, key: tuple[str, str, str], since: Any, max_points: Any) -> None:
        if since is not None and (not isinstance(since, int) or isinstance(since, bool)
                                  or not 0 <= since <= INT64_MAX):
            await self.error(f"'since' must be an integer cursor between 0 and {INT64_MAX}.")
            return
        if max_points is not None and (not isinstance(max_points, int) or isinstance(max_points, bool)
                                       or not 1 <= max_points <= MAX_SNAPSHOT_POINTS):
            await self.error(f"'max_points' must be an integer between 1 and {MAX_SNAPSHOT_POINTS}.")
            return
        if key not in self.feed.watermarks and len(self.feed.watermarks) >= MAX_SUBSCRIPTIONS:
            await self.error(f"This socket already follows {MAX_SUBSCRIPTIONS} series, the most allowed "
                             "subscriptions per socket: unsubscribe from some, or open another socket.")
            return
        limit = max_points or DEFAULT_SNAPSHOT_POINTS
        async with self.lock:  # the pump waits: queued commits are filtered after the replay
            try:
                if since is not None:
                    points, cursors = protocol_rows(await self.session.store.points(key, since))
                    self.feed.subscribe(key, since)
                    await self.send_all(self.feed.accept(key, points, cursors))
                else:
                    await self.snapshot(key, limit)
            except NotFound:
                # not written yet: follow it anyway, its first points will arrive live
                self.feed.subscribe(key, since or 0)
                await self.send(points_message(*key, [], since or 0, snapshot=True, downsampled=False))

    async def snapshot(self, key: tuple[str, str, str], limit: int) -> None:
        read = await self.session.store.snapshot(key, limit)  # the same selection as REST
        points, cursors = protocol_rows(read)
        self.feed.subscribe(key, read.cursor)
        if not points:
            await self.send(points_message(key[0], key[1], key[2], [], read.cursor, snapshot=True, downsampled=False))
            return
        await self.send_all(chunked(key[0], key[1], key[2], points, cursors, snapshot=True,
                                    downsampled=read.downsampled))

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


async def receive_loop(ws: WebSocket, client: Client) -> None:
    """Client messages until the client leaves, or sends a frame that ends the socket."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            await client.refuse(CLOSE_UNSUPPORTED, "Binary frames are not accepted: send JSON text frames.")
            return
        if len(text) > MAX_MESSAGE:
            await client.refuse(CLOSE_TOO_BIG, f"The message is too large ({len(text)} characters); "
                                             f"messages are limited to {MAX_MESSAGE}.")
            return
        try:
            await client.handle(text)
        except (WebSocketDisconnect, RuntimeError):
            raise
        except Exception:
            log.exception("failed to handle a /ws message")
            await client.error("The server failed to handle this message; the details are in its log.")


async def websocket_endpoint(ws: WebSocket) -> None:
    if not token_ok(ws):
        await ws.close(code=1008, reason="missing or wrong token")
        return
    try:
        session = await session_for(ws)
    except ApiError as exc:
        await ws.close(code=1008, reason=exc.msg[:120] if hasattr(exc, "msg") else "unknown session")
        return
    await ws.accept()
    client = Client(ws, session)
    pump = asyncio.create_task(client.pump())
    try:
        await client.send({"type": "hello", "session_id": session.id, "cursor": session.hub.last_cursor,
                         "heartbeat": HEARTBEAT})
        await receive_loop(ws, client)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        session.hub.unsubscribe(client.sub)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
