"""Event files built record by record, for tests that need exact control over the bytes."""

from __future__ import annotations

from pathlib import Path

from tensorboard.compat.proto import event_pb2

from tsvis_live.formats.tfrecord import encode_record


def scalar_event(tag: str, step: int, value: float, wall_time: float | None = None) -> bytes:
    ev = event_pb2.Event(wall_time=1_700_000_000.0 + step if wall_time is None else wall_time, step=step)
    ev.summary.value.add(tag=tag, simple_value=value)
    return ev.SerializeToString()


def scalar_records(tag: str, steps, value=lambda s: s * 0.5) -> list[bytes]:
    """Framed records of `tag` at each step (value a function of the step)."""
    head = encode_record(event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString())
    return [head] + [encode_record(scalar_event(tag, s, value(s))) for s in steps]


def write_scalars(path: Path, tag: str, steps, value=lambda s: s * 0.5) -> list[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    records = scalar_records(tag, steps, value)
    path.write_bytes(b"".join(records))
    return records
