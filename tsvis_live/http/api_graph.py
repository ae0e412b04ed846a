"""`/api/graph?run&tag` (the model graph panel) and `/api/run_metadata?run[&tag]` (step stats).

The frontend `JSON.parse`s `data`, so `data` is a JSON *string* of `{"net", "operator"}`.
Graph tags of a run, in the order getCategory lists them (`graph_keys`):
- `s_graph` (layers) needs a JSON model file (OneFlow `structure_graph.json`, TS-VIS
  `add_json_graph`, Keras); asked of a run without one but with traces, it answers the run's
  op graphs as a model list (see `_every_op_graph`) instead of a 404;
- `c_graph` comes from the newest GraphDef of the run (TensorFlow, PyTorch `add_graph`,
  tensorboardX), else from the JSON model with nothing removed, else from the newest
  `tf.summary.trace_export` op graph (so a run holding only a trace shows it in the TS-VIS
  panel, which asks for nothing but `s_graph` and `c_graph`);
- `trace/<tag>` for every trace tag with an op graph (plugins `graph_run_metadata_graph` and
  `graph_run_metadata`, as TensorBoard lists them): the merged function graphs of that
  RunMetadata (`compute.runmeta`).
`stats=<tag>` lays the step stats of that RunMetadata tag (TF1 `add_run_metadata`, a profiled
trace, torch `add_graph`'s `step1`) over the graph's nodes as `_stats/...` attributes.
The records come from the store (`Store.graphs`, `Store.plugins`); building runs on its
reader pool (`Store.offload`), off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tsvis_live.compute import runmeta
from tsvis_live.compute.graphs import (
    OPERATOR_CATEGORIES,
    computation_graph,
    graphdef_ops,
    ops_graph,
    structure_graph,
)
from tsvis_live.compute.jsonsafe import dumps
from tsvis_live.compute.natsort import natsorted
from tsvis_live.http import params
from tsvis_live.http.context import session_for
from tsvis_live.http.errors import ApiError
from tsvis_live.http.json import ok
from tsvis_live.store.provider import NotFound

TRACE_PREFIX = "trace/"


def _newest(records: list[tuple[str, str, bytes]], kind: str, tag: str | None = None) -> bytes | None:
    found = [data for k, t, data in records if k == kind and (tag is None or t == tag)]
    return found[-1] if found else None


def trace_tags(plugins: dict[str, str]) -> list[str]:
    """Tags of the run's RunMetadata records that have an op graph (by plugin, as TensorBoard
    decides; `plugins` is the run's tag -> plugin), in natural order. Needs no graph bytes:
    getCategory calls it on every poll."""
    return natsorted(tag for tag, plugin in plugins.items() if plugin in runmeta.OP_GRAPH_PLUGINS)


def graph_keys(graph_kinds: set[str], traces: list[str]) -> list[str]:
    """The run's `graph` section of getCategory (see the module docstring)."""
    keys = []
    if "json_model" in graph_kinds:
        keys.append("s_graph")
    if graph_kinds & {"json_model", "graphdef"} or traces:
        keys.append("c_graph")
    keys.extend(TRACE_PREFIX + tag for tag in traces)
    return keys


def run_graph_keys(plugins: dict[str, str], graph_kinds: set[str]) -> list[str]:
    """`graph_keys` of one run, looking at trace tags only when the run has RunMetadata."""
    traces = trace_tags(plugins) if "run_metadata" in graph_kinds else []
    return graph_keys(graph_kinds, traces)


def _trace_graph(records: list[tuple[str, str, bytes]], run: str, tag: str, traces: list[str],
                 stats: Any) -> dict[str, Any]:
    data = _newest(records, "run_metadata", tag)
    if data is None:
        raise NotFound(f"run {run!r} has no trace {tag!r}")
    if tag not in traces:
        raise NotFound(f"run {run!r} has no op graph for {tag!r}: that run metadata is a profile "
                              "(its step stats are at /api/run_metadata)")
    ops = runmeta.op_graph_ops(runmeta.parse(data))
    if stats is not None:
        runmeta.annotate(ops, stats)
    return ops_graph(ops)


def _every_op_graph(records: list[tuple[str, str, bytes]], run: str, graphdef: bytes | None,
                    traces: list[str]) -> dict[str, Any]:
    """s_graph asked of a run without a JSON model but with traces (the TS-VIS panel's
    structure button is live once a run lists two graph tags): its op graphs as a model list,
    the run graph first, then each trace, so that panel's model selector reaches every one."""
    if not traces:
        raise NotFound(f"run {run!r} has no structure graph (s_graph needs a JSON model file)")
    nets = [computation_graph(graphdef=graphdef)["net"]] if graphdef is not None else []
    nets += [_trace_graph(records, run, tag, traces, None)["net"] for tag in traces]
    return {"net": nets, "operator": OPERATOR_CATEGORIES}


