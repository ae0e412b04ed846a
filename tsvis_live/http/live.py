"""Live routes: /ws push, the REST polling fallback and the dashboard's columnar endpoints."""

from __future__ import annotations

from starlette.routing import BaseRoute


def live_routes() -> list[BaseRoute]:
    return []
