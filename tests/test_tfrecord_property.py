"""Property tests of the record framing: garbage never raises anything but BrokenFraming."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tsvis_live.formats import tfrecord


def drain(data: bytes) -> list[tfrecord.Record]:
    try:
        return list(tfrecord.scan(data))
    except tfrecord.BrokenFraming as exc:
        assert 0 <= exc.offset < len(data)
        return []


@given(st.binary(max_size=4096))
@settings(max_examples=500)
def test_arbitrary_bytes(data: bytes) -> None:
    for rec in drain(data):
        assert 0 <= rec.start < rec.end <= len(data)


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=20), st.data())
@settings(max_examples=300)
def test_mutated_streams_only_lose_what_was_hit(payloads: list[bytes], data) -> None:
    stream = bytearray(b"".join(tfrecord.encode_record(p) for p in payloads))
    pos = data.draw(st.integers(0, len(stream) - 1))
    stream[pos] ^= data.draw(st.integers(1, 255))
    recs = drain(bytes(stream))
    intact = [r.data for r in recs if r.data is not None]
    # every record that survived is one of the originals, in order
    it = iter(payloads)
    assert all(any(d == p for p in it) for d in intact)


@given(st.lists(st.binary(max_size=300), max_size=20), st.integers(0, 64))
def test_truncation_keeps_only_whole_records(payloads: list[bytes], cut: int) -> None:
    stream = b"".join(tfrecord.encode_record(p) for p in payloads)
    short = stream[: max(0, len(stream) - cut)]
    recs = list(tfrecord.scan(short))
    assert [r.data for r in recs] == payloads[: len(recs)]
    assert recs == [] or recs[-1].end <= len(short)


def test_known_crc_vector() -> None:
    assert tfrecord.masked_crc32c(b"\x1a\x11CRC test, one two") == 0x5794D08A
