"""The session database schema (SQLAlchemy Core). Alembic migrations in `migrations/` build it.

On SQLite one file holds one session (one logdir); on PostgreSQL one database holds every
session, each in its own schema (`store.backend`), so the tables are the same everywhere. Every point gets a cursor: an integer that
grows with every commit, so live clients can ask for "everything after C". Scalars, the bulk,
and histograms are stored as per-series columnar chunks (numpy arrays as blobs); everything else
is a row per point. Every point row names the file it came from, so a replaced file's points can be dropped.
"""

from __future__ import annotations

import json

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData()

# 64-bit everywhere (steps, cursors, offsets, sizes, inodes, mtimes). On SQLite every INTEGER is
# already 64-bit, and only a column declared exactly INTEGER is a rowid alias: keep that name.
BigInt = BigInteger().with_variant(Integer(), "sqlite")


def storable(name: str, dialect_name: str) -> str:
    """A run/tag name as an engine can hold it: PostgreSQL text cannot contain NUL, which a
    crafted tag may, so there it becomes U+FFFD (SQLite keeps every name exactly)."""
    return name.replace("\x00", "\ufffd") if dialect_name == "postgresql" and "\x00" in name else name


class Name(TypeDecorator):
    """A run, tag or path: the same text on every engine, where the engine can hold it
    (`storable`), in stored rows and in lookups alike."""

    impl = String
    cache_ok = True

    def bind_processor(self, dialect):  # type: ignore[no-untyped-def]
        if dialect.name != "postgresql":
            return None  # SQLite: as it is, at no cost on the bulk insert path
        return lambda value: None if value is None else storable(value, "postgresql")


