"""Portable schema: 64-bit integers on every engine, and an index for cursor-range reads.

SQLite's INTEGER is already 64-bit, so there only the index is new. On PostgreSQL (whose INTEGER
is 32-bit) every integer column becomes BIGINT, and so do the sequences behind SERIAL ids:
steps near 2^40, byte offsets past 2 GB and cursors of long-lived sessions all overflow 32 bits.
The index on `last_cursor` serves "every point after cursor C" reads (a replica filling a gap in
the live stream, a follower without a broker).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

# Packed float64/int64 columns and PNG/WAV blobs do not compress: TOAST's pglz would spend the
# server's CPU trying on every row (measured: ingest 1.4x slower), so they are stored as they are.
UNCOMPRESSED = (("scalar_chunks", "steps"), ("scalar_chunks", "wall_times"), ("scalar_chunks", "values"),
                ("scalar_chunks", "cursors"), ("histograms", "buckets"), ("blobs", "data"))
TABLES = ("settings", "runs", "files", "series", "scalar_chunks", "histograms", "blobs", "media",
          "tensors", "graphs", "hparams", "layouts", "computed")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        inspector = sa.inspect(bind)
        for table in TABLES:  # one ALTER TABLE per table: each is a rewrite and a catalog update
            narrow = [c["name"] for c in inspector.get_columns(table)
                      if isinstance(c["type"], sa.Integer) and not isinstance(c["type"], sa.BigInteger)]
            if narrow:
                bind.execute(sa.text(f"ALTER TABLE {table} " + ", ".join(
                    f'ALTER COLUMN "{name}" TYPE BIGINT' for name in narrow)))
            for name in narrow:
                sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                                        {"t": table, "c": name}).scalar()
                if sequence:
                    bind.execute(sa.text(f"ALTER SEQUENCE {sequence} AS bigint"))
        for table, column in UNCOMPRESSED:
            bind.execute(sa.text(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET STORAGE EXTERNAL'))
    op.create_index("ix_scalar_chunks_cursor", "scalar_chunks", ["last_cursor"])


def downgrade() -> None:
    op.drop_index("ix_scalar_chunks_cursor", "scalar_chunks")
