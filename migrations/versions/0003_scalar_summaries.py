"""Scalar summaries: a pyramid of min/max/first/last buckets per scalar chunk (store.summaries).

Downsampled and step-range reads of long series then touch O(requested points) data instead of
the whole series. Summaries of the chunks already stored are built here, a few chunks at a time
(a 5M-point session takes a few seconds), so an upgraded session answers from summaries at once;
a chunk that still lacks one (none should) only makes its series read everything, as before.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

LEVELS = 7  # schema.SUMMARY_LEVELS when this revision was written


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY, the rowid
    op.create_table(
        "scalar_summaries",
        sa.Column("first_cursor", big, primary_key=True, autoincrement=False),
        sa.Column("series_id", big, nullable=False),
        sa.Column("file_id", big, nullable=False),
        sa.Column("monotone", big, nullable=False),  # int8: what a binary COPY sends
        *[sa.Column(f"level{k}", sa.LargeBinary) for k in reversed(range(LEVELS))],
    )
    op.create_index("ix_scalar_summaries_file", "scalar_summaries", ["file_id"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # packed numbers do not compress (see 0002)
        bind.execute(sa.text("ALTER TABLE scalar_summaries " + ", ".join(
            f'ALTER COLUMN "level{k}" SET STORAGE EXTERNAL' for k in range(LEVELS))))
    from tsvis_live.store.summaries import build_missing  # the writer's own code: the same bytes

    build_missing(bind)


def downgrade() -> None:
    op.drop_index("ix_scalar_summaries_file", "scalar_summaries")
    op.drop_table("scalar_summaries")
