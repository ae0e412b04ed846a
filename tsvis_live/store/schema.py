"""The session database schema (SQLAlchemy Core). Alembic migrations in `migrations/` build it.

One SQLite file holds one session (one logdir). Every point gets a cursor: an integer that
grows with every commit, so live clients can ask for "everything after C". Scalars, the bulk,
are stored as per-series columnar chunks (numpy arrays as blobs); everything else is a row per
point. Every point row names the file it came from, so a replaced file's points can be dropped.
"""

from __future__ import annotations

from sqlalchemy import (
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
    return Column(name, Integer, ForeignKey(f"{table}.id"), nullable=False)


def _point_columns() -> list[Column]:
    """Columns every per-point table starts with: its cursor, series, source file and step."""
    return [Column("cursor", Integer, primary_key=True), _ref("series_id", "series"), _ref("file_id", "files"),
            Column("step", Integer, nullable=False), Column("wall_time", Real, nullable=False)]


def _run_record_columns() -> list[Column]:
    """Columns of per-run records (graphs, hparams, layouts): id, run and source file."""
    return [Column("id", Integer, primary_key=True), _ref("run_id", "runs"), _ref("file_id", "files")]

settings = Table(
    "settings",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("cursor", Integer, nullable=False),  # cursor at which the run appeared
)

files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("path", String, nullable=False, unique=True),  # relative to the logdir, '/' separated
    Column("format", String, nullable=False),
    Column("inode", Integer, nullable=False, default=0),
    Column("head", LargeBinary, nullable=False, default=b""),  # first bytes, to detect replacement
    Column("offset", Integer, nullable=False, default=0),  # bytes stored (tailed formats)
    Column("size", Integer, nullable=False, default=0),  # size when last read
    Column("mtime_ns", Integer, nullable=False, default=0),
    Column("status", String, nullable=False, default="ok"),  # ok | broken
    Column("error", Text),
    Column("events", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
)

series = Table(
    "series",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("kind", String, nullable=False),  # scalar histogram image audio text embedding ...
    Column("tag", String, nullable=False),
    Column("plugin", String),
    Column("cursor", Integer, nullable=False),  # cursor at which the series appeared
    UniqueConstraint("run_id", "kind", "tag"),
)

scalar_chunks = Table(
    "scalar_chunks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("series_id", Integer, ForeignKey("series.id"), nullable=False),
    Column("file_id", Integer, ForeignKey("files.id"), nullable=False),
    Column("first_cursor", Integer, nullable=False),
    Column("last_cursor", Integer, nullable=False),
    Column("count", Integer, nullable=False),
    Column("min_step", Integer, nullable=False),
    Column("max_step", Integer, nullable=False),
    Column("steps", LargeBinary, nullable=False),  # int64
    Column("wall_times", LargeBinary, nullable=False),  # float64
    Column("values", LargeBinary, nullable=False),  # float64
    Column("cursors", LargeBinary),  # int64, only when not first_cursor..last_cursor contiguous
)
Index("ix_scalar_chunks_series", scalar_chunks.c.series_id, scalar_chunks.c.last_cursor)
Index("ix_scalar_chunks_file", scalar_chunks.c.file_id)

histograms = Table(
    "histograms",
    metadata,
    *_point_columns(),
    Column("min", Real, nullable=False),
    Column("max", Real, nullable=False),
    Column("num", Real, nullable=False),
    Column("sum", Real, nullable=False),
    Column("sum_squares", Real, nullable=False),
    Column("buckets", LargeBinary, nullable=False),  # see store.codec.pack_buckets
)
Index("ix_histograms_series", histograms.c.series_id, histograms.c.cursor)
Index("ix_histograms_file", histograms.c.file_id)

blobs = Table(
    "blobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("digest", LargeBinary, nullable=False, unique=True),  # sha256 of data
    Column("mime", String, nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

media = Table(
    "media",
    metadata,
    *_point_columns(),
    Column("idx", Integer, nullable=False),
    Column("blob_id", Integer, ForeignKey("blobs.id"), nullable=False),
    Column("meta", Text, nullable=False, default="{}"),  # JSON
)
Index("ix_media_series", media.c.series_id, media.c.step, media.c.idx)
Index("ix_media_file", media.c.file_id)

tensors = Table(
    "tensors",
    metadata,
    *_point_columns(),
    Column("blob_id", Integer, ForeignKey("blobs.id"), nullable=False),  # .npy bytes
    Column("extras", Text, nullable=False, default="{}"),  # JSON name -> blob id (.npy)
    Column("meta", Text, nullable=False, default="{}"),  # JSON
)
Index("ix_tensors_series", tensors.c.series_id, tensors.c.step)
Index("ix_tensors_file", tensors.c.file_id)

graphs = Table(
    "graphs",
    metadata,
    *_run_record_columns(),
    Column("kind", String, nullable=False),  # graphdef | run_metadata | json_model
    Column("tag", String, nullable=False),
    Column("blob_id", Integer, ForeignKey("blobs.id"), nullable=False),
    Column("cursor", Integer, nullable=False),
)
Index("ix_graphs_run", graphs.c.run_id)
Index("ix_graphs_file", graphs.c.file_id)

hparams = Table(
    "hparams",
    metadata,
    *_run_record_columns(),
    Column("group_name", String, nullable=False),
    Column("hparams", Text, nullable=False),  # JSON
    Column("metrics", Text, nullable=False),  # JSON
    Column("start_time", Real),
    Column("cursor", Integer, nullable=False),
)
Index("ix_hparams_run", hparams.c.run_id)
Index("ix_hparams_file", hparams.c.file_id)

layouts = Table(
    "layouts",
    metadata,
    *_run_record_columns(),
    Column("layout", Text, nullable=False),  # JSON
    Column("cursor", Integer, nullable=False),
)
Index("ix_layouts_file", layouts.c.file_id)

computed = Table(
    "computed",
    metadata,
    Column("key", String, primary_key=True),  # what determines the result (see compute/)
    Column("value", LargeBinary, nullable=False),
    Column("created", Real, nullable=False),
)

POINT_TABLES = (scalar_chunks, histograms, media, tensors, graphs, hparams, layouts)