def graph_json(records: list[tuple[str, str, bytes]], plugins: dict[str, str], run: str, which: str,
               stats_tag: str | None = None) -> str:
    """The graph `which` of a run from its graph records and plugins (see the module docstring)."""
    model = _newest(records, "json_model")
    graphdef = _newest(records, "graphdef")
    stats = None
    if stats_tag is not None:
        raw = _newest(records, "run_metadata", stats_tag)
        if raw is None:
            raise NotFound(f"run {run!r} has no run metadata {stats_tag!r}")
        try:
            stats = runmeta.parse(raw)
        except ValueError as exc:
            raise ApiError(500, f"The run metadata {stats_tag!r} of run {run!r} could not be read: {exc}") from None
    try:
        if which.startswith(TRACE_PREFIX):
            graph = _trace_graph(records, run, which[len(TRACE_PREFIX):], trace_tags(plugins), stats)
        elif which == "s_graph" and model is not None:
            graph = structure_graph(model)
        elif which == "s_graph":
            graph = _every_op_graph(records, run, graphdef, trace_tags(plugins))
        elif graphdef is not None and stats is None:
            graph = computation_graph(graphdef=graphdef)
        elif graphdef is not None:
            ops = graphdef_ops(graphdef)
            runmeta.annotate(ops, stats)
            graph = ops_graph(ops)
        elif model is not None:
            graph = computation_graph(json_model=model)
        else:
            traces = trace_tags(plugins)
            newest = [tag for kind, tag, _ in records if kind == "run_metadata" and tag in traces]
            if not newest:
                raise NotFound(f"run {run!r} has no computation graph")
            graph = _trace_graph(records, run, newest[-1], traces, stats)
    except ValueError as exc:
        raise ApiError(500, f"The {which} of run {run!r} could not be built: {exc}") from None
    return dumps(graph).decode("utf-8")


def _graph_tag(request: Request) -> str:
    which = params.series_name(request, "tag")
    if which in ("s_graph", "c_graph") or (which.startswith(TRACE_PREFIX) and len(which) > len(TRACE_PREFIX)):
        return which
    raise ApiError(400, f"Parameter 'tag' must be 's_graph', 'c_graph' or '{TRACE_PREFIX}<tag>', got {which!r}.")


async def graph(request: Request) -> Response:
    run = params.series_name(request, "run")
    which = _graph_tag(request)
    stats = params.string(request, "stats", None)
    session = await session_for(request)
    records, plugins = await asyncio.gather(session.store.graphs(run), session.store.plugins(run))
    return ok(await session.store.offload(graph_json, records, plugins, run, which, stats))


def run_metadata_json(graphs: list[tuple[str, str, bytes]], plugins: dict[str, str], run: str,
                      tag: str | None) -> dict[str, Any]:
    """`{tag: {...}}` for one tag, or every RunMetadata tag of the run with what it holds."""
    records = [(t, data) for kind, t, data in graphs if kind == "run_metadata"]
    traces = set(trace_tags(plugins))
    newest: dict[str, bytes] = {}
    for t, data in records:
        newest[t] = data
    if tag is not None and tag not in newest:
        raise NotFound(f"run {run!r} has no run metadata {tag!r}")
    if tag is None and not newest:
        raise NotFound(f"run {run!r} has no run metadata")
    out = {}
    for t in natsorted(newest) if tag is None else [tag]:
        try:
            meta = runmeta.parse(newest[t])
        except ValueError as exc:
            raise ApiError(500, f"The run metadata {t!r} of run {run!r} could not be read: {exc}") from None
        body = runmeta.step_stats_json(meta)
        body["op_graph"] = t in traces
        if tag is None:  # the listing: what each tag holds, not every node
            body["nodes"] = sum(len(d["nodes"]) for d in body["devices"])
            body["devices"] = [d["device"] for d in body["devices"]]
        out[t] = body
    return out


async def run_metadata(request: Request) -> Response:
    run = params.series_name(request, "run")
    tag = params.string(request, "tag", None)
    session = await session_for(request)
    records, plugins = await asyncio.gather(session.store.graphs(run), session.store.plugins(run))
    return ok(await session.store.offload(run_metadata_json, records, plugins, run, tag))


def routes() -> list[Route]:
    return [Route("/api/graph", graph), Route("/api/run_metadata", run_metadata)]
