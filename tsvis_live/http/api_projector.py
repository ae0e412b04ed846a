"""Placeholder while the compute modules land."""

from __future__ import annotations

from starlette.routing import Route


def routes() -> list[Route]:
    return []


def shutdown_workers() -> None:
    return None
