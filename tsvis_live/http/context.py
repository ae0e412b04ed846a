"""Which session a request (or WebSocket) talks to.

The TS-VIS frontend sends `id`/`trainJobName` only to `/api/init`, then relies on the
`session_id` cookie. So: an explicit `session_id` (query, then cookie) wins; with `--logdir`
the single session answers whatever the request says; with `--logroot`, `id` + `trainJobName`
open `ROOT/<id>/<trainJobName>` on demand. Anything else is a 404 "unknown session".
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import HTTPConnection

from tsvis_live.http.errors import ApiError
from tsvis_live.http.params import check_name
from tsvis_live.session import PathRefused, Session, SessionManager, database_path

COOKIE = "session_id"


def manager_of(connection: HTTPConnection) -> SessionManager:
    return connection.app.state.manager


async def open_named(manager: SessionManager, user: str | None, job: str | None) -> Session:
    """The session for `id`/`trainJobName` (in --logdir mode: the logdir's), opened if needed.

    In --logroot mode a directory that neither exists nor was stored before is a 404, so a
    typo does not leave an empty database behind.
    """
    for pname, value in (("id", user), ("trainJobName", job)):
        if value:
            check_name(pname, value)
    try:
        logdir = manager.resolve(user, job)
    except PathRefused as exc:
        msg = str(exc)
        raise ApiError(400, msg[:1].upper() + msg[1:] + ".") from None
    if manager.logdir is None and not Path(logdir).is_dir() and not database_path(manager.data_dir, logdir).exists():
        raise ApiError(404, f"No logs found for id {user!r} and trainJobName {job!r}.")
    return await manager.open(logdir)


async def session_for(connection: HTTPConnection) -> Session:
    """The session a request addresses; raises ApiError(404) when there is none."""
    manager = manager_of(connection)
    sid = connection.query_params.get("session_id") or connection.cookies.get(COOKIE)
    if sid and sid in manager.sessions:
        return manager.sessions[sid]
    if manager.logdir is not None:
        session = manager.get(None)
        return session if session is not None else await manager.open(manager.logdir)
    user, job = connection.query_params.get("id"), connection.query_params.get("trainJobName")
    if user and job:
        return await open_named(manager, user, job)
    session = manager.get(None) if not sid else None
    if session is None:
        raise ApiError(404, "Unknown session: call /api/init with id and trainJobName first.")
    return session
