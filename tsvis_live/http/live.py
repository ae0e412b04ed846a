"""Live routes: /ws push, the REST polling fallback and the dashboard's columnar endpoints."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute

from tsvis_live.compute.jsonsafe import dumps
from tsvis_live.health import redact
from tsvis_live.http import params
from tsvis_live.http.api_series import all_writes
from tsvis_live.http.context import session_for
from tsvis_live.http.errors import ApiError, envelope
from tsvis_live.http.hosts import is_loopback
from tsvis_live.store.provider import Poll, ScalarRead
from tsvis_live.stream.feed import KINDS, Key, category_message, chunked, protocol_rows

MAX_POLL_SUBS = 500


def series_columns(read: ScalarRead) -> dict[str, Any]:
    """The dashboard's columnar answer for a scalar read (see docs/protocol.md)."""
    s = read.points
    out: dict[str, Any] = {"total": read.total, "cursor": read.cursor, "downsampled": read.downsampled}
    if read.bands is not None:
        b = read.bands
        out["band"] = {"step_start": b.step_start.tolist(), "step_end": b.step_end.tolist(),
                       "min": b.min.tolist(), "max": b.max.tolist()}
    out.update(steps=s.steps.tolist(), wall_times=s.wall_times.tolist(), values=s.values.tolist())
    if read.smoothed is not None:
        out["smoothed"] = read.smoothed.tolist()
    return out


async def scalars(request: Request) -> Response:
    session = await session_for(request)
    run, tag = params.run_tag(request)
    max_points = params.integer(request, "max_points", 2000, minimum=4, maximum=1_000_000)
    start = params.integer(request, "start_step", None)
    end = params.integer(request, "end_step", None)
    smoothing = params.number(request, "smoothing", 0.0)
    if not 0.0 <= smoothing < 1.0:
        raise ApiError(400, f"Parameter 'smoothing' must be in [0, 1), got {smoothing!r}.")
    read = await session.store.scalars(run, tag, start=start, end=end, max_points=max_points,
                                       every=all_writes(request), smoothing=smoothing, bands=True)
    return envelope(200, "ok", series_columns(read))


def content_disposition(stem: str, ext: str) -> str:
    """`attachment` with an ASCII fallback name and the real one as RFC 6266 `filename*`.

    Headers are Latin-1 on the wire: a run or tag outside it used to make the response fail.
    """
    real = "".join("_" if ch in '/\\' or not ch.isprintable() else ch for ch in stem)[:200] or "series"
    ascii_name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in real)
    return (f'attachment; filename="{ascii_name}.{ext}"; '
            f"filename*=UTF-8''{quote(f'{real}.{ext}', safe='')}")


async def export(request: Request) -> Response:
    """The full stored series (every point, file order), streamed as CSV or JSON."""
    session = await session_for(request)
    run, tag = params.run_tag(request)
    fmt = params.choice(request, "format", ("csv", "json"), "csv")
    s = (await session.store.scalars(run, tag)).points

    async def rows_csv() -> AsyncIterator[bytes]:
        yield b"wall_time,step,value\n"
        for i in range(0, len(s), 20000):
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerows(zip(s.wall_times[i : i + 20000].tolist(), s.steps[i : i + 20000].tolist(),
                            s.values[i : i + 20000].tolist()))
            yield buf.getvalue().encode()

    async def rows_json() -> AsyncIterator[bytes]:
        yield b"["
        for i in range(0, len(s), 20000):
            part = [{"wall_time": w, "step": st, "value": v} for w, st, v in zip(
                s.wall_times[i : i + 20000].tolist(), s.steps[i : i + 20000].tolist(), s.values[i : i + 20000].tolist())]
            body = dumps(part)[1:-1]
            yield (b"," if i and body else b"") + body
        yield b"]"

    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    headers = {"Content-Disposition": content_disposition(f"{run}_{tag}", fmt)}
    return StreamingResponse(rows_csv() if fmt == "csv" else rows_json(), media_type=media, headers=headers)


def poll_messages(read: Poll, since: int, subs: list[Key]) -> dict[str, Any]:
    """What /ws would have pushed after `since`: categories, then the points of each sub."""
    messages = [category_message(run, "run", None, c) for run, c in read.runs]
    messages += [category_message(run, kind, tag, c) for run, kind, tag, c in read.series]
    for key in subs:  # a series not stored yet has no entry: its category message announces it
        if key in read.points:
            messages += chunked(key[0], key[1], key[2], *protocol_rows(read.points[key]))
    return {"messages": messages, "cursor": max(read.until, since)}


def poll_subs(items: Any) -> list[Key]:
    """The (kind, run, tag) keys of a decoded `subs` parameter, or a 400/413 saying what is wrong."""
    shape = "Parameter 'subs' must be a JSON list of {\"kind\", \"run\", \"tag\"} objects"
    if not isinstance(items, list) or not all(isinstance(d, dict) for d in items):
        raise ApiError(400, shape + ".")
    if len(items) > MAX_POLL_SUBS:
        raise ApiError(413, f"Parameter 'subs' lists {len(items)} series; at most {MAX_POLL_SUBS} are allowed.")
    subs = []
    for d in items:
        kind, run, tag = d.get("kind"), d.get("run"), d.get("tag")
        if kind not in KINDS or not isinstance(run, str) or not isinstance(tag, str):
            raise ApiError(400, f"{shape}: kind one of {list(KINDS)}, run and tag strings.")
        params.check_length("subs", run)
        params.check_length("subs", tag)
        subs.append((kind, run, tag))
    return subs


async def poll(request: Request) -> Response:
    session = await session_for(request)
    since = params.integer(request, "since", 0, minimum=0)
    subs = poll_subs(params.json_param(request, "subs", "[]"))
    read = await session.store.poll(since, subs)
    return envelope(200, "ok", poll_messages(read, since, subs))


async def status(request: Request) -> Response:
    """Ingest progress and per-file state, for the dashboard and for operators."""
    session = await session_for(request)
    files = await session.store.files()
    p = session.progress
    local = request.client is not None and is_loopback(request.client.host)
    path = session.store.path
    hide = () if local else (str(session.logdir), *session.source.locations) + ((str(path.parent),) if path else ())
    for f in files:  # OS errors name absolute paths
        if f.get("error"):
            f["error"] = redact(f["error"], hide)
    return envelope(200, "ok", {  # only a local user learns where the logs are on disk
        "session_id": session.id, "logdir": str(session.logdir) if local else session.logdir.name,
        "ready": session.ready.is_set(),
        "read_only": session.read_only, "cursor": session.hub.last_cursor,
        "progress": {"files_done": p.files_done, "files_total": p.files_total, "bytes_done": p.bytes_done,
                     "bytes_total": p.bytes_total, "events": p.events},
        "role": session.role, "store": session.store.backend,
        "broker": type(session.hub).__name__.removesuffix("Hub").lower(),  # local | redis
        "problems": session.health.snapshot(hide),
        "files": files,
    })


def live_routes() -> list[BaseRoute]:
    from tsvis_live.http.ws import websocket_endpoint

    return [
        WebSocketRoute("/ws", websocket_endpoint),
        Route("/api/live/scalars", scalars),
        Route("/api/live/export", export),
        Route("/api/live/poll", poll),
        Route("/api/live/status", status),
    ]
