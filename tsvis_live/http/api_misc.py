"""Hyperparameters, custom-scalar layouts and PR/ROC curves.

hyperparm: records of a run are merged by group name (TensorBoard writes the experiment's
declared metrics and each session's values as separate records); a group without values is
dropped when another group has some. Metric values are matched to groups by *name*: a value
the writer stored in the record wins, else the last visible point of the run's scalar with
the metric's tag (the original matched them by map position).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

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
from tsvis_live.session import Session
from tsvis_live.store.provider import NotFound


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


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


async def hyperparm_data(session: Session, run: str) -> dict[str, Any]:
    """The hparams table of `run`; a metric value the records lack is the last shown point of
    the first of its `metric_sources` that the store holds."""
    own, every = await asyncio.gather(session.store.hparams(run), session.store.hparams())
    groups, metric_tags = _groups(own)
    if not groups:
        raise NotFound(f"run {run!r} has no hyperparameters")
    by_run: dict[str, list[dict[str, Any]]] = {}
    for rec in every:
        by_run.setdefault(rec["run"], []).append(rec)
    sessions = _sessions(run, groups, by_run)
    for _label, session_run, _g in sessions:
        if session_run != run:
            metric_tags += [m for m in _groups(by_run[session_run])[1] if m not in metric_tags]
    metric_tags += [m for m in _experiment_tags(by_run, run) if m not in metric_tags]
    cells = [(tag, label, session_run, _number(g["metrics"].get(tag)))
             for tag in metric_tags for label, session_run, g in sessions]
    missing = [hp.metric_sources(session_run, tag) for tag, _l, session_run, stored in cells if stored is None]
    found = iter(await session.store.last_values(missing) if missing else [])
    metrics: dict[str, dict[str, float | None]] = {tag: {} for tag in metric_tags}
    for tag, label, _session_run, stored in cells:
        metrics[tag][label] = stored if stored is not None else next(found)
    hp_groups = [HparamGroup(label, g["hparams"], g["start"] or 0.0) for label, _run, g in sessions]
    return hparams_response(hp_groups, metrics)


async def hyperparm(request: Request) -> Response:
    run = params.series_name(request, "run")
    session = await session_for(request)
    return ok(await hyperparm_data(session, run))


async def get_custom(request: Request) -> Response:
    """Custom-scalar layouts (TensorBoard `add_custom_scalars`), all runs: `{"layouts": [...]}`."""
    session = await session_for(request)
    return ok({"layouts": await session.store.layouts()})


async def get_roc(request: Request) -> Response:
    run, tag = params.run_tag(request)
    session = await session_for(request)
    tensors = await session.store.tensors(run, "pr_curve", tag)
    rows = [(e.wall_time, e.step, arr) for e, arr in tensors]
    return ok(await session.store.offload(roc_response, tag, rows))


def routes() -> list[Route]:
    return [
        Route("/api/hyperparm", hyperparm),
        Route("/api/getCustom", get_custom),
        Route("/api/getRoc", get_roc),
    ]
