"""`/api/scalar`, `/api/histogram`, `/api/distribution`: a series of one run and tag.

Loading, step filtering and downsampling are the store's (`Store.scalars`/`histograms`,
the same selection as the live endpoints), done in a reader thread. A long scalar answer is
streamed in chunks, so a 1M-point series is never held as one Python structure on top of its
numpy columns.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tsvis_live.compute.distribution import compress_histogram_list
from tsvis_live.compute.jsonsafe import dumps
from tsvis_live.http import params
from tsvis_live.http.context import session_for
from tsvis_live.http.json import items, ok, ok_stream
from tsvis_live.store.provider import HistogramPoint, ScalarSeries

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


def _scalar_chunks(series: ScalarSeries) -> Any:
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
    read = await session.store.scalars(run, tag, start=start, end=end, max_points=max_points, every=every)
    series = read.points
    headers = {"X-Total-Count": str(len(series)), "X-Downsampled": "true" if read.downsampled else "false"}
    if len(series) <= STREAM_ABOVE:
        points = [{"wall_time": w, "step": s, "value": v}
                  for w, s, v in zip(series.wall_times.tolist(), series.steps.tolist(), series.values.tolist())]
        return ok({tag: points}, headers=headers)
    head = "{" + dumps(tag).decode("utf-8") + ":["
    return ok_stream(head, _scalar_chunks(series), "]}", headers=headers)


def _buckets(p: HistogramPoint) -> list[list[float]]:
    """The frontend indexes the first bucket: an empty histogram is one empty bucket."""
    if len(p.buckets):
        return p.buckets.tolist()
    return [[p.min, p.max, 0.0]]


def histogram_rows(points: list[HistogramPoint]) -> list[list[Any]]:
    return [[p.wall_time, p.step, p.min, p.max, _buckets(p)] for p in points]


def distribution_rows(points: list[HistogramPoint]) -> list[list[Any]]:
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
    read = await session.store.histograms(run, tag, start=start, end=end, samples=samples, every=every)
    return ok({tag: await session.store.offload(histogram_rows, read.points)})


async def distribution(request: Request) -> Response:
    run, tag, start, end, samples, every = _histogram_request(request)
    session = await session_for(request)
    read = await session.store.histograms(run, tag, start=start, end=end, samples=samples, every=every)
    return ok({tag: await session.store.offload(distribution_rows, read.points)})


def routes() -> list[Route]:
    return [
        Route("/api/scalar", scalar),
        Route("/api/histogram", histogram),
        Route("/api/distribution", distribution),
    ]
