"""Garbage in, DecodeError (or nothing) out: EventDecoder never raises anything else.

Each fuzzed payload is also framed as a record and decoded by `fastpath.decode_window`, with
the compiled decoder and with the pure-Python one: both must give exactly what
`scan` + `EventDecoder.decode` gives (tests.test_fastpath.check).
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import writers
from tests.test_fastpath import check, compiled_decoder  # noqa: F401 (a module fixture)
from tsvis_live.formats import tfrecord
from tsvis_live.formats.events import DecodeError, EventDecoder
from tsvis_live.records import Batch

PLUGINS = [
    "scalars", "histograms", "images", "audio", "text", "pr_curves", "custom_scalars",
    "hparams", "graph_run_metadata", "graph_keras_model", "embeddings", "mesh", "",
]  # fmt: skip


@functools.lru_cache(maxsize=1)
def real_payloads() -> tuple[bytes, ...]:
    """Every Event payload the real writers produce, one of each (tag, kind) is plenty."""
    payloads: list[bytes] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("torch", "tensorboard", "tsvis", "tbx"):
            logdir = Path(tmp) / name
            getattr(writers, f"write_{name}_logs")(logdir)
            for path in sorted(logdir.rglob("*events.out*")):
                payloads += [r.data for r in tfrecord.scan(path.read_bytes()) if r.data]
    return tuple(payloads)


def _decode_quietly(data: bytes, known: dict[str, str] | None = None) -> None:
    batch = Batch()
    try:
        EventDecoder(known).decode(data, batch)
    except DecodeError as err:
        assert str(err).endswith(")") or str(err).endswith(".")
        assert batch.events == 0


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_real_payloads_decode_cleanly():
    batch = Batch()
    for data in real_payloads():
        EventDecoder().decode(data, batch)
    assert batch.events == len(real_payloads())


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data):
    _decode_quietly(data)
    check(tfrecord.encode_record(data))


@FUZZ
@given(
    index=st.integers(min_value=0),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=6),
    cut=st.none() | st.integers(min_value=0),
    insert=st.binary(max_size=8),
    plugin=st.sampled_from(PLUGINS),
)
def test_mutated_real_events(index, edits, cut, insert, plugin):
    payloads = real_payloads()
    data = bytearray(payloads[index % len(payloads)])
    for pos, byte in edits:
        data[pos % len(data)] = byte
    if insert:
        at = edits[0][0] % len(data) if edits else 0
        data[at:at] = insert
    if cut is not None:
        del data[cut % (len(data) + 1) :]
    _decode_quietly(bytes(data))
    # the same bytes again, as if every tag had been seen with `plugin` before a restart
    tags = {"loss", "lr", "th", "timg", "tsnd", "grid", "tpr", "keras", "emb", "grad", "count"}
    _decode_quietly(bytes(data), {tag: plugin for tag in tags})
    framed = tfrecord.encode_record(bytes(data)) + tfrecord.encode_record(payloads[index % len(payloads)])
    check(framed)
    check(framed, plugins={tag: plugin for tag in tags})
