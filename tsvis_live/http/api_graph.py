"""`/api/graph?run&tag=s_graph|c_graph`: the model graph panel.

The frontend `JSON.parse`s `data`, so `data` is a JSON *string* of `{"net", "operator"}`.
s_graph (layers) needs a JSON model file (OneFlow `structure_graph.json`, TS-VIS
`add_json_graph`, Keras); c_graph comes from the newest GraphDef of the run (TensorFlow,
PyTorch `add_graph`, tensorboardX), else from the JSON model with nothing removed. Building
runs in the reader thread together with the query.
"""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tsvis_live.compute.graphs import computation_graph, structure_graph
from tsvis_live.compute.jsonsafe import dumps
from tsvis_live.http import params
from tsvis_live.http.context import session_for
from tsvis_live.http.errors import ApiError
from tsvis_live.http.json import ok
from tsvis_live.store import reader


def _newest(records: list[tuple[str, str, bytes]], kind: str) -> bytes | None:
    found = [data for k, _tag, data in records if k == kind]
    return found[-1] if found else None


def graph_json(conn: Connection, run: str, which: str) -> str:
    records = reader.graphs(conn, run)
    model = _newest(records, "json_model")
    graphdef = _newest(records, "graphdef")
    try:
        if which == "s_graph":
            if model is None:
                raise reader.NotFound(f"run {run!r} has no structure graph (s_graph needs a JSON model file)")
            graph = structure_graph(model)
        elif graphdef is not None:
            graph = computation_graph(graphdef=graphdef)
        elif model is not None:
            graph = computation_graph(json_model=model)
        else:
            raise reader.NotFound(f"run {run!r} has no computation graph")
    except ValueError as exc:
        raise ApiError(500, f"The {which} of run {run!r} could not be built: {exc}") from None
    return dumps(graph).decode("utf-8")


async def graph(request: Request) -> Response:
    run = params.series_name(request, "run")
    which = params.choice(request, "tag", ("s_graph", "c_graph"))
    session = await session_for(request)
    return ok(await session.db.read(lambda conn: graph_json(conn, run, which)))


def routes() -> list[Route]:
    return [Route("/api/graph", graph)]
