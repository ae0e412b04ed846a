"""The entry point of ingest worker processes: decode one window of one file.

A module of its own so that a spawned worker imports only the readers (no SQLAlchemy, no
Alembic): each worker then costs tens of megabytes less.
"""

from __future__ import annotations

import numpy as np

from tsvis_live.formats.detect import LogFile
from tsvis_live.ingest.tailer import Span, Tailer
from tsvis_live.store.filestate import FileState


def read_span(logfile: LogFile, state: FileState, plugins: dict[str, str]) -> Span | None:
    """Worker-process entry: decode the next window of one file (decoders are per call).

    Scalar columns go back as numpy arrays: one buffer each pickles far faster than lists.
    """
    span = Tailer({state.run: plugins}).read(logfile, state)
    if span is not None:
        for cols in span.batch.scalars.values():
            cols.steps = np.asarray(cols.steps, dtype="<i8")
            cols.wall_times = np.asarray(cols.wall_times, dtype="<f8")
            cols.values = np.asarray(cols.values, dtype="<f8")
    return span
