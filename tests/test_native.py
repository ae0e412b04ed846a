"""The compiled decoder (`_native._decode`) against the pure-Python path, on the same inputs.

Function by function: CRC-32C (SSE4.2 and table code against the `crc32c` package), `frame`
against `pure.frame` and `tfrecord.scan`, `fast_scalars` against `pure.fast_scalars` (columns
bit for bit, NaN payloads included); and histogram-heavy streams through `decode_window`
against the per-record `scan` + `decode` loop (histograms are computed in C, so their buckets
and statistics must come out exactly as numpy computes them). The extension not being built
fails these tests.
"""

from __future__ import annotations

import struct

import crc32c
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2

from tests.test_fastpath import check, compiled_decoder, frame, raw_scalar  # noqa: F401 (fixture)
from tsvis_live.formats import _native, tfrecord
from tsvis_live.formats._native import _decode, pure

Value = summary_pb2.Summary.Value
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_crc_code_is_chosen_at_runtime() -> None:
    assert _decode.crc_impl() in ("sse4.2", "table")
    assert _decode.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


@FUZZ
@given(st.binary(max_size=200))
def test_crc32c_both_codes(data: bytes) -> None:
    want = crc32c.crc32c(data)
    assert _decode.crc32c(data) == want
    assert _decode.crc32c_table(data) == want


def _frames(data: bytes, base: int) -> tuple:
    out = []
    for fn in (pure.frame, _decode.frame):
        end, broken, starts, lengths, skipped = fn(data, base)
        out.append((end, broken, np.asarray(starts).tobytes() if fn is pure.frame else starts,
                    np.asarray(lengths).tobytes() if fn is pure.frame else lengths, skipped))
    return tuple(out)


def _scan(data: bytes, base: int) -> tuple:
    """What tfrecord.scan says, in frame's terms."""
    recs, broken = [], None
    try:
        for rec in tfrecord.scan(data, base=base):
            recs.append(rec)
    except tfrecord.BrokenFraming as exc:
        broken = exc
    good = [r for r in recs if r.data is not None]
    end = recs[-1].end if recs else base
    return end, broken, [r.start - base + 12 for r in good], [len(r.data) for r in good], len(recs) - len(good)


def _same_as_scan(data: bytes, base: int) -> None:
    (p_end, p_broken, p_starts, p_lengths, p_skipped), native = _frames(data, base)
    assert native == (p_end, p_broken, p_starts, p_lengths, p_skipped)
    end, broken, starts, lengths, skipped = _scan(data, base)
    if broken is not None:  # scan stops where the broken header is: the end frame reports
        assert p_broken is not None and p_broken[0] == broken.offset == p_end
        why = "length checksum mismatch" if p_broken[1] is None else tfrecord.too_long(p_broken[1])
        assert str(broken).endswith(why)
    else:
        assert p_broken is None and p_end == end
    assert np.frombuffer(p_starts, "<i8").tolist() == starts
    assert np.frombuffer(p_lengths, "<i8").tolist() == lengths
    assert p_skipped == skipped


@FUZZ
@given(st.binary(max_size=600), st.integers(0, 2**40))
def test_frame_on_garbage(data: bytes, base: int) -> None:
    _same_as_scan(data, base)


@FUZZ
@given(st.lists(st.binary(max_size=80), max_size=12), st.lists(st.tuples(st.integers(0), st.integers(1, 255)), max_size=3),
       st.integers(0, 20), st.sampled_from([None, 1 << 31, 1 << 40, 2**64 - 1]))
def test_frame_on_damaged_streams(payloads: list[bytes], flips: list[tuple[int, int]], cut: int,
                                  huge: int | None) -> None:
    data = bytearray(b"".join(tfrecord.encode_record(p) for p in payloads))
    if huge is not None:  # a header whose checksum holds but whose length cannot be
        head = struct.pack("<Q", huge)
        data += head + struct.pack("<I", tfrecord.masked_crc32c(head)) + b"tail"
    for pos, bits in flips:
        if data:
            data[pos % len(data)] ^= bits
    _same_as_scan(bytes(data[: max(0, len(data) - cut)]), 7)


