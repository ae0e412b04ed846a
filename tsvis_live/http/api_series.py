"""`/api/scalar`, `/api/histogram`, `/api/distribution`: a series of one run and tag.

Everything runs inside the database read (a reader thread): loading, step filtering,
downsampling. A long scalar answer is streamed in chunks, so a 1M-point series is never held
as one Python structure on top of its numpy columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tsvis_live.compute.distribution import compress_histogram_list
from tsvis_live.compute.downsample import downsample
from tsvis_live.compute.jsonsafe import dumps
from tsvis_live.http import params
from tsvis_live.http.context import session_for
from tsvis_live.http.json import items, ok, ok_stream
from tsvis_live.store import reader

STREAM_ABOVE = 20_000  # points; smaller answers are encoded in one go
CHUNK = 50_000  # points per streamed chunk
MAX_POINTS = 10_000_000


def all_writes(request: Request) -> bool:
    """`all_writes=1`: every stored write, in write order, instead of the newest per step."""
    return params.choice(request, "all_writes", ("0", "1", "false", "true"), "0") in ("1", "true")


def _step_range(request: Request) -> tuple[int | None, int | None]:
    start = params.integer(request, "start_step", None)
    end = params.integer(request, "end_step", None)
    return start, end


def _in_range(steps: np.ndarray, start: int | None, end: int | None) -> np.ndarray | None:
    if start is None and end is None:
        return None
    mask = np.ones(len(steps), dtype=bool)
    if start is not None:
        mask &= steps >= start
    if end is not None:
        mask &= steps <= end
    return np.flatnonzero(mask)


def scalar_points(conn: Connection, run: str, tag: str, start: int | None, end: int | None,
                  max_points: int | None, every: bool = False) -> tuple[reader.ScalarSeries, bool]:
    """The visible series (`every`: all writes) in [start, end], downsampled to max_points;
    and whether it was."""
    series = reader.scalar_series(conn, run, tag)
    if not every:
        series = series.visible()
    index = _in_range(series.steps, start, end)
    if index is not None:
        series = series.take(index)
    if max_points is not None and len(series) > max_points:
        keep = downsample(series.steps, None, series.values, max_points)
        return series.take(keep), True
    return series, False


def _scalar_chunks(series: reader.ScalarSeries) -> Any:
    for i in range(0, len(series), CHUNK):
        walls = series.wall_times[i:i + CHUNK].tolist()
        steps = series.steps[i:i + CHUNK].tolist()
        values = series.values[i:i + CHUNK].tolist()
        chunk = items([{"wall_time": w, "step": s, "value": v} for w, s, v in zip(walls, steps, values)])
        yield (b"," + chunk) if i else chunk


async def scalar(request: Request) -> Response:
    run, tag = params.run_tag(request)
    max_points = params.integer(request, "max_points", None, minimum=2, maximum=MAX_POINTS)
    start, end = _step_range(request)
    every = all_writes(request)
    session = await session_for(request)
    series, down = await session.db.read(
        lambda conn: scalar_points(conn, run, tag, start, end, max_points, every))
    headers = {"X-Total-Count": str(len(series)), "X-Downsampled": "true" if down else "false"}
    if len(series) <= STREAM_ABOVE:
        points = [{"wall_time": w, "step": s, "value": v}
                  for w, s, v in zip(series.wall_times.tolist(), series.steps.tolist(), series.values.tolist())]
        return ok({tag: points}, headers=headers)
    head = "{" + dumps(tag).decode("utf-8") + ":["
    return ok_stream(head, _scalar_chunks(series), "]}", headers=headers)


def _histograms(conn: Connection, run: str, tag: str, start: int | None, end: int | None,
                samples: int | None, every: bool = False) -> list[reader.HistogramPoint]:
    points = reader.histogram_series(conn, run, tag)
    if not every:
        points = reader.visible_histograms(points)
    if start is not None or end is not None:
        lo = start if start is not None else -(1 << 63)
        hi = end if end is not None else (1 << 63) - 1
        points = [p for p in points if lo <= p.step <= hi]
    if samples is not None and len(points) > samples:
        # evenly spaced, always keeping the first and the last step (deterministic)
        keep = np.unique(np.linspace(0, len(points) - 1, samples).round().astype(int))
        points = [points[i] for i in keep.tolist()]
    return points


def _buckets(p: reader.HistogramPoint) -> list[list[float]]:
    """The frontend indexes the first bucket: an empty histogram is one empty bucket."""
    if len(p.buckets):
        return p.buckets.tolist()
    return [[p.min, p.max, 0.0]]


def histogram_rows(points: list[reader.HistogramPoint]) -> list[list[Any]]:
    return [[p.wall_time, p.step, p.min, p.max, _buckets(p)] for p in points]


def distribution_rows(points: list[reader.HistogramPoint]) -> list[list[Any]]:
    compressed = compress_histogram_list([p.buckets for p in points],
                                         [p.min for p in points], [p.max for p in points])
    return [[p.wall_time, p.step, c] for p, c in zip(points, compressed)]


def _histogram_request(request: Request) -> tuple[str, str, int | None, int | None, int | None, bool]:
    run, tag = params.run_tag(request)
    samples = params.integer(request, "samples", None, minimum=1)
    start, end = _step_range(request)
    return run, tag, start, end, samples, all_writes(request)


async def histogram(request: Request) -> Response:
    run, tag, start, end, samples, every = _histogram_request(request)
    session = await session_for(request)
    rows = await session.db.read(
        lambda conn: histogram_rows(_histograms(conn, run, tag, start, end, samples, every)))
    return ok({tag: rows})


async def distribution(request: Request) -> Response:
    run, tag, start, end, samples, every = _histogram_request(request)
    session = await session_for(request)
    rows = await session.db.read(
        lambda conn: distribution_rows(_histograms(conn, run, tag, start, end, samples, every)))
    return ok({tag: rows})


def routes() -> list[Route]:
    return [
        Route("/api/scalar", scalar),
        Route("/api/histogram", histogram),
        Route("/api/distribution", distribution),
    ]
