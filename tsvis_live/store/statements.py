"""The writer's statements, built and compiled once (not one per row), and how bulk rows reach
the driver."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert

from tsvis_live.store import schema as t

IN_LIMIT = 500  # digests per `IN (...)` lookup, well under SQLite's bound-variable limit
_PLAIN = (sqltypes.Integer, sqltypes.String, sqltypes.LargeBinary)  # bound as they are


class DriverInsert:
    """A Core INSERT compiled once and run as one driver executemany of plain tuples.

    For the bulk tables (a series and a chunk row per tag and window, a row per histogram):
    SQLAlchemy's per-row parameter processing cost about as much as SQLite's insert. Values the
    driver takes as they are go straight through; the others get their column type's own bind
    processor, as Core would apply it (schema.Real turns NaN into 'NaN').
    """

    def __init__(self, stmt: Insert, columns: Sequence[str]) -> None:
        dialect = sqlite_dialect()
        compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
        keys = compiled.positiontup
        self.sql, self._row = str(compiled), itemgetter(*keys)
        types = [stmt.table.c[name].type for name in keys]
        self._convert = [(i, proc) for i, typ in enumerate(types) if not isinstance(typ, _PLAIN)
                         and (proc := typ.dialect_impl(dialect).bind_processor(dialect)) is not None]

    def __call__(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        conn.exec_driver_sql(self.sql, [self._values(r) for r in rows] if self._convert else
                             [self._row(r) for r in rows])

    def _values(self, row: dict[str, Any]) -> tuple[Any, ...]:
        values = list(self._row(row))
        for i, convert in self._convert:
            values[i] = convert(values[i])
        return tuple(values)


# Statements built once. Building one per row (`insert(...).values(...)`) cost more than the
# row itself (~200 us a series on the 1,000-run corpus); these are compiled once, then run as
# one executemany per table and window, with parameters only.
_SERIES_COLUMNS = [c.name for c in t.series.columns]  # explicit ids (see StoreWriter._next_series)
INSERT_SERIES = DriverInsert(insert(t.series), _SERIES_COLUMNS)  # a conflict is a bug: it fails
INSERT_PLUGIN = DriverInsert(sqlite_insert(t.series).on_conflict_do_nothing(), _SERIES_COLUMNS)
INSERT_CHUNKS = DriverInsert(insert(t.scalar_chunks), [c.name for c in t.scalar_chunks.columns if c.name != "id"])
INSERT_HISTOGRAMS = DriverInsert(insert(t.histograms), [c.name for c in t.histograms.columns])
INSERT_RUN = insert(t.runs)
INSERT_FILE = insert(t.files)
UPDATE_FILE = update(t.files).where(t.files.c.id == bindparam("file_row_id"))
INSERT_BLOB = sqlite_insert(t.blobs).on_conflict_do_nothing(index_elements=["digest"])
BLOB_IDS = select(t.blobs.c.digest, t.blobs.c.id).where(t.blobs.c.digest.in_(bindparam("digests", expanding=True)))
INSERT_ROWS = {table.name: insert(table) for table in t.POINT_TABLES}
_upsert = sqlite_insert(t.settings)
SAVE_SETTING = _upsert.on_conflict_do_update(index_elements=["key"], set_={"value": _upsert.excluded.value})
INSERT_COMPUTED = sqlite_insert(t.computed).on_conflict_do_nothing(index_elements=["key"])  # first wins