def _fast(fn, data: bytes, tensors: bool) -> list:
    _, _, starts, lengths, _ = pure.frame(data, 0)
    index, kind, wall, step, value, tags, ends = fn(data, np.asarray(starts, "<i8"), np.asarray(lengths, "<i8"), tensors)
    arrays = [np.frombuffer(x, t) if isinstance(x, bytes) else np.asarray(x, t)
              for x, t in zip((index, kind, wall, step, value, ends), ("<i8", "i1", "<f8", "<i8", "<f8", "<i8"))]
    return [a.tobytes() for a in arrays] + [list(tags)]


F32 = st.integers(0, 2**32 - 1).map(lambda b: struct.pack("<I", b))  # NaN payloads included


@st.composite
def scalar_records(draw) -> bytes:
    tags = draw(st.lists(st.binary(max_size=20) | st.sampled_from([b"loss", b"acc", b"\xff"]),
                         min_size=1, max_size=5))
    recs = []
    for _ in range(draw(st.integers(0, 40))):
        tag = draw(st.sampled_from(tags))
        step = draw(st.none() | st.integers(-(2**63), 2**63 - 1))
        wall = draw(st.none() | st.floats())
        if draw(st.booleans()):
            value = draw(F32)
        else:
            dtype = draw(st.sampled_from([1, 2]))
            number = draw(F32) if dtype == 1 else struct.pack("<Q", draw(st.integers(0, 2**64 - 1)))
            body = b"\x08" + bytes([dtype]) + (b"\x12\x00" if draw(st.booleans()) else b"")
            body += bytes([(5 if dtype == 1 else 6) << 3 | 2, len(number)]) + number
            value = b"\x42" + bytes([len(body)]) + body
        pads = tuple(draw(st.sampled_from([0, 0, 1])) for _ in range(4))
        rec = raw_scalar(tag, step, wall, value, pads)
        if draw(st.integers(0, 9)) == 0:  # a damaged one
            rec = rec[: draw(st.integers(0, len(rec)))] + draw(st.binary(max_size=3))
        recs.append(rec)
    return frame(*recs)


@FUZZ
@given(scalar_records(), st.booleans())
def test_fast_scalars_columns(data: bytes, tensors: bool) -> None:
    assert _fast(_decode.fast_scalars, data, tensors) == _fast(pure.fast_scalars, data, tensors)


def test_fast_scalars_rejects_records_outside_the_window() -> None:
    data = frame(raw_scalar(b"a", 1, 1.0, b"\0\0\0\0"))
    for starts, lengths in (([12], [len(data)]), ([-1], [3]), ([0, 1], [1])):
        try:
            _decode.fast_scalars(data, np.array(starts, "<i8"), np.array(lengths, "<i8"), True)
        except ValueError:
            continue
        raise AssertionError(f"accepted {starts} {lengths}")


# -- histograms: computed in C, compared with events.py through decode_window ---------------

EDGES = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, -0.0, 1.0, float("inf"), -float("inf"),
                                                          float("nan"), 1.7976931348623157e308]))
COUNTS = st.one_of(st.floats(0, 1e4), st.sampled_from([0.0, -0.0, 1.0, -1.0, float("nan")]))


@st.composite
def histogram_value(draw, tag: str) -> Value:
    val = Value(tag=tag)
    k = draw(st.integers(0, 40))
    if draw(st.booleans()):
        n = k + draw(st.sampled_from([0, 0, 0, 0, 1]))  # sometimes mismatched: a skipped record
        val.histo.CopyFrom(summary_pb2.HistogramProto(
            min=draw(EDGES), max=draw(EDGES), num=draw(st.floats()), sum=draw(st.floats()),
            sum_squares=draw(st.floats()), bucket_limit=sorted(draw(st.lists(st.floats(-1e6, 1e6), min_size=k, max_size=k))),
            bucket=draw(st.lists(COUNTS, min_size=n, max_size=n))))
    else:
        rows = draw(st.lists(st.tuples(EDGES, EDGES, COUNTS), min_size=k, max_size=k))
        dtype = draw(st.sampled_from([1, 2, 2, 2]))
        arr = np.array(rows, dtype=np.float64).reshape(-1, 3).astype("<f4" if dtype == 1 else "<f8")
        dims = [k, draw(st.sampled_from([3, 3, 3, 2]))]
        if dims[1] != 3:
            arr = arr[:, :2]
        shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims])
        val.tensor.CopyFrom(tensor_pb2.TensorProto(dtype=dtype, tensor_shape=shape, tensor_content=arr.tobytes()))
    meta = draw(st.sampled_from([None, None, "histograms", "scalars", "histograms+class"]))
    if meta:
        val.metadata.plugin_data.plugin_name = meta.split("+")[0]
        if meta.endswith("+class"):
            val.metadata.data_class = summary_pb2.DATA_CLASS_TENSOR
    return val


