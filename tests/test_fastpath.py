"""`fastpath.decode_window` gives exactly what the per-record `scan` + `decode` loop gives.

Both ways of running it, the compiled decoder (`_native._decode`) and the pure-Python one
(`pure=True`), on the same inputs. Compared bit for bit (floats by their bytes, NaN payloads
too; scalar columns as int64/float64 arrays whether lists or arrays; dicts in insertion order):
the batch, the decoder's plugin map, the returned offset and the framing error; on logs of real
writers, the benchmark generator, hand-built byte layouts, hypothesis-generated event mixes
and corrupted streams, read whole and in tailer-like windows.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2

from bench import genlogs
from tests import writers
from tsvis_live.formats import _native, fastpath, tfrecord
from tsvis_live.formats._native import _decode  # not built: these tests fail, as they should
from tsvis_live.formats.events import DecodeError, EventDecoder
from tsvis_live.records import Batch, ScalarColumns

Value = summary_pb2.Summary.Value


@pytest.fixture(scope="module", autouse=True)
def compiled_decoder():
    """The compiled decoder, even under TSVIS_LIVE_PURE=1 (`pure=True` still runs numpy)."""
    saved, _native.compiled = _native.compiled, _decode
    yield
    _native.compiled = saved


def native(window: bytes, base: int, decoder: EventDecoder, batch: Batch) -> tuple[int, Any]:
    return fastpath.decode_window(window, base, decoder, batch)


def pure(window: bytes, base: int, decoder: EventDecoder, batch: Batch) -> tuple[int, Any]:
    return fastpath.decode_window(window, base, decoder, batch, pure=True)


def reference(window: bytes, base: int, decoder: EventDecoder, batch: Batch) -> tuple[int, Any]:
    """The loop Tailer._read_events ran before the fast path."""
    end = base
    try:
        for record in tfrecord.scan(window, base=base):
            end = record.end
            if record.data is None:
                batch.skipped += 1
                continue
            try:
                decoder.decode(record.data, batch)
            except DecodeError:
                batch.skipped += 1
    except tfrecord.BrokenFraming as exc:
        return end, exc
    return end, None


def norm(obj: Any) -> Any:
    """A comparable form: floats as bytes (NaN payloads too), dicts as ordered item lists."""
    if isinstance(obj, float):
        return ("f", struct.pack("<d", obj))
    if isinstance(obj, bool | int | str | bytes | type(None)):
        return (type(obj).__name__, obj)
    if isinstance(obj, np.ndarray):
        return ("a", obj.dtype.str, obj.shape, obj.tobytes())
    if isinstance(obj, np.generic):
        return norm(obj.item())
    if isinstance(obj, dict):
        return ("d", [(norm(k), norm(v)) for k, v in obj.items()])
    if isinstance(obj, list | tuple):
        return ("l", [norm(x) for x in obj])
    if isinstance(obj, ScalarColumns):  # lists from the decoder, arrays from the fast path
        cols = (obj.steps, obj.wall_times, obj.values)
        return ("cols", [np.asarray(c, dtype=t).tobytes() for c, t in zip(cols, ("<i8", "<f8", "<f8"))])
    if dataclasses.is_dataclass(obj):
        return (type(obj).__name__, [norm(getattr(obj, f.name)) for f in dataclasses.fields(obj)])
    if isinstance(obj, tfrecord.BrokenFraming):
        return ("broken", obj.offset, str(obj))
    raise TypeError(type(obj))


def run(fn, data: bytes, window: int | None, plugins: dict[str, str] | None) -> Any:
    """Tail `data` window by window like the tailer; everything observable, normalized."""
    decoder, out, offset = EventDecoder(plugins), [], 0
    while True:
        batch = Batch()
        chunk = data[offset : offset + window] if window else data[offset:]
        need = tfrecord.pending_length(chunk)
        if window and need is not None and len(chunk) < need <= tfrecord.MAX_RECORD_SIZE:
            chunk = data[offset : offset + need]
        end, err = fn(chunk, offset, decoder, batch)
        out.append((norm(batch), end, norm(err)))
        if err is not None or end == offset or not window:
            break
        offset = end
    return out, norm(decoder.plugins)


def check(data: bytes, window: int | None = None, plugins: dict[str, str] | None = None) -> None:
    want = run(reference, data, window, plugins)
    assert run(native, data, window, plugins) == want
    assert run(pure, data, window, plugins) == want


# -- logs of real writers and of the benchmark generator ------------------------------------


@pytest.fixture(scope="module", params=["torch", "tbx", "tensorboard", "tsvis"])
def writer_files(request, tmp_path_factory) -> list[Path]:
    logdir = tmp_path_factory.mktemp(request.param)
    getattr(writers, f"write_{request.param}_logs")(logdir)
    return sorted(p for p in logdir.rglob("*events.out*") if p.is_file())


def test_real_writers(writer_files: list[Path]) -> None:
    assert writer_files
    for path in writer_files:
        data = path.read_bytes()
        for window in (None, 100, 4096):
            check(data, window)
        check(data, plugins={"loss": "histograms", "x/loss": "", "lr": "images"})


def test_benchmark_logs(tmp_path: Path) -> None:
    params = genlogs.GenParams(runs=3, scalar_tags=6, steps=300, hist_tags=2, hist_every=7,
                               buckets=5, images_per_run=2)
    for i in range(params.runs):
        genlogs._write_run((params, i, str(tmp_path)))
    files = sorted(tmp_path.rglob("*tfevents*"))
    assert len(files) == 4
    for path in files:
        data = path.read_bytes()
        check(data)
        check(data, window=3000)
        flipped = bytearray(data)
        for pos in range(50, len(data), 997):
            flipped[pos] ^= 0x10
        check(bytes(flipped))


# -- hand-built layouts ---------------------------------------------------------------------


def varint(n: int, pad: int = 0) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
        if not n:
            break
    out[-1] &= 0x7F
    if pad:  # a non-minimal encoding: upb accepts it, the fast path leaves it to upb
        out[-1] |= 0x80
        out += b"\x80" * (pad - 1) + b"\x00"
    return bytes(out)


def ld(field: int, body: bytes, pad: int = 0) -> bytes:
    return bytes([field << 3 | 2]) + varint(len(body), pad) + body


def raw_scalar(tag: bytes, step: int | None, wall: float | None, value: bytes,
               pads: tuple[int, int, int, int] = (0, 0, 0, 0), tail: bytes = b"") -> bytes:
    """A legacy scalar event; `value` is the 4 float bytes, or a whole tensor value field."""
    val = ld(1, tag, pads[3]) + (b"\x15" + value if len(value) == 4 else value)
    head = b"" if wall is None else b"\x09" + struct.pack("<d", wall)
    head += b"" if step is None else b"\x10" + varint(step, pads[0])
    return head + ld(5, ld(1, val, pads[2]), pads[1]) + tail


def frame(*payloads: bytes) -> bytes:
    return b"".join(tfrecord.encode_record(p) for p in payloads)


def tensor_value(dtype: int, number: bytes, shape: bool = True) -> bytes:
    body = b"\x08" + bytes([dtype]) + (b"\x12\x00" if shape else b"")
    return ld(8, body + ld(5 if dtype == 1 else 6, number))


F32 = [struct.pack("<I", b) for b in (0x7FC00001, 0x7F800001, 0xFFFFFFFF, 1, 0x80000000, 0x7F800000)]


def test_hand_built_layouts() -> None:
    tags = [b"a", b"", "\u00fc/\u65e5".encode(), b"t" * 127, b"u" * 128, b"v" * 300, b"\xff\xfe",
            b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b"\xef\xbf\xbe", b"a\x00b"]
    steps = [None, 0, 1, 127, 128, -1, -(2**63), 2**63 - 1, 2**40]
    recs = []
    for i, tag in enumerate(tags):
        for j, step in enumerate(steps):
            value = F32[(i + j) % len(F32)]
            wall = [None, 0.0, float("nan"), -float("inf"), 1.7e9][j % 5]
            recs.append(raw_scalar(tag, step, wall, value))
            recs.append(raw_scalar(tag, step, wall, value, pads=(j % 3, j % 2, (j + 1) % 2, j % 2)))
            recs.append(raw_scalar(tag, step, 1.0, tensor_value(1, value, j % 2 == 0)))
            recs.append(raw_scalar(tag, step, 2.0, tensor_value(2, struct.pack("<d", -0.0), j % 2 == 1)))
        recs.append(raw_scalar(tag, 3, 1.0, F32[0], tail=b"\x18\x01"))  # an extra field
        recs.append(b"\x10\x01\x09" + bytes(8) + ld(5, ld(1, ld(1, tag) + b"\x15" + F32[1])))
        recs.append(raw_scalar(tag, 5, 1.0, b"\x15" + F32[2] + ld(1, tag)))  # tag after value
    recs.append(raw_scalar(b"x", 2**64 - 1, 1.0, F32[0]) + b"")
    recs.append(b"\x09" + bytes(8) + b"\x10" + b"\xff" * 9 + b"\x7f" + ld(5, ld(1, ld(1, b"x") + b"\x15" + F32[0])))
    recs.append(b"\x09" + bytes(8) + b"\x10" + b"\xff" * 10 + b"\x01" + ld(5, ld(1, ld(1, b"x") + b"\x15" + F32[0])))
    data = frame(*recs)
    for plugins in (None, {"a": "histograms", "": "", "t" * 127: "scalars"}):
        check(data, plugins=plugins)
        check(data, window=500, plugins=plugins)


SCALARS_META = [ld(9, ld(1, ld(1, b"scalars"))), ld(9, ld(1, ld(1, b"scalars")) + b"\x20\x01")]


def test_scalars_metadata_layouts() -> None:
    """The fast path takes a tensor followed by exactly the "scalars" metadata; every near miss
    (another plugin, content, another data class, a display name, a longer name, the metadata
    first) is left to upb, with the same result either way."""
    metas = SCALARS_META + [
        ld(9, ld(1, ld(1, b"scalarz"))), ld(9, ld(1, ld(1, b"scalars") + ld(2, b"x"))),
        ld(9, ld(1, ld(1, b"scalars")) + b"\x20\x02"), ld(9, ld(1, ld(1, b"scalars")) + ld(2, b"L")),
        ld(9, ld(1, ld(1, b"scalarss"))), ld(9, ld(1, ld(1, b"histograms"))),
        ld(9, ld(1, ld(1, b"scalars"), pad=1)), ld(9, ld(1, ld(1, b"scalars")) + b"\x20\x01\x20\x01"),
    ]
    recs = []
    for i, meta in enumerate(metas):
        for d in (1, 2):
            for shape in (True, False):
                number = struct.pack("<f", i + 0.5) if d == 1 else struct.pack("<d", -i - 0.25)
                recs.append(raw_scalar(b"t%d" % (i % 3), i, 1.0, tensor_value(d, number, shape) + meta))
                recs.append(raw_scalar(b"t%d" % (i % 3), i, 1.0, meta + tensor_value(d, number, shape)))
                recs.append(raw_scalar(b"t%d" % (i % 3), i + 1, 2.0, tensor_value(d, number, shape)))
    data = frame(*recs)
    for plugins in (None, {"t0": "histograms", "t1": "scalars", "t2": "text"}):
        check(data, plugins=plugins)
        check(data, window=300, plugins=plugins)


def test_framing_errors() -> None:
    good = frame(*(raw_scalar(b"loss", s, 1.0, F32[3]) for s in range(20)))
    n = len(good) // 20
    check(good[: 5 * n + 3])  # short final record
    check(good[: 5 * n + 13])  # its header is complete
    check(good[:7])
    check(b"")
    bad_len = bytearray(good)
    bad_len[7 * n + 2] ^= 1
    check(bytes(bad_len))
    bad_data = bytearray(good)
    bad_data[3 * n + 20] ^= 1
    check(bytes(bad_data))
    huge = struct.pack("<Q", 1 << 40)
    check(good[: 2 * n] + huge + struct.pack("<I", tfrecord.masked_crc32c(huge)) + b"xx")


# -- hypothesis: mixes of event kinds, plugin conflicts, corruption -------------------------

TAGS = st.one_of(
    st.sampled_from(["loss", "acc", "", "\u00fc/\u00df", "\u65e5\u672c", "x" * 130]),
    st.text(max_size=12),
    st.text(min_size=120, max_size=135),
)
STEPS = st.one_of(st.integers(0, 300), st.sampled_from([0, -1, 127, 128, 2**63 - 1, -(2**63)]),
                  st.integers(-(2**63), 2**63 - 1))
WALLS = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 1.7e9]))
F32S = st.one_of(st.floats(width=32), st.integers(0, 2**32 - 1).map(
    lambda b: struct.unpack("<f", struct.pack("<I", b))[0]))
PLUGINS = st.sampled_from(["scalars", "histograms", "images", "text", "", "custom"])


def _tensor(draw, dtype: int, v: float) -> tensor_pb2.TensorProto:
    t = tensor_pb2.TensorProto(dtype=dtype)
    if draw(st.booleans()):
        t.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto())
    if draw(st.integers(0, 5)) == 0:
        t.tensor_shape.dim.add(size=1)
    vals = t.float_val if dtype == 1 else t.double_val
    vals.extend([v] * draw(st.sampled_from([1, 1, 1, 0, 2])))
    return t


@st.composite
def value_of(draw, tag: str) -> Value:
    kind = draw(st.sampled_from(["simple"] * 4 + ["tensor"] * 3 + ["histo", "image", "text"]))
    val = Value(tag=tag)
    if kind == "simple":
        val.simple_value = draw(F32S)
    elif kind == "tensor":
        dtype = draw(st.sampled_from([1, 2]))
        val.tensor.CopyFrom(_tensor(draw, dtype, draw(F32S if dtype == 1 else st.floats())))
    elif kind == "histo":
        val.histo.CopyFrom(summary_pb2.HistogramProto(min=-1, max=1, num=2, bucket_limit=[0, 1],
                                                      bucket=[1, 1]))
    elif kind == "image":
        val.image.CopyFrom(summary_pb2.Summary.Image(width=1, height=1, encoded_image_string=b"p"))
    else:
        val.tensor.CopyFrom(tensor_pb2.TensorProto(dtype=7, string_val=[b"hi"]))
        val.metadata.plugin_data.plugin_name = "text"
    if draw(st.integers(0, 6)) == 0:
        val.metadata.plugin_data.plugin_name = draw(PLUGINS)
        val.metadata.data_class = draw(st.sampled_from([0, 0, 1, 2]))
        if draw(st.integers(0, 3)) == 0:
            val.metadata.display_name = draw(st.sampled_from(["", "Loss", "\u00fc"]))
    return val


@st.composite
def payload(draw, tags: list[str]) -> bytes:
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(st.binary(max_size=40))
    if kind == 1:
        return event_pb2.Event(wall_time=draw(WALLS), file_version="brain.Event:2").SerializeToString()
    tag = draw(st.sampled_from(tags))
    if kind == 2:  # hand-built: sNaN bits, omitted fields, non-minimal varints
        pads = tuple(draw(st.sampled_from([0, 0, 0, 1, 2])) for _ in range(4))
        step = draw(st.none() | STEPS)
        wall = draw(st.none() | WALLS)
        return raw_scalar(tag.encode(), step, wall, draw(st.sampled_from(F32)), pads)
    ev = event_pb2.Event(wall_time=draw(WALLS), step=draw(STEPS))
    values = [draw(value_of(tag))]
    if kind == 3:
        values += [draw(value_of(draw(st.sampled_from(tags)))) for _ in range(draw(st.integers(0, 3)))]
    ev.summary.value.extend(values)
    return ev.SerializeToString()


@st.composite
def stream(draw) -> tuple[bytes, dict[str, str]]:
    tags = draw(st.lists(TAGS, min_size=1, max_size=6, unique=True))
    payloads = draw(st.lists(payload(tags), max_size=60))
    data = bytearray(frame(*payloads))
    for _ in range(draw(st.sampled_from([0, 0, 1, 3]))):  # bit flips
        if data:
            data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
    cut = draw(st.integers(0, 30))
    plugins = draw(st.dictionaries(st.sampled_from(tags), PLUGINS, max_size=3))
    return bytes(data[: len(data) - cut] if draw(st.booleans()) else data), plugins


@given(stream(), st.sampled_from([None, None, 64, 300]))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_streams(case: tuple[bytes, dict[str, str]], window: int | None) -> None:
    data, plugins = case
    check(data, window, plugins)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(
    ["simple", "tensor", "tensor_meta", "tensor_meta_class", "tensor_meta_named", "histo", "text"])),
    max_size=40), st.dictionaries(
    st.sampled_from(["a", "b", "c"]), PLUGINS, max_size=3))
@settings(max_examples=300, deadline=None)
def test_plugin_interplay(seq: list[tuple[str, str]], plugins: dict[str, str]) -> None:
    """Fast and slow records of one tag interleaved, under every plugin a tag can hold."""
    recs = []
    for step, (tag, kind) in enumerate(seq):
        val = Value(tag=tag)
        if kind == "simple":
            val.simple_value = step
        elif kind == "histo":
            val.histo.CopyFrom(summary_pb2.HistogramProto(min=0, max=1, num=1, bucket_limit=[1],
                                                          bucket=[1]))
        elif kind == "text":
            val.tensor.CopyFrom(tensor_pb2.TensorProto(dtype=7, string_val=[b"t"]))
            val.metadata.plugin_data.plugin_name = "text"
        else:
            val.tensor.CopyFrom(tensor_pb2.TensorProto(dtype=1, float_val=[step]))
            if kind.startswith("tensor_meta"):  # TF2 and torch's new style, then what only upb reads
                val.metadata.plugin_data.plugin_name = "scalars"
                val.metadata.data_class = 1 if kind == "tensor_meta_class" else 0
                val.metadata.display_name = "Loss" if kind == "tensor_meta_named" else ""
        ev = event_pb2.Event(wall_time=step, step=step)
        ev.summary.value.append(val)
        recs.append(ev.SerializeToString())
    check(frame(*recs), plugins=plugins)
    check(frame(*recs), window=120, plugins=plugins)


@pytest.mark.parametrize("decode", [native, pure])
def test_plain_scalars_take_the_fast_path(monkeypatch: pytest.MonkeyPatch, decode) -> None:
    """Every plain scalar layout is decoded without protobuf (else the speed-up is lost)."""
    calls = []
    monkeypatch.setattr(EventDecoder, "decode", lambda self, data, batch: calls.append(data))
    recs = []
    for i, tag in enumerate([b"a", b"", "\u00fc".encode(), b"t" * 127, b"u" * 300]):
        for step in [None, 0, 1, 128, -1, -(2**63), 2**63 - 1, 2**62]:
            recs.append(raw_scalar(tag, step, [None, 1.5][i % 2], F32[i]))
    recs += [raw_scalar(b"m", 7, 1.0, tensor_value(d, b"\0" * (4 * d), shape)) for d in (1, 2)
             for shape in (True, False)]
    # a tag's first value as TF2, Keras and torch's new style write it: with the "scalars" metadata
    recs += [raw_scalar(tag, 8, 1.0, tensor_value(d, b"\1" * (4 * d), shape) + meta)
             for tag in (b"m", b"n") for d in (1, 2) for shape in (True, False) for meta in SCALARS_META]
    batch = Batch()
    decoder = EventDecoder({"m": "scalars"})
    data = frame(*recs)
    assert decode(data, 0, decoder, batch) == (len(data), None)
    assert calls == []
    assert batch.events == len(recs)
    cols = batch.scalars[""]
    assert isinstance(cols.steps, np.ndarray) and cols.steps.dtype == np.int64
    assert cols.steps.tolist() == [0, 0, 1, 128, -1, -(2**63), 2**63 - 1, 2**62]
