"""TFRecord framing: `u64 length | u32 masked crc(length) | data | u32 masked crc(data)`.

The scanner works on an in-memory window of a file and never raises on garbage except with
its own `BrokenFraming`, which means the length field of a record is corrupt so nothing after
it can be located. A record whose data CRC fails is reported as corrupt (data None) and
skipped; a short final record stops the scan, so the caller retries from that offset later.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

HEADER_SIZE = 12  # u64 length + u32 length crc
FOOTER_SIZE = 4
# A record holds one serialized protobuf Event, and protobuf messages are smaller than 2 GiB:
# a length field above this (with a valid checksum) can never be completed, so it is broken
# framing at once instead of a record to wait for.
MAX_RECORD_SIZE = (1 << 31) - 1
_MASK_DELTA = 0xA282EAD8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


class RecordError(Exception):
    """Base of the errors the framing layer raises; nothing else escapes it."""


class BrokenFraming(RecordError):
    """The length of a record failed its CRC: the rest of the file cannot be followed."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"broken record framing at byte {offset}: {reason}")
        self.offset = offset


def too_long(length: int) -> str:
    """Why a record of `length` bytes cannot be waited for (the framing error's reason)."""
    return f"record length {length} is implausible (more than the 2 GiB any event can hold)"


def masked_crc32c(data: bytes | memoryview) -> int:
    from crc32c import crc32c  # on first use: 30 ms of every start otherwise

    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


@dataclass(slots=True)
class Record:
    start: int  # offset of the record's first byte (relative to the file)
    end: int  # offset just past the record
    data: bytes | None  # None when the data CRC failed (a corrupt record)


def encode_record(data: bytes) -> bytes:
    """Frame one record (used by tests and benchmarks to build files byte by byte)."""
    header = _U64.pack(len(data))
    return header + _U32.pack(masked_crc32c(header)) + data + _U32.pack(masked_crc32c(data))


def scan(window: bytes, base: int = 0, check_data_crc: bool = True) -> Iterator[Record]:
    """Yield the complete records in `window`, whose first byte is at file offset `base`.

    Stops silently at a short final record (the writer is still writing). Raises
    `BrokenFraming` when a length field fails its CRC or is absurd.
    """
    view = memoryview(window)
    size = len(window)
    pos = 0
    unpack_u64 = _U64.unpack_from
    unpack_u32 = _U32.unpack_from
    from crc32c import crc32c as crc
    while size - pos >= HEADER_SIZE:
        (length,) = unpack_u64(window, pos)
        c = crc(view[pos : pos + 8])  # the mask is inlined: this loop runs once per event
        if ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF != unpack_u32(window, pos + 8)[0]:
            raise BrokenFraming(base + pos, "length checksum mismatch")
        if length > MAX_RECORD_SIZE:
            raise BrokenFraming(base + pos, too_long(length))
        start = pos + HEADER_SIZE
        end = start + length + FOOTER_SIZE
        if end > size:
            return
        data = window[start : start + length]
        if check_data_crc:
            c = crc(data)
            if ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF != unpack_u32(window, end - 4)[0]:
                yield Record(base + pos, base + end, None)
                pos = end
                continue
        yield Record(base + pos, base + end, data)
        pos = end


def pending_length(window: bytes, pos: int = 0) -> int | None:
    """Total size of the record starting at `pos` if its header is readable, else None.

    Lets a reader that hit a short record know how large a window it needs (the length is not
    checked here: `scan` and the fast path do that).
    """
    if len(window) - pos < HEADER_SIZE:
        return None
    (length,) = _U64.unpack_from(window, pos)
    return HEADER_SIZE + length + FOOTER_SIZE
