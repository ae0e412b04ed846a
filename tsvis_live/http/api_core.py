"""`/api/init` and `/api/getCategory`: open a session and tell the frontend what it holds."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tsvis_live.compute.natsort import group_of, natsorted
from tsvis_live.http import api_graph, api_mesh, api_projector, params
from tsvis_live.http.context import COOKIE, manager_of, open_named, session_for
from tsvis_live.http.json import ok
from tsvis_live.store.provider import Catalog

INIT_WAIT = 30.0  # seconds /api/init waits for the data already on disk (the contract's bound)
COOKIE_AGE = 14 * 24 * 3600  # what the frontend itself uses for its session_id cookie

# series kind -> (category key, media/statistic sub key)
_SECTIONS: dict[str, tuple[str, str | None]] = {
    "histogram": ("statistic", None),
    "image": ("media", "image"),
    "audio": ("media", "audio"),
    "text": ("media", "text"),
    "embedding": ("embedding", None),
    "exception": ("exception", None),
    "pr_curve": ("roc", None),
}
# category keys the frontend knows, in its sidebar order (any other key breaks its sidebar)
ORDER = ("graph", "scalar", "media", "statistic", "embedding", "feature", "roc", "hyperparm",
         "exception", "custom")


async def init(request: Request) -> Response:
    """Open (or reopen) the session; answer once stored data is loaded, or after INIT_WAIT."""
    manager = manager_of(request)
    user = params.name(request, "id", None)
    job = params.name(request, "trainJobName", None)
    if manager.logdir is not None:
        session = await session_for(request)
    else:
        session = await open_named(manager, user, job)
    wait = getattr(request.app.state, "init_wait", INIT_WAIT)
    try:
        await asyncio.wait_for(asyncio.shield(session.ready.wait()), timeout=wait)
        msg = "success"
    except asyncio.TimeoutError:
        p = session.progress
        msg = (f"success, still loading: {p.files_done}/{p.files_total} files, "
               f"{p.bytes_done}/{p.bytes_total} bytes read so far")
    response = ok({"msg": msg, "session_id": session.id})
    response.set_cookie(COOKIE, session.id, max_age=COOKIE_AGE, path="/", samesite="lax")
    return response


def categories(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """The getCategory payload, from what the store held at one moment."""
    tags: dict[str, dict[str, list[str]]] = {run: {} for run, _cursor in catalog.runs}
    for run, kind, tag, _cursor in catalog.series:
        tags.setdefault(run, {}).setdefault(kind, []).append(tag)
    records = catalog.records
    _drop_sample_only(catalog.with_vectors, tags)
    out: dict[str, dict[str, Any]] = {}
    for run in natsorted(tags):
        graphs = api_graph.run_graph_keys(catalog.plugins.get(run, {}), records.graph_kinds.get(run, set()))
        out[run] = _run_category(tags[run], graphs, run in records.with_hparams, run in records.with_layouts)
    return out


def _drop_sample_only(with_vectors: set[tuple[str, str]], tags: dict[str, dict[str, list[str]]]) -> None:
    """Embedding tags that hold only samples (TS-VIS `add_embedding_sample` before any
    `add_embedding`) have nothing to project: the panel would fail on them, so hide them."""
    if not any(kinds.get("embedding") for kinds in tags.values()):
        return
    for run, kinds in tags.items():
        if kinds.get("embedding"):
            kinds["embedding"] = [tag for tag in kinds["embedding"] if (run, tag) in with_vectors]


def _run_category(kinds: dict[str, list[str]], graphs: list[str], hparams: bool,
                  layouts: bool) -> dict[str, Any]:
    cat: dict[str, Any] = {}
    if graphs:  # s_graph, c_graph, trace/<tag>: see api_graph.graph_keys
        cat["graph"] = graphs
    if kinds.get("scalar"):
        groups: dict[str, list[str]] = {}
        for tag in natsorted(kinds["scalar"]):
            groups.setdefault(group_of(tag), []).append(tag)
        cat["scalar"] = {g: groups[g] for g in natsorted(groups)}
    for kind, (key, sub) in _SECTIONS.items():
        found = kinds.get(kind)
        if not found:
            continue
        found = natsorted(found)
        if key == "media":
            cat.setdefault("media", {})[sub] = found
        elif key == "statistic":
            cat["statistic"] = {"histogram": found, "distribution": found}
        else:
            cat[key] = found
    if hparams:
        cat["hyperparm"] = ["true"]
    if cat or layouts:
        cat["custom"] = ["true"]
    return {k: cat[k] for k in ORDER if k in cat}


def with_extensions(body: dict[str, dict[str, Any]], catalog: Catalog) -> dict[str, dict[str, Any]]:
    """`?extensions=1` (our dashboard): sections the TS-VIS frontend does not know, after its
    own: `mesh` (mesh names; see api_mesh)."""
    meshes: dict[str, list[str]] = {}
    for run, kind, tag, _cursor in catalog.series:
        if kind == "mesh":
            meshes.setdefault(run, []).append(tag)
    for run, tags in meshes.items():
        body.setdefault(run, {})["mesh"] = api_mesh.mesh_names(tags)
    return body


async def get_category(request: Request) -> Response:
    session = await session_for(request)
    catalog = await session.store.catalog()
    body = await session.store.offload(categories, catalog)
    if request.query_params.get("extensions") == "1":
        body = with_extensions(body, catalog)
    if any("embedding" in cat for cat in body.values()):
        api_projector.warm_up()  # the t-SNE worker starts while the user finds the panel
    return ok(body)


def routes() -> list[Route]:
    return [
        Route("/api/init", init),
        Route("/api/getCategory", get_category),
    ]
