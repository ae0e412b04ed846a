"""Hyperparameters, custom-scalar layouts and PR/ROC curves.

hyperparm: records of a run are merged by group name (TensorBoard writes the experiment's
declared metrics and each session's values as separate records); a group without values is
dropped when another group has some. Metric values are matched to groups by *name*: a value
the writer stored in the record wins, else the last visible point of the run's scalar with
the metric's tag (the original matched them by map position).
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tsvis_live.compute.hparams import HparamGroup, hparams_response
from tsvis_live.compute.prcurves import roc_response
from tsvis_live.http import params
from tsvis_live.http.context import session_for
from tsvis_live.http.json import ok
from tsvis_live.store import reader


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _last_scalar(conn: Connection, run: str, tag: str) -> float | None:
    try:
        series = reader.scalar_series(conn, run, tag).visible()
    except reader.NotFound:
        return None
    return float(series.values[-1]) if len(series) else None


def hyperparm_data(conn: Connection, run: str) -> dict[str, Any]:
    records = reader.hparams(conn, run)
    groups: dict[str, dict[str, Any]] = {}
    metric_tags: list[str] = []
    for rec in records:
        g = groups.setdefault(rec["group_name"], {"hparams": {}, "metrics": {}, "start": None})
        g["hparams"].update(rec["hparams"])
        g["metrics"].update(rec["metrics"])
        if rec["start_time"] and g["start"] is None:
            g["start"] = rec["start_time"]
        metric_tags += [m for m in rec["metrics"] if m not in metric_tags]
    if any(g["hparams"] for g in groups.values()):
        groups = {name: g for name, g in groups.items() if g["hparams"]}
    if not groups:
        raise reader.NotFound(f"run {run!r} has no hyperparameters")
    last = {tag: _last_scalar(conn, run, tag) for tag in metric_tags}
    metrics: dict[str, dict[str, float | None]] = {}
    for tag in metric_tags:
        metrics[tag] = {}
        for name, g in groups.items():
            stored = _number(g["metrics"].get(tag))
            metrics[tag][name] = stored if stored is not None else last[tag]
    hp_groups = [HparamGroup(name, g["hparams"], g["start"] or 0.0) for name, g in groups.items()]
    return hparams_response(hp_groups, metrics)


async def hyperparm(request: Request) -> Response:
    run = params.series_name(request, "run")
    session = await session_for(request)
    return ok(await session.db.read(lambda conn: hyperparm_data(conn, run)))


async def get_custom(request: Request) -> Response:
    """Custom-scalar layouts (TensorBoard `add_custom_scalars`), all runs: `{"layouts": [...]}`."""
    session = await session_for(request)
    return ok({"layouts": await session.db.read(reader.layouts)})


def roc_data(conn: Connection, run: str, tag: str) -> dict[str, Any]:
    entries = reader.tensor_entries(conn, run, "pr_curve", tag)
    rows = [(e.wall_time, e.step, reader.load_array(conn, e.blob_id)) for e in entries]
    return roc_response(tag, rows)


async def get_roc(request: Request) -> Response:
    run, tag = params.run_tag(request)
    session = await session_for(request)
    return ok(await session.db.read(lambda conn: roc_data(conn, run, tag)))


def routes() -> list[Route]:
    return [
        Route("/api/hyperparm", hyperparm),
        Route("/api/getCustom", get_custom),
        Route("/api/getRoc", get_roc),
    ]
