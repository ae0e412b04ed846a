"""The exception (anomaly) view: one tensor per step as box plots, a heat map, a histogram
and its outliers. Statistics come from compute.exceptions and run in the reader thread.

Step-keyed answers use the request's own `step` text as the key: the frontend looks the
answer up with `data[param.step]`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tsvis_live.compute import exceptions as ex
from tsvis_live.http import params
from tsvis_live.http.context import session_for
from tsvis_live.http.errors import ApiError
from tsvis_live.http.json import ok
from tsvis_live.store import reader

KIND = "exception"
MAX_CELLS = 4_000_000  # a heat map beyond this is refused with 413 (it would be >50 MB of JSON)


def boxes(conn: Connection, run: str, tag: str) -> dict[str, Any]:
    """Box statistics of every step (the newest write of a step wins)."""
    latest: dict[int, reader.TensorEntry] = {}
    for entry in reader.tensor_entries(conn, run, KIND, tag):
        latest[entry.step] = entry  # entries come ordered by (step, cursor)
    steps = sorted(latest)
    return {"step": steps, "box": [ex.box_stats(reader.load_array(conn, latest[s].blob_id)) for s in steps]}


def _tensor(conn: Connection, run: str, tag: str, step: int) -> np.ndarray:
    _entry, arr = reader.tensor_at(conn, run, KIND, tag, step)
    if arr.dtype.kind not in "biuf":
        raise ApiError(400, f"Exception tag {tag!r} of run {run!r} does not hold numbers.")
    return arr


def _step_request(request: Request) -> tuple[str, str, int, str]:
    run, tag = params.run_tag(request)
    step = params.integer(request, "step")
    return run, tag, step, request.query_params["step"]  # type: ignore[return-value]


async def exception(request: Request) -> Response:
    run, tag = params.run_tag(request)
    session = await session_for(request)
    return ok({tag: await session.db.read(lambda conn: boxes(conn, run, tag))})


def _heatmap(conn: Connection, run: str, tag: str, step: int) -> list[Any]:
    arr = _tensor(conn, run, tag, step)
    if arr.size > MAX_CELLS:
        raise ApiError(413, f"The tensor of tag {tag!r} at step {step} has {arr.size} values; "
                       f"heat maps are limited to {MAX_CELLS}.")
    return list(ex.heatmap(arr))


async def exception_data(request: Request) -> Response:
    run, tag, step, key = _step_request(request)
    session = await session_for(request)
    return ok({key: await session.db.read(lambda conn: _heatmap(conn, run, tag, step))})


async def exception_hist(request: Request) -> Response:
    run, tag, step, key = _step_request(request)
    buckets = params.integer(request, "buckets", ex.HIST_BUCKETS, minimum=1, maximum=1000)
    session = await session_for(request)
    hist = await session.db.read(lambda conn: ex.bounded_histogram(_tensor(conn, run, tag, step), buckets))
    return ok({key: [hist]})


async def exception_box(request: Request) -> Response:
    run, tag, step, key = _step_request(request)
    up = params.number(request, "up")
    down = params.number(request, "down")
    session = await session_for(request)
    values, coords, total = await session.db.read(
        lambda conn: ex.outliers(_tensor(conn, run, tag, step), up, down))
    return ok({key: [values, coords]}, headers={"X-Total-Count": str(total)})


def routes() -> list[Route]:
    return [
        Route("/api/exception", exception),
        Route("/api/exception_data", exception_data),
        Route("/api/exception_hist", exception_hist),
        Route("/api/exception_box", exception_box),
    ]
