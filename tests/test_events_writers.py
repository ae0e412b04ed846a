"""Logs written by the real writers come back exactly through tfrecord.scan + EventDecoder."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from tensorboard import data_compat
from tensorboard.compat.proto import config_pb2, graph_pb2, histogram_pb2, summary_pb2
from tensorboard.util import tensor_util

from tests import writers
from tsvis_live.records import Batch


def _decode(tmp_path_factory: pytest.TempPathFactory, name: str):
    logdir = tmp_path_factory.mktemp(name)
    before = time.time()
    expected = getattr(writers, f"write_{name}_logs")(logdir)
    window = (before - 1, time.time() + 1)
    return logdir, expected, writers.decode_logdir(logdir), window


@pytest.fixture(scope="module", params=["torch", "tbx", "tensorboard", "tsvis"])
def written(request, tmp_path_factory):
    return _decode(tmp_path_factory, request.param)


def _wall_ok(actual: float, expected: float | None, window: tuple[float, float]) -> bool:
    return actual == expected if expected is not None else window[0] <= actual <= window[1]


def test_scalars(written):
    _, exp, batches, window = written
    want = defaultdict(list)
    for run, tag, step, wall, value in exp.scalars:
        want[run, tag].append((step, wall, value))
    got = {(run, tag) for run, b in batches.items() for tag in b.scalars}
    assert got == set(want)
    for (run, tag), points in want.items():
        cols = batches[run].scalars[tag]
        assert cols.steps == [p[0] for p in points]
        assert cols.values == [p[2] for p in points]
        assert all(_wall_ok(a, p[1], window) for a, p in zip(cols.wall_times, points))
        assert batches[run].plugins.get(tag) == "scalars"


def test_histograms(written):
    _, exp, batches, window = written
    got = [(run, h) for run, b in batches.items() for h in b.histograms]
    assert len(got) == len(exp.histograms)
    for (run, rec), (erun, tag, step, wall, source) in zip(got, exp.histograms):
        assert (run, rec.tag, rec.step) == (erun, tag, step)
        assert _wall_ok(rec.wall_time, wall, window)
        if isinstance(source, np.ndarray):  # tensor form
            np.testing.assert_array_equal(rec.buckets, source)
            assert (rec.min, rec.max, rec.num) == (source[0, 0], source[-1, 1], source[:, 2].sum())
            continue
        assert (rec.min, rec.max, rec.num) == (source.min, source.max, source.num)
        assert (rec.sum, rec.sum_squares) == (source.sum, source.sum_squares)
        histo = histogram_pb2.HistogramProto.FromString(source.SerializeToString())
        migrated = data_compat.migrate_value(summary_pb2.Summary.Value(tag=tag, histo=histo))
        np.testing.assert_allclose(
            rec.buckets, tensor_util.make_ndarray(migrated.tensor), rtol=1e-6
        )
        assert (rec.buckets[:, 0] <= rec.buckets[:, 1]).all()
        assert rec.buckets[0, 0] == source.min and rec.buckets[-1, 1] == source.max


def test_blobs(written):
    _, exp, batches, window = written
    got = {(run, r.kind, r.tag, r.step, r.index): r for run, b in batches.items() for r in b.blobs}
    assert len(got) == sum(len(b.blobs) for b in batches.values()) == len(exp.blobs)
    for run, kind, tag, step, wall, index, data, meta in exp.blobs:
        rec = got[run, kind, tag, step, index]
        assert rec.data == data
        assert {k: rec.meta[k] for k in meta} == meta
        assert _wall_ok(rec.wall_time, wall, window)


def test_tensors(written):
    _, exp, batches, window = written
    got = [(run, t) for run, b in batches.items() for t in b.tensors]
    assert len(got) == len(exp.tensors)
    for (run, rec), (erun, kind, tag, step, wall, value, extras, meta) in zip(got, exp.tensors):
        assert (run, rec.kind, rec.tag, rec.step) == (erun, kind, tag, step)
        assert _wall_ok(rec.wall_time, wall, window)
        assert rec.value.dtype == value.dtype
        np.testing.assert_array_equal(rec.value, value)
        assert set(rec.extras) == set(extras)
        for name, arr in extras.items():
            assert rec.extras[name].dtype == arr.dtype
            np.testing.assert_array_equal(rec.extras[name], arr)
        assert rec.meta == meta


def test_graphs_hparams_layouts(written):
    logdir, exp, batches, _ = written
    graphs = sorted((run, g.kind, g.tag) for run, b in batches.items() for g in b.graphs)
    assert graphs == sorted(exp.graphs)
    hparams = [(run, h) for run, b in batches.items() for h in b.hparams]
    assert hparams == exp.hparams
    assert [(run, lay) for run, b in batches.items() for lay in b.layouts] == exp.layouts
    for rel in exp.side_files:
        assert (Path(logdir) / rel).is_file(), rel
    assert all(b.skipped == 0 for b in batches.values())


def test_every_record_counts_as_an_event(written):
    _, _, batches, _ = written
    assert all(isinstance(b, Batch) and b.events > 0 for b in batches.values())


def test_torch_graph_bytes_are_the_written_protos(tmp_path_factory):
    _, _, batches, _ = _decode(tmp_path_factory, "torch")
    by_kind = {g.kind: g for g in batches[""].graphs}
    graph = graph_pb2.GraphDef.FromString(by_kind["graphdef"].data)
    assert any("Linear" in node.name for node in graph.node)
    run_metadata = config_pb2.RunMetadata.FromString(by_kind["run_metadata"].data)
    assert run_metadata.step_stats.dev_stats


def test_tensorboard_graph_forms(tmp_path_factory):
    _, _, batches, _ = _decode(tmp_path_factory, "tensorboard")
    graphs = batches[""].graphs
    for g in graphs:
        if g.kind == "graphdef":
            assert [n.name for n in graph_pb2.GraphDef.FromString(g.data).node] == ["input"]
        else:
            assert g.data == b'{"class_name": "Sequential"}'
