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

from tsvis_live.compute import hparams as hp
from tsvis_live.compute.hparams import HparamGroup, hparams_response
from tsvis_live.compute.natsort import natsorted
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


def _groups(records: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Records merged by group name, and the metric tags they name (in order)."""
    groups: dict[str, dict[str, Any]] = {}
    metric_tags: list[str] = []
    for rec in records:
        g = groups.setdefault(rec["group_name"], {"hparams": {}, "metrics": {}, "start": None})
        g["hparams"].update(rec["hparams"])
        g["metrics"].update(rec["metrics"])
        if rec["start_time"] and g["start"] is None:
            g["start"] = rec["start_time"]
        metric_tags += [m for m in rec["metrics"] if m not in metric_tags]
    return groups, metric_tags


def _experiment_tags(by_run: dict[str, list[dict[str, Any]]], run: str) -> list[str]:
    """The metric list of the nearest experiment record (no hparams) above `run`."""
    for parent in hp.ancestors(run):
        tags = [m for rec in by_run.get(parent, []) if not rec["hparams"] for m in rec["metrics"]]
        if tags:
            return list(dict.fromkeys(tags))
    return []


def _sessions(run: str, groups: dict[str, dict[str, Any]],
              by_run: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, session run, group) of the trials to show for `run`.

    A run with sessions shows its own; an experiment run (metric list only) shows every
    session below it, labelled by its run path relative to `run`, as TensorBoard's table.
    """
    own = [(name, run, g) for name, g in groups.items() if g["hparams"]]
    if own:
        return own
    below = []
    for other in natsorted(r for r in by_run if hp.is_below(r, run)):
        sub = {n: g for n, g in _groups(by_run[other])[0].items() if g["hparams"]}
        rel = hp.relative(other, run)
        below += [(rel if len(sub) == 1 else f"{rel}/{n}", other, g) for n, g in sub.items()]
    return below or [(name, run, g) for name, g in groups.items()]


def hyperparm_data(conn: Connection, run: str) -> dict[str, Any]:
    groups, metric_tags = _groups(reader.hparams(conn, run))
    if not groups:
        raise reader.NotFound(f"run {run!r} has no hyperparameters")
    by_run: dict[str, list[dict[str, Any]]] = {}
    for rec in reader.hparams(conn):
        by_run.setdefault(rec["run"], []).append(rec)
    sessions = _sessions(run, groups, by_run)
    for _label, session_run, _g in sessions:
        if session_run != run:
            metric_tags += [m for m in _groups(by_run[session_run])[1] if m not in metric_tags]
    metric_tags += [m for m in _experiment_tags(by_run, run) if m not in metric_tags]
    known = {name for name, _cursor in reader.list_runs(conn)}
    last: dict[tuple[str, str], float | None] = {}

    def value(session_run: str, tag: str) -> float | None:
        for source in hp.metric_sources(session_run, tag):
            if source[0] in known:
                if source not in last:
                    last[source] = _last_scalar(conn, *source)
                if last[source] is not None:
                    return last[source]
        return None

    metrics: dict[str, dict[str, float | None]] = {}
    for tag in metric_tags:
        metrics[tag] = {}
        for label, session_run, g in sessions:
            stored = _number(g["metrics"].get(tag))
            metrics[tag][label] = stored if stored is not None else value(session_run, tag)
    hp_groups = [HparamGroup(label, g["hparams"], g["start"] or 0.0) for label, _run, g in sessions]
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
