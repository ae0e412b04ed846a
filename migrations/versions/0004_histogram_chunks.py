"""Histogram chunks: a window's histograms of one tag in one row, as scalars are (store.histochunks).

A row per histogram cost ~5 us of SQLite insert and index work each, a third of a whole ingest
for 2% of its events. Stored histograms are converted here, per series and file in cursor order,
at most CHUNK to a chunk, with their cursors kept (explicit where they are not a range, as they
mostly are not: a window interleaved its tags); then `histograms` goes away.

Revision ID: 0004
Revises: 0003
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

CHUNK = 2_000  # histograms per converted chunk (~1 MB at 30 buckets)
BLOBS = ("steps", "wall_times", "stats", "bucket_ends", "buckets", "cursors")
STATS = ("min", "max", "num", "sum", "sum_squares")


def _big():  # type: ignore[no-untyped-def]
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY, the rowid


def upgrade() -> None:
    big = _big()
    chunks = op.create_table(
        "histogram_chunks",
        sa.Column("id", big, primary_key=True),
        sa.Column("series_id", big, sa.ForeignKey("series.id"), nullable=False),
        sa.Column("file_id", big, sa.ForeignKey("files.id"), nullable=False),
        *[sa.Column(name, big, nullable=False)
          for name in ("first_cursor", "last_cursor", "count", "min_step", "max_step")],
        *[sa.Column(name, sa.LargeBinary, nullable=name == "cursors") for name in BLOBS],
    )
    op.create_index("ix_histogram_chunks_series", "histogram_chunks", ["series_id", "last_cursor"])
    op.create_index("ix_histogram_chunks_file", "histogram_chunks", ["file_id"])
    op.create_index("ix_histogram_chunks_cursor", "histogram_chunks", ["last_cursor"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # packed numbers do not compress (see 0002)
        bind.execute(sa.text("ALTER TABLE histogram_chunks " + ", ".join(
            f'ALTER COLUMN "{name}" SET STORAGE EXTERNAL' for name in BLOBS)))
    _convert(bind, chunks)
    op.drop_index("ix_histograms_series", "histograms")
    op.drop_index("ix_histograms_file", "histograms")
    op.drop_table("histograms")


def _convert(bind: sa.Connection, chunks: sa.Table) -> None:
    """Every `histograms` row into chunks, with the writer's own packing (the same bytes)."""
    from tsvis_live.records import HistogramRecord
    from tsvis_live.store import codec
    from tsvis_live.store.histochunks import Columns

    groups = bind.execute(sa.text("SELECT DISTINCT series_id, file_id FROM histograms ORDER BY series_id, file_id"))
    page = sa.text('SELECT "cursor", step, wall_time, "min", "max", num, "sum", sum_squares, buckets FROM histograms '
                   'WHERE series_id = :s AND file_id = :f AND "cursor" > :after ORDER BY "cursor" LIMIT :n')
    for series_id, file_id in groups.all():
        after = -(2**63)
        while True:
            rows = bind.execute(page, {"s": series_id, "f": file_id, "after": after, "n": CHUNK}).all()
            if not rows:
                break
            # SQLite kept NaN as the text 'NaN' (schema.Real): float() reads both
            hists = [HistogramRecord("", r.step, float(r.wall_time), codec.unpack_buckets(bytes(r.buckets)),
                                     *(float(getattr(r, name)) for name in STATS)) for r in rows]
            cursors = np.array([r.cursor for r in rows], dtype=np.int64)
            bind.execute(chunks.insert(), [Columns.of(hists).chunk(0, len(rows), series_id, file_id, cursors)])
            after = rows[-1].cursor


def downgrade() -> None:
    from tsvis_live.store import codec
    from tsvis_live.store.histochunks import unpack_rows

    big = _big()
    real = sa.Float().with_variant(sa.REAL(), "sqlite")
    op.create_table(
        "histograms",
        sa.Column("cursor", big, primary_key=True),
        sa.Column("series_id", big, sa.ForeignKey("series.id"), nullable=False),
        sa.Column("file_id", big, sa.ForeignKey("files.id"), nullable=False),
        sa.Column("step", big, nullable=False),
        *[sa.Column(name, real, nullable=False) for name in ("wall_time", *STATS)],
        sa.Column("buckets", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_histograms_series", "histograms", ["series_id", "cursor"])
    op.create_index("ix_histograms_file", "histograms", ["file_id"])
    columns = ("cursor", "series_id", "file_id", "step", "wall_time", *STATS, "buckets")
    histograms = sa.table("histograms", *map(sa.column, columns))  # untyped: Float would make 'NaN' NaN again
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if not sqlite:
        bind.execute(sa.text('ALTER TABLE histograms ALTER COLUMN "buckets" SET STORAGE EXTERNAL'))

    def real_value(v: float) -> float | str:
        return "NaN" if sqlite and v != v else v  # as schema.Real stored it

    ids = [r[0] for r in bind.execute(sa.text("SELECT id FROM histogram_chunks ORDER BY id"))]
    for chunk_id in ids:
        r = bind.execute(sa.text("SELECT * FROM histogram_chunks WHERE id = :i"), {"i": chunk_id}).one()
        ends = codec.unpack_i64(r.bucket_ends)
        rows = unpack_rows(bytes(r.buckets), ends)
        cursors = (codec.unpack_i64(r.cursors) if r.cursors is not None
                   else np.arange(r.first_cursor, r.first_cursor + r.count)).tolist()
        starts = [0, *ends[:-1].tolist()]
        stats = codec.unpack_f64(r.stats).reshape(-1, 5).tolist()
        bind.execute(histograms.insert(), [
            {"cursor": c, "series_id": r.series_id, "file_id": r.file_id, "step": s, "wall_time": real_value(w),
             **{name: real_value(v) for name, v in zip(STATS, st)},
             "buckets": codec.pack_buckets(rows[a:b])}
            for c, s, w, st, a, b in zip(cursors, codec.unpack_i64(r.steps).tolist(),
                                         codec.unpack_f64(r.wall_times).tolist(), stats, starts, ends.tolist())])
    op.drop_index("ix_histogram_chunks_cursor", "histogram_chunks")
    op.drop_index("ix_histogram_chunks_file", "histogram_chunks")
    op.drop_index("ix_histogram_chunks_series", "histogram_chunks")
    op.drop_table("histogram_chunks")
