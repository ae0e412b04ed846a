"""The writer's statements, built and compiled once per engine (not one per row), and how bulk
rows reach the driver.

Upserts are the one dialect-specific construct (SQLite and PostgreSQL spell `ON CONFLICT` the
same way, but SQLAlchemy builds it per dialect): `for_dialect` picks them once per engine kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert

from tsvis_live.store import schema as t

IN_LIMIT = 500  # digests per `IN (...)` lookup, well under SQLite's bound-variable limit
_PLAIN = (sqltypes.Integer, sqltypes.String, sqltypes.LargeBinary)  # bound as they are


class DriverInsert:
    """A Core INSERT compiled once and run as one driver executemany of plain tuples.

    For the bulk tables (a series and a scalar and histogram chunk row per tag and window):
    SQLAlchemy's per-row parameter processing cost about as much as SQLite's insert. Values the
    driver takes as they are go straight through; the others get their column type's own bind
    processor, as Core would apply it (schema.Real turns NaN into 'NaN'). On PostgreSQL a plain
    INSERT becomes COPY (psycopg 3), five times faster than batched INSERTs here; an upsert runs
    through Core's executemany.
    """

    def __init__(self, stmt: Insert, columns: Sequence[str], dialect: Dialect, upsert: bool = False) -> None:
        self.stmt, self.columns = stmt, list(columns)
        self.copy = dialect.name == "postgresql" and not upsert  # COPY has no ON CONFLICT
        compiled = stmt.compile(dialect=dialect, column_keys=self.columns)
        keys = list(compiled.positiontup or []) if dialect.positional else []
        self.positional = bool(keys)
        if self.copy:  # PostgreSQL: COPY, the bulk path (one round trip for the whole window)
            keys = self.columns
            names = ", ".join(dialect.identifier_preparer.quote(k) for k in keys)
            self.sql = f"COPY {dialect.identifier_preparer.quote(stmt.table.name)} ({names}) FROM STDIN (FORMAT BINARY)"
            self.pg_types = [_pg_type(stmt.table.c[k].type) for k in keys]
        elif not self.positional:
            return
        else:
            self.sql = str(compiled)
        self._row = itemgetter(*keys)
        types = [stmt.table.c[name].type for name in keys]
        self._convert = [(i, proc) for i, typ in enumerate(types) if not isinstance(typ, _PLAIN)
                         and (proc := typ.dialect_impl(dialect).bind_processor(dialect)) is not None]

    def __call__(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if self.copy:
            self._copy(conn, [self._values(r) for r in rows] if self._convert else [self._row(r) for r in rows])
            return
        if not self.positional:
            conn.execute(self.stmt, rows)
            return
        conn.exec_driver_sql(self.sql, [self._values(r) for r in rows] if self._convert else
                             [self._row(r) for r in rows])

    def _copy(self, conn: Connection, values: Sequence[Sequence[Any]]) -> None:
        """PostgreSQL: the rows through one binary COPY."""
        cursor = conn.connection.dbapi_connection.cursor()
        with cursor.copy(self.sql) as copy:
            copy.set_types(self.pg_types)
            for row in values:
                copy.write_row(row)

    def _values(self, row: dict[str, Any]) -> tuple[Any, ...]:
        values = list(self._row(row))
        for i, convert in self._convert:
            values[i] = convert(values[i])
        return tuple(values)


def _pg_type(typ: sqltypes.TypeEngine) -> str:
    """The PostgreSQL type a binary COPY sends a column's values as."""
    if isinstance(typ, sqltypes.TypeDecorator):
        typ = typ.impl_instance
    if isinstance(typ, sqltypes.Integer):
        return "int8"
    if isinstance(typ, sqltypes.Float):
        return "float8"
    if isinstance(typ, sqltypes.LargeBinary):
        return "bytea"
    return "text"


def _dialect_insert(dialect: Dialect):  # type: ignore[no-untyped-def]
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


class Statements:
    """Every statement the writer runs, for one dialect.

    Building a statement per row (`insert(...).values(...)`) cost more than the row itself
    (~200 us a series on the 1,000-run corpus); these are compiled once, then run as one
    executemany per table and window, with parameters only.
    """

    def __init__(self, dialect: Dialect) -> None:
        upsert = _dialect_insert(dialect)
        series_columns = [c.name for c in t.series.columns]  # explicit ids (StoreWriter._next_series)
        self.INSERT_SERIES = DriverInsert(insert(t.series), series_columns, dialect)  # a conflict is a bug
        self.INSERT_PLUGIN = DriverInsert(upsert(t.series).on_conflict_do_nothing(), series_columns, dialect,
                                          upsert=True)
        self.INSERT_CHUNKS = DriverInsert(
            insert(t.scalar_chunks), [c.name for c in t.scalar_chunks.columns if c.name != "id"], dialect)
        self.INSERT_SUMMARIES = DriverInsert(
            insert(t.scalar_summaries), [c.name for c in t.scalar_summaries.columns], dialect)
        self.INSERT_HISTOGRAMS = DriverInsert(
            insert(t.histogram_chunks), [c.name for c in t.histogram_chunks.columns if c.name != "id"], dialect)
        self.INSERT_RUN = insert(t.runs)
        self.INSERT_FILE = insert(t.files)
        self.UPDATE_FILE = update(t.files).where(t.files.c.id == bindparam("file_row_id"))
        self.INSERT_BLOB = upsert(t.blobs).on_conflict_do_nothing(index_elements=["digest"])
        self.BLOB_IDS = select(t.blobs.c.digest, t.blobs.c.id).where(
            t.blobs.c.digest.in_(bindparam("digests", expanding=True)))
        self.INSERT_ROWS = {table.name: insert(table) for table in t.POINT_TABLES}
        setting = upsert(t.settings)
        self.SAVE_SETTING = setting.on_conflict_do_update(index_elements=["key"],
                                                          set_={"value": setting.excluded.value})
        self.INSERT_COMPUTED = upsert(t.computed).on_conflict_do_nothing(index_elements=["key"])  # first wins


@cache
def _for_name(name: str, dialect: Dialect) -> Statements:
    return Statements(dialect)


def for_dialect(dialect: Dialect) -> Statements:
    """The statements for a connection's dialect, built on first use."""
    return _for_name(dialect.name, dialect)
