"""Property tests of the record framing: garbage never raises anything but BrokenFraming.

Every input also goes through both window framers, the compiled `_decode.frame` and the numpy
`pure.frame`: they must agree with each other and with `scan` (same records, same skipped
count, same end offset, same broken-framing error).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tsvis_live.formats import tfrecord
from tsvis_live.formats._native import _decode, pure


def drain(data: bytes) -> list[tfrecord.Record]:
    both_framers(data)
    try:
        return list(tfrecord.scan(data))
    except tfrecord.BrokenFraming as exc:
        assert 0 <= exc.offset < len(data)
        return []


def both_framers(data: bytes, base: int = 0) -> None:
    """Compiled and pure framing give the same as `scan`, read from file offset `base`."""
    recs, broken = [], None
    try:
        for rec in tfrecord.scan(data, base=base):
            recs.append(rec)
    except tfrecord.BrokenFraming as exc:
        broken = exc
    good = [r for r in recs if r.data is not None]
    for end, why, starts, lengths, skipped in (_decode.frame(data, base), pure.frame(data, base)):
        assert end == (broken.offset if broken else recs[-1].end if recs else base)
        assert np.frombuffer(starts, "<i8").tolist() == [r.start - base + 12 for r in good]
        assert np.frombuffer(lengths, "<i8").tolist() == [len(r.data) for r in good]
        assert skipped == len(recs) - len(good)
        if broken is None:
            assert why is None
        else:
            reason = "length checksum mismatch" if why[1] is None else tfrecord.too_long(why[1])
            assert why[0] == broken.offset and str(broken).endswith(reason)


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
    both_framers(short, base=cut)
    assert [r.data for r in recs] == payloads[: len(recs)]
    assert recs == [] or recs[-1].end <= len(short)


def test_known_crc_vector() -> None:
    assert tfrecord.masked_crc32c(b"\x1a\x11CRC test, one two") == 0x5794D08A