@st.composite
def histogram_stream(draw) -> tuple[bytes, dict[str, str]]:
    tags = draw(st.lists(st.sampled_from(["h", "w", "custom_scalars__config__", "\u00fc"]), min_size=1,
                         max_size=3, unique=True))
    recs = []
    for step in range(draw(st.integers(0, 25))):
        tag = draw(st.sampled_from(tags))
        ev = event_pb2.Event(wall_time=draw(st.floats()), step=draw(st.integers(-(2**63), 2**63 - 1)))
        if draw(st.integers(0, 3)) == 0:
            ev.summary.value.add(tag=tag, simple_value=step)
        else:
            ev.summary.value.append(draw(histogram_value(tag)))
        recs.append(ev.SerializeToString())
    plugins = draw(st.dictionaries(st.sampled_from(tags), st.sampled_from(["histograms", "scalars", "text"]),
                                   max_size=2))
    return frame(*recs), plugins


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histogram_stream(), st.sampled_from([None, None, 200]))
def test_histograms_as_events_computes_them(case: tuple[bytes, dict[str, str]], window: int | None) -> None:
    data, plugins = case
    check(data, window, plugins)


def test_histogram_sums_follow_numpy_for_long_vectors() -> None:
    """numpy sums in blocks of 8, pairwise above 128 values: k = 1..300 buckets."""
    rng = np.random.default_rng(7)
    recs = []
    for k in list(range(1, 300, 7)) + [128, 129, 256, 1000]:
        arr = rng.standard_normal((k, 3)) * 10.0 ** rng.integers(-8, 8, (k, 3))
        shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in (k, 3)])
        ev = event_pb2.Event(wall_time=1.0, step=k)
        ev.summary.value.add(tag="h", tensor=tensor_pb2.TensorProto(dtype=2, tensor_shape=shape,
                                                                     tensor_content=arr.tobytes()))
        ev.summary.value[0].metadata.plugin_data.plugin_name = "histograms"
        recs.append(ev.SerializeToString())
    data = frame(*recs)
    assert len(_native.histograms(data, *pure.frame(data, 0)[2:4])) == len(recs)  # all in C
    check(data)


def test_worker_results_cross_as_buffers(tmp_path) -> None:
    """A worker's span pickles its histograms as columns and unpickles to the same records."""
    import pickle

    from tests.test_fastpath import norm
    from tsvis_live.formats.detect import LogFile
    from tsvis_live.ingest.worker import PackedHistograms, read_span
    from tsvis_live.store.filestate import FileState

    rng = np.random.default_rng(3)
    recs = []
    for step in range(30):
        ev = event_pb2.Event(wall_time=float("nan") if step == 3 else step / 7, step=step - 5)
        limits = sorted(rng.standard_normal(step % 6).tolist())
        counts = rng.integers(0, 3, len(limits)).astype(float).tolist()
        lo, hi = (-0.0, 0.0) if step == 4 else (-1.0, 1.0)
        ev.summary.value.add(tag=["h", "\u00fc"][step % 2], histo=summary_pb2.HistogramProto(
            min=lo, max=hi, num=step, sum=float("inf"), bucket_limit=limits, bucket=counts))
        ev.summary.value.add(tag="s", simple_value=step)  # two values: decoded by protobuf
        recs.append(ev.SerializeToString())
        ev = event_pb2.Event(wall_time=1.0, step=step)
        ev.summary.value.add(tag="w", histo=summary_pb2.HistogramProto(bucket_limit=[1.0], bucket=[2.0]))
        recs.append(ev.SerializeToString())
    path = tmp_path / "events.out.tfevents.1.host"
    path.write_bytes(frame(*recs))
    span = read_span(LogFile(path, "events", tmp_path, tmp_path), FileState(path="f", run=".", format="events"), {})
    assert isinstance(span.batch.histograms, PackedHistograms) and len(span.batch.histograms) == 60
    back = pickle.loads(pickle.dumps(span))
    assert type(back.batch.histograms) is list
    assert norm(back.batch.histograms) == norm(list(span.batch.histograms))
    assert norm(back.batch.scalars) == norm(span.batch.scalars)
