"""Histograms the compiled scan finds stay columns (`HistogramColumns`) from the decoder to the
store, and are the same records as protobuf's decoding wherever they are read as a list.

Differential: windows mixing columnar histograms with ones decoded by protobuf (two values,
NaN statistics), bare tensors before and after their tag becomes "histograms", tags that are
not UTF-8, custom_scalars__config__, empty bucket lists, plain scalars of a histogram tag, and
other records between them, against `scan` + `decode`; the columns' own paths (`by_tag`,
`Columns.of`, pickling) against the same done on the materialised records. And on the way to
the store, a window of plain histograms builds no `HistogramRecord` at all, while its chunks
and live updates are those of the records it stands for.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2

from tests.test_fastpath import check, compiled_decoder, frame, norm  # noqa: F401 (fixture)
from tests.test_native import histogram_value
from tsvis_live.formats import fastpath
from tsvis_live.formats.events import EventDecoder
from tsvis_live.histcolumns import HistogramColumns
from tsvis_live.records import Batch, HistogramRecord
from tsvis_live.store import histochunks
from tsvis_live.store import schema as t
from tsvis_live.store.database import Database
from tsvis_live.store.filestate import FileState
from tsvis_live.store.writer import StoreWriter

BAD, BAD_BYTES = "BADTAG", b"\xffBADT\xc3"  # same length: swapped in the serialized record


@st.composite
def mixed_stream(draw) -> tuple[bytes, dict[str, str]]:
    tags = draw(st.lists(st.sampled_from(["h", "w", "custom_scalars__config__", BAD, "\u00fc"]), min_size=1,
                         max_size=4, unique=True))
    recs = []
    for step in range(draw(st.integers(0, 40))):
        tag = draw(st.sampled_from(tags))
        ev = event_pb2.Event(wall_time=float(step), step=step)
        kind = draw(st.sampled_from(["hist"] * 6 + ["bare", "empty", "scalar", "text", "two"]))
        if kind == "hist":
            ev.summary.value.append(draw(histogram_value(tag)))
        elif kind == "bare":  # a (k, 3) tensor without metadata: a histogram once its tag is one
            arr = np.arange(3.0 * draw(st.integers(1, 4))).reshape(-1, 3) + step
            ev.summary.value.add(tag=tag, tensor=tensor_pb2.TensorProto(
                dtype=2, tensor_shape={"dim": [{"size": len(arr)}, {"size": 3}]}, tensor_content=arr.tobytes()))
        elif kind == "empty":
            ev.summary.value.add(tag=tag, histo=summary_pb2.HistogramProto(min=1.0, max=2.0, num=0.0))
        elif kind == "scalar":
            ev.summary.value.add(tag=tag, simple_value=step)
        elif kind == "text":
            ev.summary.value.add(tag=tag, tensor=tensor_pb2.TensorProto(dtype=7, string_val=[b"t"]))
            ev.summary.value[0].metadata.plugin_data.plugin_name = "text"
        else:  # two values: protobuf decodes the record, histogram included
            ev.summary.value.append(draw(histogram_value(tag)))
            ev.summary.value.add(tag="s", simple_value=1.0)
        recs.append(ev.SerializeToString().replace(BAD.encode(), BAD_BYTES))
    plugins = draw(st.dictionaries(st.sampled_from(tags), st.sampled_from(["histograms", "scalars", "text", "images"]),
                                   max_size=2))
    return frame(*recs), plugins


def assert_columns_agree(hists: list) -> None:
    """The columns' own paths give what the records they stand for give."""
    if not isinstance(hists, HistogramColumns):
        return
    fresh = pickle.loads(pickle.dumps(hists))  # columns again, nothing built yet
    assert isinstance(fresh, HistogramColumns) and not fresh._built
    records = list(pickle.loads(pickle.dumps(hists)))
    assert len(fresh) == len(records)
    order, by_cols = histochunks.by_tag(fresh)
    want_order, by_recs = histochunks.by_tag(records)
    assert order == want_order and isinstance(by_cols, HistogramColumns)
    got, want = histochunks.Columns.of(by_cols), histochunks.Columns.of(by_recs)
    for f in dataclasses.fields(got):
        a, b = getattr(got, f.name), getattr(want, f.name)
        assert a.shape == b.shape and a.tobytes() == b.tobytes(), f.name
    assert not fresh._built and not by_cols._built
    assert norm(fresh) == norm(records) == norm(list(hists))
    assert norm(by_cols[1:]) == norm(by_recs[1:])


