"""Where a session's tables live: a SQLite file per logdir, or a PostgreSQL schema per session.

SQLite is the embedded default: one file per logdir under the data dir, nothing to run. With
`--database postgresql://user@host/db` one PostgreSQL database holds every session, each in a
schema of its own (`tsvis_<session id>`), so the tables, the migrations and every query are the
same on both engines; a connection's `search_path` picks the session. A registry table in the
`public` schema lists the sessions a database holds (for `tsvis-live migrate`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

REGISTRY = "tsvis_sessions"  # in schema public: session id -> logdir, schema


class UnknownDatabase(ValueError):
    """A --database value this version cannot use; the message is one line for a person."""


@dataclass(frozen=True)
class PostgresTarget:
    """One session's place in a PostgreSQL database."""

    url: str  # SQLAlchemy URL, driver included
    schema: str

    @property
    def shown(self) -> str:
        """The URL without its password, and the schema: safe for logs and messages."""
        return f"{make_url(self.url).render_as_string(hide_password=True)} (schema {self.schema})"


def normalize_url(value: str) -> str:
    """A plain `postgresql://` URL (or `postgres://`) as SQLAlchemy's psycopg 3 URL; other
    schemes are refused with one line."""
    try:
        url = make_url(value)
    except Exception:  # noqa: BLE001 - sqlalchemy raises ArgumentError with a long message
        raise UnknownDatabase(f"--database {value!r} is not a database URL "
                              "(expected postgresql://user@host:5432/dbname)") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise UnknownDatabase(f"--database {url.drivername!r} is not supported: use "
                          "postgresql://user@host:5432/dbname (or omit it for SQLite files)")


def schema_for(session_id: str) -> str:
    return f"tsvis_{session_id}"


def application_name() -> str:
    """How this process shows in pg_stat_activity (and so in 'ingested by ...' messages)."""
    return f"tsvis-live pid {os.getpid()} on {socket.gethostname()}"[:63]


def postgres_engine(target: PostgresTarget, pool_size: int, **kw: object) -> Engine:
    """An engine whose every connection works inside the session's schema."""
    engine = create_engine(target.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                           connect_args={"application_name": application_name()}, **kw)
    schema = target.schema

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        cur = dbapi_conn.cursor()
        cur.execute(f'SET search_path TO "{schema}"')
        cur.close()
        dbapi_conn.commit()

    return engine


def ensure_schema(conn: Connection, target: PostgresTarget, session_id: str, logdir: str) -> None:
    """Create the session's schema and its registry row, once, whoever comes first.

    Replicas open the same session at the same time: a transaction-scoped advisory lock makes
    `CREATE SCHEMA IF NOT EXISTS` (which races on its catalog row) one at a time.
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('tsvis-live:schemas'))"))
    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{target.schema}"'))
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS public.{REGISTRY} (id TEXT PRIMARY KEY, "
                      "logdir TEXT NOT NULL, schema_name TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)"))
    conn.execute(text(f"INSERT INTO public.{REGISTRY} VALUES (:id, :logdir, :schema, "
                      "extract(epoch from now())) ON CONFLICT (id) DO NOTHING"),
                 {"id": session_id, "logdir": logdir, "schema": target.schema})


def drop_schema(url: str, schema: str) -> None:
    """Drop a session's schema (--rebuild on PostgreSQL: re-read the logdir from scratch)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


def list_sessions(url: str) -> list[tuple[str, str, str]]:
    """(id, logdir, schema) of every session a PostgreSQL database holds."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT to_regclass(:t)"), {"t": f"public.{REGISTRY}"}).scalar()
            if exists is None:
                return []
            rows = conn.execute(text(f"SELECT id, logdir, schema_name FROM public.{REGISTRY} ORDER BY created"))
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()

