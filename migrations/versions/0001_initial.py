"""Initial session schema.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

_id = lambda: sa.Column("id", sa.Integer, primary_key=True)  # noqa: E731
_run = lambda: sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False)  # noqa: E731
_series = lambda: sa.Column("series_id", sa.Integer, sa.ForeignKey("series.id"), nullable=False)  # noqa: E731
_file = lambda: sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id"), nullable=False)  # noqa: E731
_blob = lambda: sa.Column("blob_id", sa.Integer, sa.ForeignKey("blobs.id"), nullable=False)  # noqa: E731


def _int(name: str, **kw) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=False, **kw)


def _float(name: str) -> sa.Column:
    return sa.Column(name, sa.Float, nullable=False)


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "runs", _id(), sa.Column("name", sa.String, nullable=False, unique=True), _int("cursor")
    )
    op.create_table(
        "files",
        _id(),
        _run(),
        sa.Column("path", sa.String, nullable=False, unique=True),
        sa.Column("format", sa.String, nullable=False),
        _int("inode"),
        sa.Column("head", sa.LargeBinary, nullable=False),
        _int("offset"),
        _int("size"),
        _int("mtime_ns"),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("error", sa.Text),
        _int("events"),
        _int("skipped"),
    )
    op.create_table(
        "series",
        _id(),
        _run(),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("tag", sa.String, nullable=False),
        sa.Column("plugin", sa.String),
        _int("cursor"),
        sa.UniqueConstraint("run_id", "kind", "tag"),
    )
    op.create_table(
        "scalar_chunks",
        _id(),
        _series(),
        _file(),
        _int("first_cursor"),
        _int("last_cursor"),
        _int("count"),
        _int("min_step"),
        _int("max_step"),
        sa.Column("steps", sa.LargeBinary, nullable=False),
        sa.Column("wall_times", sa.LargeBinary, nullable=False),
        sa.Column("values", sa.LargeBinary, nullable=False),
        sa.Column("cursors", sa.LargeBinary),
    )
    op.create_index("ix_scalar_chunks_series", "scalar_chunks", ["series_id", "last_cursor"])
    op.create_index("ix_scalar_chunks_file", "scalar_chunks", ["file_id"])
    op.create_table(
        "histograms",
        sa.Column("cursor", sa.Integer, primary_key=True),
        _series(),
        _file(),
        _int("step"),
        *[_float(n) for n in ("wall_time", "min", "max", "num", "sum", "sum_squares")],
        sa.Column("buckets", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_histograms_series", "histograms", ["series_id", "cursor"])
    op.create_index("ix_histograms_file", "histograms", ["file_id"])
    op.create_table(
        "blobs",
        _id(),
        sa.Column("digest", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("mime", sa.String, nullable=False),
        _int("size"),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "media",
        sa.Column("cursor", sa.Integer, primary_key=True),
        _series(),
        _file(),
        _int("step"),
        _float("wall_time"),
        _int("idx"),
        _blob(),
        sa.Column("meta", sa.Text, nullable=False),
    )
    op.create_index("ix_media_series", "media", ["series_id", "step", "idx"])
    op.create_index("ix_media_file", "media", ["file_id"])
    op.create_table(
        "tensors",
        sa.Column("cursor", sa.Integer, primary_key=True),
        _series(),
        _file(),
        _int("step"),
        _float("wall_time"),
        _blob(),
        sa.Column("extras", sa.Text, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
    )
    op.create_index("ix_tensors_series", "tensors", ["series_id", "step"])
    op.create_index("ix_tensors_file", "tensors", ["file_id"])
    op.create_table(
        "graphs",
        _id(),
        _run(),
        _file(),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("tag", sa.String, nullable=False),
        _blob(),
        _int("cursor"),
    )
    op.create_index("ix_graphs_run", "graphs", ["run_id"])
    op.create_index("ix_graphs_file", "graphs", ["file_id"])
    op.create_table(
        "hparams",
        _id(),
        _run(),
        _file(),
        sa.Column("group_name", sa.String, nullable=False),
        sa.Column("hparams", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("start_time", sa.Float),
        _int("cursor"),
    )
    op.create_index("ix_hparams_run", "hparams", ["run_id"])
    op.create_index("ix_hparams_file", "hparams", ["file_id"])
    op.create_table(
        "layouts", _id(), _run(), _file(), sa.Column("layout", sa.Text, nullable=False), _int("cursor")
    )
    op.create_index("ix_layouts_file", "layouts", ["file_id"])
    op.create_table(
        "computed",
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        _float("created"),
    )


def downgrade() -> None:
    for name in (
        "computed", "layouts", "hparams", "graphs", "tensors", "media", "blobs",
        "histograms", "scalar_chunks", "series", "files", "runs", "settings",
    ):
        op.drop_table(name)
