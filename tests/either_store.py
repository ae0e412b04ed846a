"""A session database on SQLite or PostgreSQL, for tests that hold every store to one result.

Import `engine` and `db` into a test module (`from tests.either_store import db, engine`) and its
tests run once per store; `open_db` opens (or reopens, by schema name) one outside a fixture, `migrate_to` moves its schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from tsvis_live.store import backend
from tsvis_live.store.database import Database


def open_db(engine: str, tmp_path: Path, pg_url: str | None, schema: str | None = None) -> Database:
    """A new (or, given `schema` again, the same) database: a file in tmp_path, or a fresh schema."""
    if engine == "sqlite":
        return Database(tmp_path / "s.sqlite")
    assert pg_url is not None
    target = backend.PostgresTarget(backend.normalize_url(pg_url), schema or f"tsvis_t_{uuid.uuid4().hex[:12]}")
    return Database(None, postgres=target, session_id=target.schema, logdir="")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    d = open_db(engine, tmp_path, request.getfixturevalue("pg_url") if engine == "postgresql" else None)
    yield d
    d.close()


def migrate_to(db: Database, action: str, revision: str) -> None:
    """Run Alembic's `action` ("upgrade" or "downgrade") to `revision` on `db`'s own connection."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("tsvis_live.migrations")))
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        getattr(command, action)(config, revision)
        conn.commit()