class JsonText(TypeDecorator):
    """A JSON document stored as text on every engine; Python sees dicts and lists.

    Not PostgreSQL's JSONB: writers put NaN and Infinity in hparams and metadata, which JSON
    (and so JSONB) refuses, and nothing queries inside these documents; text keeps them exact.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        return None if value is None else json.dumps(value, default=str)

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        return None if value is None else json.loads(value)


class _UnconvertedFloat(Float):
    """Float without the driver-side float() conversion, which would turn 'NaN' back to NaN."""

    def bind_processor(self, dialect):  # type: ignore[no-untyped-def]
        return None


class Real(TypeDecorator):
    """A float column that keeps NaN as written.

    SQLite turns a bound NaN into NULL (a NOT NULL column then refuses the whole transaction,
    and a nullable one loses the value), so on SQLite NaN is stored as the text 'NaN', which a
    REAL column keeps as text; +-Inf are ordinary REALs. Engines with a native NaN store it.
    """

    impl = _UnconvertedFloat
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value != value and dialect.name == "sqlite":
            return "NaN"
        return value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        return float(value) if isinstance(value, str) else value


def _ref(name: str, table: str) -> Column:
    return Column(name, BigInt, ForeignKey(f"{table}.id"), nullable=False)


def _point_columns() -> list[Column]:
    """Columns every per-point table starts with: its cursor, series, source file and step."""
    return [Column("cursor", BigInt, primary_key=True), _ref("series_id", "series"), _ref("file_id", "files"),
            Column("step", BigInt, nullable=False), Column("wall_time", Real, nullable=False)]


def _run_record_columns() -> list[Column]:
    """Columns of per-run records (graphs, hparams, layouts): id, run and source file."""
    return [Column("id", BigInt, primary_key=True), _ref("run_id", "runs"), _ref("file_id", "files")]

settings = Table(
    "settings",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", BigInt, primary_key=True),
    Column("name", Name, nullable=False, unique=True),
    Column("cursor", BigInt, nullable=False),  # cursor at which the run appeared
)

files = Table(
    "files",
    metadata,
    Column("id", BigInt, primary_key=True),
    Column("run_id", BigInt, ForeignKey("runs.id"), nullable=False),
    Column("path", Name, nullable=False, unique=True),  # relative to the logdir, '/' separated
    Column("format", String, nullable=False),
    Column("inode", BigInt, nullable=False, default=0),
    Column("head", LargeBinary, nullable=False, default=b""),  # first bytes, to detect replacement
    Column("offset", BigInt, nullable=False, default=0),  # bytes stored (tailed formats)
    Column("size", BigInt, nullable=False, default=0),  # size when last read
    Column("mtime_ns", BigInt, nullable=False, default=0),
    Column("status", String, nullable=False, default="ok"),  # ok | broken
    Column("error", Text),
    Column("events", BigInt, nullable=False, default=0),
    Column("skipped", BigInt, nullable=False, default=0),
)

series = Table(
    "series",
    metadata,
    Column("id", BigInt, primary_key=True),
    Column("run_id", BigInt, ForeignKey("runs.id"), nullable=False),
    Column("kind", String, nullable=False),  # scalar histogram image audio text embedding ...
    Column("tag", Name, nullable=False),
    Column("plugin", String),
    Column("cursor", BigInt, nullable=False),  # cursor at which the series appeared
    UniqueConstraint("run_id", "kind", "tag"),
)

def _chunk_table(name: str, *payload: Column) -> Table:
    """A per-series chunk table: a tag's points of one commit (or merged commits) in one row,
    as packed columns after the cursor range, count and step range every reader selects on;
    `cursors` only when they are not first_cursor..last_cursor contiguous."""
    table = Table(
        name,
        metadata,
        Column("id", BigInt, primary_key=True),
        Column("series_id", BigInt, ForeignKey("series.id"), nullable=False),
        Column("file_id", BigInt, ForeignKey("files.id"), nullable=False),
        Column("first_cursor", BigInt, nullable=False),
        Column("last_cursor", BigInt, nullable=False),
        Column("count", BigInt, nullable=False),
        Column("min_step", BigInt, nullable=False),
        Column("max_step", BigInt, nullable=False),
        Column("steps", LargeBinary, nullable=False),  # int64
        Column("wall_times", LargeBinary, nullable=False),  # float64
        *payload,
        Column("cursors", LargeBinary),  # int64
    )
    Index(f"ix_{name}_series", table.c.series_id, table.c.last_cursor)
    Index(f"ix_{name}_file", table.c.file_id)
    Index(f"ix_{name}_cursor", table.c.last_cursor)  # changes after a cursor
    return table


scalar_chunks = _chunk_table("scalar_chunks", Column("values", LargeBinary, nullable=False))  # float64

SUMMARY_LEVELS = 7  # store.summaries: 64, 256, ... 262,144 points per item
scalar_summaries = Table(  # one row per scalar chunk, written with it; see store.summaries
    "scalar_summaries",
    metadata,
    Column("first_cursor", BigInt, primary_key=True, autoincrement=False),  # its chunk's (a cursor is one point's)
    Column("series_id", BigInt, nullable=False),  # no foreign keys: the chunk row holds them
    Column("file_id", BigInt, nullable=False),
    Column("monotone", BigInt, nullable=False),  # 1: the chunk's steps strictly increase
    # coarse levels first: on SQLite a column is reached through the ones before it
    *[Column(f"level{k}", LargeBinary) for k in reversed(range(SUMMARY_LEVELS))],  # NULL above one item
)
Index("ix_scalar_summaries_file", scalar_summaries.c.file_id)

histogram_chunks = _chunk_table(  # histograms, like scalars; see store.histochunks
    "histogram_chunks",
    Column("stats", LargeBinary, nullable=False),  # float64 (count, 5): min max num sum sum_squares
    Column("bucket_ends", LargeBinary, nullable=False),  # int64: each histogram's end row in `buckets`
    Column("buckets", LargeBinary, nullable=False),  # every bucket row of the chunk, see histochunks
)

blobs = Table(
    "blobs",
    metadata,
    Column("id", BigInt, primary_key=True),
    Column("digest", LargeBinary, nullable=False, unique=True),  # sha256 of data
    Column("mime", String, nullable=False),
    Column("size", BigInt, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

media = Table(
    "media",
    metadata,
    *_point_columns(),
    Column("idx", BigInt, nullable=False),
    Column("blob_id", BigInt, ForeignKey("blobs.id"), nullable=False),
    Column("meta", JsonText, nullable=False, default={}),
)
Index("ix_media_series", media.c.series_id, media.c.step, media.c.idx)
Index("ix_media_file", media.c.file_id)

tensors = Table(
    "tensors",
    metadata,
    *_point_columns(),
    Column("blob_id", BigInt, ForeignKey("blobs.id"), nullable=False),  # .npy bytes
    Column("extras", JsonText, nullable=False, default={}),  # name -> blob id (.npy)
    Column("meta", JsonText, nullable=False, default={}),
)
Index("ix_tensors_series", tensors.c.series_id, tensors.c.step)
Index("ix_tensors_file", tensors.c.file_id)

graphs = Table(
    "graphs",
    metadata,
    *_run_record_columns(),
    Column("kind", String, nullable=False),  # graphdef | run_metadata | json_model
    Column("tag", Name, nullable=False),
    Column("blob_id", BigInt, ForeignKey("blobs.id"), nullable=False),
    Column("cursor", BigInt, nullable=False),
)
Index("ix_graphs_run", graphs.c.run_id)
Index("ix_graphs_file", graphs.c.file_id)

hparams = Table(
    "hparams",
    metadata,
    *_run_record_columns(),
    Column("group_name", Name, nullable=False),
    Column("hparams", JsonText, nullable=False),
    Column("metrics", JsonText, nullable=False),
    Column("start_time", Real),
    Column("cursor", BigInt, nullable=False),
)
Index("ix_hparams_run", hparams.c.run_id)
Index("ix_hparams_file", hparams.c.file_id)

layouts = Table(
    "layouts",
    metadata,
    *_run_record_columns(),
    Column("layout", JsonText, nullable=False),
    Column("cursor", BigInt, nullable=False),
)
Index("ix_layouts_file", layouts.c.file_id)

computed = Table(
    "computed",
    metadata,
    Column("key", String, primary_key=True),  # what determines the result (see compute/)
    Column("value", LargeBinary, nullable=False),
    Column("created", Real, nullable=False),
)

POINT_TABLES = (scalar_chunks, scalar_summaries, histogram_chunks, media, tensors, graphs, hparams, layouts)
