"""The exception (anomaly) view: one tensor per step as box plots, a heat map, a histogram
and its outliers. Statistics come from compute.exceptions and run on the store's reader pool (`offload`).

Step-keyed answers use the request's own `step` text as the key: the frontend looks the
answer up with `data[param.step]`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tsvis_live.compute import exceptions as ex
from tsvis_live.http import params
from tsvis_live.http.context import session_for
from tsvis_live.http.errors import ApiError
from tsvis_live.http.json import ok
from tsvis_live.session import Session
from tsvis_live.store.provider import TensorEntry

KIND = "exception"
MAX_CELLS = 4_000_000  # a heat map beyond this is refused with 413 (it would be >50 MB of JSON)


def boxes(tensors: list[tuple[TensorEntry, np.ndarray]]) -> dict[str, Any]:
    """Box statistics of every step (given the newest write of each, in step order)."""
    return {"step": [e.step for e, _ in tensors], "box": [ex.box_stats(arr) for _, arr in tensors]}


async def _tensor(session: Session, run: str, tag: str, step: int) -> np.ndarray:
    _entry, arr = await session.store.tensor_at(run, KIND, tag, step)
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
    tensors = await session.store.tensors(run, KIND, tag, newest_per_step=True)
    return ok({tag: await session.store.offload(boxes, tensors)})


def _heatmap(arr: np.ndarray, tag: str, step: int) -> list[Any]:
    if arr.size > MAX_CELLS:
        raise ApiError(413, f"The tensor of tag {tag!r} at step {step} has {arr.size} values; "
                       f"heat maps are limited to {MAX_CELLS}.")
    return list(ex.heatmap(arr))


async def exception_data(request: Request) -> Response:
    run, tag, step, key = _step_request(request)
    session = await session_for(request)
    arr = await _tensor(session, run, tag, step)
    return ok({key: await session.store.offload(_heatmap, arr, tag, step)})


async def exception_hist(request: Request) -> Response:
    run, tag, step, key = _step_request(request)
    buckets = params.integer(request, "buckets", ex.HIST_BUCKETS, minimum=1, maximum=1000)
    session = await session_for(request)
    hist = await session.store.offload(ex.bounded_histogram, await _tensor(session, run, tag, step), buckets)
    return ok({key: [hist]})


async def exception_box(request: Request) -> Response:
    run, tag, step, key = _step_request(request)
    up = params.number(request, "up")
    down = params.number(request, "down")
    session = await session_for(request)
    values, coords, total = await session.store.offload(ex.outliers, await _tensor(session, run, tag, step), up, down)
    return ok({key: [values, coords]}, headers={"X-Total-Count": str(total)})


def routes() -> list[Route]:
    return [
        Route("/api/exception", exception),
        Route("/api/exception_data", exception_data),
        Route("/api/exception_hist", exception_hist),
        Route("/api/exception_box", exception_box),
    ]