def columnar(window: bytes, base: int, decoder: EventDecoder, batch: Batch):  # type: ignore[no-untyped-def]
    out = fastpath.decode_window(window, base, decoder, batch)
    assert_columns_agree(batch.histograms)
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_stream(), st.sampled_from([None, None, 150, 400]))
def test_columns_are_the_records_protobuf_decodes(case: tuple[bytes, dict[str, str]], window: int | None) -> None:
    data, plugins = case
    check(data, window, plugins)
    from tests.test_fastpath import reference, run

    assert run(columnar, data, window, plugins) == run(reference, data, window, plugins)


def legacy(tag: str, step: int, k: int) -> bytes:
    ev = event_pb2.Event(wall_time=1.7e9 + step, step=step)
    limits = np.linspace(-1, 1, k).tolist()
    ev.summary.value.add(tag=tag, histo=summary_pb2.HistogramProto(
        min=-1, max=1, num=k, sum=0.5 * step, sum_squares=2.0, bucket_limit=limits, bucket=[1.0] * k))
    return ev.SerializeToString()


def bare(tag: str, step: int, meta: bool) -> bytes:
    ev = event_pb2.Event(wall_time=1.7e9 + step, step=step)
    arr = np.arange(9.0).reshape(3, 3) + step
    ev.summary.value.add(tag=tag, tensor=tensor_pb2.TensorProto(
        dtype=2, tensor_shape={"dim": [{"size": 3}, {"size": 3}]}, tensor_content=arr.tobytes()))
    if meta:
        ev.summary.value[0].metadata.plugin_data.plugin_name = "histograms"
    return ev.SerializeToString()


def test_bare_tensors_before_and_after_their_tag_is_known() -> None:
    """Bare tensors of a tag not yet "histograms" are not histograms; after its first metadata they are."""
    recs = [bare("b", 0, False), bare("b", 1, False), legacy("h", 2, 5), bare("b", 3, True), bare("b", 4, False),
            legacy("h", 5, 0), bare("b", 6, False)]
    for window in (None, 200):
        check(frame(*recs), window)
    batch = Batch()
    fastpath.decode_window(frame(*recs), 0, EventDecoder({}), batch)
    assert [(h.tag, h.step) for h in batch.histograms] == [("h", 2), ("b", 3), ("b", 4), ("h", 5), ("b", 6)]
    assert batch.plugins == {"h": "histograms", "b": "histograms"}


def plain_window(n: int) -> bytes:
    recs = []
    for step in range(n):
        recs.append(legacy(["a", "b"][step % 2], step, 1 + step % 30))
        recs.append(bare("c", step, step % 3 == 0))
        sc = event_pb2.Event(wall_time=1.0, step=step)
        sc.summary.value.add(tag="loss", simple_value=step)
        recs.append(sc.SerializeToString())
    return frame(*recs)


def store(tmp_path: Path, name: str, batch: Batch) -> tuple[list, list]:
    db = Database(tmp_path / f"{name}.sqlite")
    try:
        state = FileState(path="f", run="r", format="events", offset=100, size=100)
        commit = db.write_sync(lambda c: StoreWriter().commit(c, state, batch, False))
        cols = [c for c in t.histogram_chunks.c if c.name != "id"]
        rows = db.read_sync(lambda c: [tuple(r) for r in c.execute(select(*cols).order_by(t.histogram_chunks.c.id))])
    finally:
        db.close()
    return rows, commit.updates


