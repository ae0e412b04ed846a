"""Logs from every real writer, ingested into SQLite and read back: every point comes out exactly."""

from __future__ import annotations

import json
import time
from collections import defaultdict

import numpy as np
import pytest

from tests import writers
from tsvis_live.ingest.ingester import Ingester
from tsvis_live.store import reader
from tsvis_live.store.codec import sniff_mime
from tsvis_live.store.database import Database


@pytest.fixture(scope="module", params=["torch", "tbx", "tensorboard", "tsvis"])
def stored(request, tmp_path_factory):
    logdir = tmp_path_factory.mktemp(request.param)
    before = time.time()
    expected = getattr(writers, f"write_{request.param}_logs")(logdir)
    window = (before - 1, time.time() + 1)
    db = Database(tmp_path_factory.mktemp("db") / "session.sqlite")
    Ingester(db, logdir).pass_once()
    yield db, expected, window
    db.close()


def run_name(run: str) -> str:
    return run or "."


def wall_ok(actual: float, expected: float | None, window: tuple[float, float]) -> bool:
    return actual == expected if expected is not None else window[0] <= actual <= window[1]


def test_scalars(stored) -> None:
    db, exp, window = stored
    want = defaultdict(list)
    for run, tag, step, wall, value in exp.scalars:
        want[run_name(run), tag].append((step, wall, value))
    for (run, tag), points in want.items():
        s = db.read_sync(lambda c, run=run, tag=tag: reader.scalar_series(c, run, tag))
        assert s.steps.tolist() == [p[0] for p in points]
        assert s.values.tolist() == [p[2] for p in points]
        assert all(wall_ok(a, p[1], window) for a, p in zip(s.wall_times.tolist(), points))
        assert np.all(np.diff(s.cursors) > 0)


def test_histograms(stored) -> None:
    db, exp, window = stored
    by_series = defaultdict(list)
    for run, tag, step, wall, source in exp.histograms:
        by_series[run_name(run), tag].append((step, wall, source))
    for (run, tag), items in by_series.items():
        got = db.read_sync(lambda c, run=run, tag=tag: reader.histogram_series(c, run, tag))
        assert [h.step for h in got] == [i[0] for i in items]
        for h, (_step, wall, source) in zip(got, items):
            assert wall_ok(h.wall_time, wall, window)
            if isinstance(source, np.ndarray):
                np.testing.assert_array_equal(h.buckets, source)
            else:
                assert (h.min, h.max, h.num) == (source.min, source.max, source.num)
                assert h.buckets[:, 2].sum() == pytest.approx(source.num)


def test_media(stored) -> None:
    db, exp, window = stored
    for run, kind, tag, step, wall, index, data, meta in exp.blobs:
        got, mime, _digest = db.read_sync(
            lambda c, run=run, kind=kind, tag=tag, step=step, index=index: reader.media_blob(c, run_name(run), kind, tag, step, index))
        assert got == data
        assert mime == ("application/json" if kind == "text" else sniff_mime(data))
        total, entries = db.read_sync(lambda c, run=run, kind=kind, tag=tag: reader.media_list(c, run_name(run), kind, tag))
        entry = next(e for e in entries if (e.step, e.index) == (step, index))
        assert wall_ok(entry.wall_time, wall, window)
        assert {k: entry.meta[k] for k in meta} == meta
        assert total == len(entries)


def test_tensors(stored) -> None:
    db, exp, window = stored
    for run, kind, tag, step, wall, value, extras, meta in exp.tensors:
        entry, array = db.read_sync(
            lambda c, run=run, kind=kind, tag=tag, step=step: reader.tensor_at(c, run_name(run), kind, tag, step))
        assert array.dtype == value.dtype
        np.testing.assert_array_equal(array, value)
        assert wall_ok(entry.wall_time, wall, window)
        assert entry.meta == json.loads(json.dumps(meta))
        for name, arr in extras.items():
            got = db.read_sync(lambda c, bid=entry.extras[name]: reader.load_array(c, bid))
            np.testing.assert_array_equal(got, arr)


def test_graphs_and_hparams(stored) -> None:
    db, exp, _ = stored
    for run, kind, tag in exp.graphs:
        graphs = db.read_sync(lambda c, run=run: reader.graphs(c, run_name(run)))
        assert (kind, tag) in {(k, t) for k, t, _data in graphs}
    for run, rec in exp.hparams:
        rows = db.read_sync(lambda c, run=run: reader.hparams(c, run_name(run)))
        assert {"group_name": rec.group_name, "hparams": rec.hparams, "metrics": rec.metrics} in [
            {k: r[k] for k in ("group_name", "hparams", "metrics")} for r in rows]


def test_every_file_read_cleanly(stored) -> None:
    db, _exp, _ = stored
    files = db.read_sync(reader.files)
    assert files and all(f["status"] == "ok" and f["skipped"] == 0 for f in files)
