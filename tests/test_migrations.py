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


def _structure(path: Path) -> dict:
    """Every table's columns, indexes and foreign keys as SQLite reports them."""
    import sqlite3

    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        out = {}
        for t in tables:
            indexes = {}
            for _seq, name, unique, origin, partial in con.execute(f"PRAGMA index_list('{t}')"):
                cols = [r[2] for r in con.execute(f"PRAGMA index_info('{name}')")]
                key = name if origin == "c" else f"{origin}:{cols}"  # auto-named ones by what they cover
                indexes[key] = (unique, partial, cols)
            out[t] = {
                "columns": [r[1:] for r in con.execute(f"PRAGMA table_info('{t}')")],
                "indexes": indexes,
                "foreign_keys": sorted(r[2:] for r in con.execute(f"PRAGMA foreign_key_list('{t}')")),
            }
        out["version"] = con.execute("SELECT version_num FROM alembic_version").fetchall()
        return out
    finally:
        con.close()


def test_a_new_database_gets_what_the_migrations_build(tmp_path: Path) -> None:
    """A new SQLite file is created in one step (no Alembic): it must be exactly the schema
    that replaying every migration from nothing builds."""
    from alembic import command
    from sqlalchemy import create_engine

    Database(tmp_path / "new.sqlite").close()
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.sqlite'}")
    config = Config()
    config.set_main_option("script_location", str(resources.files("tsvis_live.migrations")))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    engine.dispose()
    new, migrated = _structure(tmp_path / "new.sqlite"), _structure(tmp_path / "migrated.sqlite")
    assert new.keys() == migrated.keys()
    for table in migrated:
        assert new[table] == migrated[table], table
    assert new["version"] == [(SCHEMA_REVISION,)]


def test_a_crash_while_creating_leaves_a_file_the_next_start_builds(tmp_path: Path) -> None:
    """The new schema is one transaction: a file left empty (a crash before the commit) is
    simply built again."""
    import sqlite3

    path = tmp_path / "s.sqlite"
    sqlite3.connect(path).close()  # an empty file, as a crash before the commit leaves it
    db = Database(path)
    try:
        assert db.read_sync(lambda c: c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()) \
            == SCHEMA_REVISION
    finally:
        db.close()
