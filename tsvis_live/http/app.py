"""The Starlette application: the TS-VIS API, the live routes and a web UI.

`create_app` wires a `SessionManager` into the routes; the lifespan opens the `--logdir`
session at startup (so the API answers at once with what is stored while ingest catches up)
and closes every session at shutdown. The UI is either our dashboard (built by `web/` into
`http/static/dashboard`) or the TS-VIS frontend shipped in the `tsvis` wheel, unmodified.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from tsvis_live.http import (
    api_core,
    api_exception,
    api_graph,
    api_media,
    api_mesh,
    api_misc,
    api_projector,
    api_projector_bulk,
    api_series,
)
from tsvis_live.http.errors import InternalErrorMiddleware, exception_handlers
from tsvis_live.http.headers import SecurityHeadersMiddleware, content_security_policy
from tsvis_live.http.hosts import HostMiddleware, HostPolicy
from tsvis_live.http.live import live_routes
from tsvis_live.http.security import STATE_KEY, TokenMiddleware
from tsvis_live.session import SessionManager

DASHBOARD = Path(__file__).resolve().parent / "static" / "dashboard"
NOT_BUILT = ("<!doctype html><meta charset=utf-8><title>tsvis-live</title><p>The tsvis-live dashboard "
             "was not built (run <code>npm run build</code> in <code>web/</code>); the API is at "
             "<code>/api/</code>, or start with <code>--ui tsvis</code>.</p>")
NO_CACHE = {"Cache-Control": "no-cache"}


class UIUnavailable(RuntimeError):
    """The requested UI cannot be served (e.g. `--ui tsvis` without the tsvis package)."""


def api_routes() -> list[BaseRoute]:
    """Every /api route of the TS-VIS contract and our REST additions (not /api/live)."""
    routes: list[BaseRoute] = []
    for module in (api_core, api_series, api_media, api_graph, api_projector, api_projector_bulk, api_exception,
                   api_misc, api_mesh):
        routes.extend(module.routes())
    return routes


def tsvis_frontend_dir() -> Path:
    """The built TS-VIS frontend inside the installed `tsvis` package."""
    spec = importlib.util.find_spec("tsvis")
    if spec is None or not spec.submodule_search_locations:
        raise UIUnavailable("--ui tsvis needs the TS-VIS frontend: install it with "
                            "`pip install tsvis==0.4.2 --no-deps` (or use --ui dashboard)")
    frontend = Path(next(iter(spec.submodule_search_locations))) / "server" / "frontend"
    if not (frontend / "index.html").is_file() or not (frontend / "static").is_dir():
        raise UIUnavailable(f"the installed tsvis package has no built frontend at {frontend}")
    return frontend


def _tsvis_ui() -> list[BaseRoute]:
    frontend = tsvis_frontend_dir()
    index = frontend / "index.html"

    async def home(_request: Request) -> Response:
        return FileResponse(index, media_type="text/html", headers=NO_CACHE)

    return [
        Route("/", home),
        Route("/index.html", home),
        Mount("/static", StaticFiles(directory=frontend / "static")),
    ]


def _dashboard_file(rel: str) -> Path | None:
    """A file of the built dashboard, never outside its directory (read per request, so a
    build made while the server runs is picked up)."""
    try:
        path = (DASHBOARD / rel).resolve()
        path.relative_to(DASHBOARD)
        return path if path.is_file() else None
    except (ValueError, OSError):  # outside, or a name the file system refuses (ENAMETOOLONG)
        return None


def _dashboard_ui() -> list[BaseRoute]:
    async def home(_request: Request) -> Response:
        index = _dashboard_file("index.html")
        if index is None:
            return HTMLResponse(NOT_BUILT, headers=NO_CACHE)
        return FileResponse(index, media_type="text/html", headers=NO_CACHE)

    async def asset(request: Request) -> Response:
        rel = request.path_params["path"]
        path = None if rel.startswith("api/") else _dashboard_file(rel)
        if path is None:
            raise HTTPException(404)
        immutable = rel.startswith("assets/")  # Vite puts content hashes in these names
        headers = {"Cache-Control": "public, max-age=31536000, immutable"} if immutable else NO_CACHE
        return FileResponse(path, headers=headers)

    return [Route("/", home), Route("/index.html", home), Route("/{path:path}", asset)]


def _ui_index_html(ui: str) -> str | None:
    """The UI's page as served, read once at startup for the hashes of its inline scripts."""
    index = tsvis_frontend_dir() / "index.html" if ui == "tsvis" else _dashboard_file("index.html")
    try:
        return index.read_text(encoding="utf-8", errors="replace") if index is not None else None
    except OSError:
        return None


def create_app(manager: SessionManager, *, ui: str = "dashboard", token: str | None = None,
               host: str | None = None, allowed_hosts: list[str] | tuple[str, ...] = ()) -> Starlette:
    """The server application for `manager`'s sessions; raises UIUnavailable for a bad `ui`.

    `host` is the address the server listens on: it decides which Host headers and Origins
    are accepted (tsvis_live.http.hosts), together with `allowed_hosts`.
    """
    if ui == "tsvis":
        ui_routes = _tsvis_ui()
    elif ui == "dashboard":
        ui_routes = _dashboard_ui()
    else:
        raise UIUnavailable(f"unknown ui {ui!r} (choose 'dashboard' or 'tsvis')")
    csp = content_security_policy(_ui_index_html(ui), allow_eval=ui == "tsvis")  # see http/headers.py

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if manager.logdir is not None:
            await manager.open(manager.logdir)
        try:
            yield
        finally:
            try:
                await manager.close()
            finally:
                api_projector.shutdown_workers()

    routes = [*live_routes(), *api_routes(), *ui_routes]
    app = Starlette(
        routes=routes,
        middleware=[  # outermost first: even a refusal carries the security headers
            Middleware(SecurityHeadersMiddleware, csp=csp),
            Middleware(HostMiddleware, policy=HostPolicy(host, allowed_hosts)),
            Middleware(TokenMiddleware, token=token),
            Middleware(InternalErrorMiddleware),
        ],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    app.state.manager = manager
    setattr(app.state, STATE_KEY, token or None)
    app.state.ui = ui
    return app