def test_plain_histograms_reach_the_store_without_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = plain_window(300)
    built = []
    init = HistogramRecord.__init__
    monkeypatch.setattr(HistogramRecord, "__init__", lambda self, *a, **k: (built.append(1), init(self, *a, **k))[1])
    batch = Batch()
    fastpath.decode_window(data, 0, EventDecoder({}), batch)
    assert type(batch.histograms) is HistogramColumns and len(batch.histograms) == 600
    rows, updates = store(tmp_path, "columns", batch)
    assert built == [] and not batch.histograms._built
    monkeypatch.setattr(HistogramRecord, "__init__", init)

    plain = Batch()  # the same window with its histograms as plain records, as before
    fastpath.decode_window(data, 0, EventDecoder({}), plain)
    plain.histograms = list(plain.histograms)
    want_rows, want_updates = store(tmp_path, "records", plain)
    assert len(rows) == 3 and rows == want_rows
    hist_updates = [u for u in updates if u.kind == "histogram"]
    assert [(u.tag, list(u.cursors)) for u in hist_updates] == [
        (u.tag, list(u.cursors)) for u in want_updates if u.kind == "histogram"]
    assert all(isinstance(u.histograms, HistogramColumns) for u in hist_updates)
    assert norm([u.points() for u in hist_updates]) == norm(
        [u.points() for u in want_updates if u.kind == "histogram"])


def test_worker_spans_keep_the_columns(tmp_path: Path) -> None:
    from tsvis_live.formats.detect import LogFile
    from tsvis_live.ingest.worker import read_span

    path = tmp_path / "events.out.tfevents.1.host"
    path.write_bytes(plain_window(50))
    span = read_span(LogFile(path, "events", tmp_path, tmp_path), FileState(path="f", run=".", format="events"), {})
    assert type(span.batch.histograms) is HistogramColumns
    back = pickle.loads(pickle.dumps(span))
    assert type(back.batch.histograms) is HistogramColumns and not back.batch.histograms._built
    assert norm(back.batch.histograms) == norm(span.batch.histograms)


def test_columns_behave_as_their_list() -> None:
    batch = Batch()
    fastpath.decode_window(plain_window(4), 0, EventDecoder({}), batch)
    cols = batch.histograms
    assert isinstance(cols, HistogramColumns) and len(cols) == 8 and cols and not cols._built
    assert isinstance(cols[2:5], HistogramColumns) and len(cols[2:5]) == 3 and not cols._built
    records = list(pickle.loads(pickle.dumps(cols)))
    assert norm(list(reversed(cols))) == norm(records[::-1])
    assert norm(cols[-1]) == norm(records[-1]) and norm(cols[::2]) == norm(records[::2])
    assert norm([] + cols) == norm(records) == norm(cols + []) and cols.count(cols[0]) == 1
    assert cols[0] in cols and cols.index(cols[3]) == 3 and "HistogramRecord" in repr(cols)
    other = pickle.loads(pickle.dumps(cols))
    assert [h.step for h in other] == [h.step for h in cols]
    assert cols.columns() is cols
    cols.append(records[0])  # changed: its columns no longer describe it
    assert cols.columns() is None and len(cols) == 9
    assert norm(histochunks.by_tag(cols)[1]) == norm(histochunks.by_tag(records + [records[0]])[1])
    assert type(pickle.loads(pickle.dumps(cols))) is list


def test_windows_decoded_into_one_batch() -> None:
    """A batch that already holds columns takes the next window's histograms as records."""
    from tests.test_fastpath import reference

    data = plain_window(40)
    cut = len(data) // 2
    cut = fastpath.decode_window(data[:cut], 0, EventDecoder({}), Batch())[0]
    got, want = Batch(), Batch()
    for fn, batch in ((fastpath.decode_window, got), (reference, want)):
        decoder = EventDecoder({})
        fn(data[:cut], 0, decoder, batch)
        fn(data[cut:], cut, decoder, batch)
    assert norm(got) == norm(want) and len(got.histograms) == 80
