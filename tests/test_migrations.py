"""The schema comes from Alembic migrations, and the fast reopen path knows the newest one."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from tsvis_live.store import schema
from tsvis_live.store.database import SCHEMA_REVISION, Database


def test_schema_revision_is_alembic_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(resources.files("tsvis_live.migrations")))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


def test_migrated_database_matches_the_schema(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.sqlite")
    try:
        tables = db.read_sync(lambda c: set(inspect(c).get_table_names()))
        assert set(schema.metadata.tables) <= tables
        for name, table in schema.metadata.tables.items():
            cols = db.read_sync(lambda c, name=name: {col["name"] for col in inspect(c).get_columns(name)})
            assert cols == {c.name for c in table.columns}, name
        version = db.read_sync(lambda c: c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar())
        assert version == SCHEMA_REVISION
    finally:
        db.close()
    Database(tmp_path / "s.sqlite").close()  # reopening takes the fast path and still works
