"""Read a stored session from Python: runs, tags and scalars as tables, without re-reading logs.

    import tsvis_live
    with tsvis_live.open("runs/") as s:          # a logdir (its session database) or a .sqlite file
        df = s.scalars(tag="loss")              # pandas DataFrame: run, tag, step, wall_time, value

What `tbparse` does by parsing every event file, here read from the store the server keeps, so
it is instant however large the logs. Reading takes no lock and writes nothing (unless an older
schema needs its upgrade), so a running server may go on ingesting the same session meanwhile.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tsvis_live.store.database import Database
from tsvis_live.store.provider import Store

COLUMNS = ("run", "tag", "step", "wall_time", "value")


class NoStoredSession(FileNotFoundError):
    """The logdir has no session database yet (nothing was ingested or served from it)."""


def database_for(path: str | Path, data_dir: str | Path | None = None) -> Path:
    """The session database of a logdir, or `path` itself when it is a database file."""
    path = Path(path)
    if path.is_file():
        return path
    from tsvis_live.commands.common import default_data_dir
    from tsvis_live.identity import database_path

    db = database_path(Path(data_dir) if data_dir else default_data_dir(), path)
    if not db.is_file():
        raise NoStoredSession(f"no stored session for {path} (looked for {db}); run "
                              f"`tsvis-live ingest --logdir {path}` first, or pass data_dir=")
    return db


class StoredSession:
    """A session database opened for reading."""

    def __init__(self, path: str | Path, data_dir: str | Path | None = None) -> None:
        self.path = database_for(path, data_dir)
        self._db = Database(self.path, readers=1)
        self._store = Store(self._db)

    def __enter__(self) -> StoredSession:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def runs(self) -> list[str]:
        return [name for name, _cursor in self._store.runs_sync()]

    def tags(self, kind: str = "scalar") -> dict[str, list[str]]:
        """run -> tags of one kind (scalar, histogram, image, audio, text, ...)."""
        out: dict[str, list[str]] = {}
        for run, k, tag, _cursor in self._store.series_sync():
            if k == kind:
                out.setdefault(run, []).append(tag)
        return out

    def scalar_rows(self, run: str | None = None, tag: str | None = None,
                    all_writes: bool = False) -> Iterator[tuple[str, str, int, float, float]]:
        """(run, tag, step, wall_time, value) of every stored scalar point, series by series.

        By default a series shows what the dashboard and API show (the newest write of a
        repeated step); `all_writes=True` gives every stored write, in write order.
        """
        for r, tags in self.tags("scalar").items():
            if run is not None and r != run:
                continue
            for t in tags:
                if tag is not None and t != tag:
                    continue
                series = self._store.scalars_sync(r, t, every=all_writes).points
                for step, wall, value in zip(series.steps.tolist(), series.wall_times.tolist(),
                                             series.values.tolist()):
                    yield r, t, step, wall, value

    def scalars(self, run: str | None = None, tag: str | None = None, all_writes: bool = False) -> Any:
        """A pandas DataFrame with columns run, tag, step, wall_time, value."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("scalars() returns a pandas DataFrame: pip install pandas "
                              "(or use scalar_rows() for plain tuples)") from None
        return pd.DataFrame.from_records(list(self.scalar_rows(run, tag, all_writes)), columns=list(COLUMNS))

    def write_csv(self, out: IO[str], run: str | None = None, tag: str | None = None,
                  all_writes: bool = False) -> int:
        """Write the scalars as CSV (a header, then a row a point); returns the rows written."""
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        n = 0
        for row in self.scalar_rows(run, tag, all_writes):
            writer.writerow(row)
            n += 1
        return n


def open(path: str | Path, data_dir: str | Path | None = None) -> StoredSession:  # noqa: A001
    """Open a logdir's stored session (or a session database file) for reading."""
    return StoredSession(path, data_dir)
