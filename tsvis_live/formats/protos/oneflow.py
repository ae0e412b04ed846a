"""OneFlow's `projector.proto` (proto2), declared from the field table in formats.md.

Why a module of its own: OneFlow writes its projector files as ONE raw `SummaryProjector`
message with no framing, so the reader needs just these messages. They live in their own
private descriptor pool under `tsvis_live.oneflow_projector`, so they can collide neither with
TensorBoard's messages nor with the other variants in `protos.tsvis`.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "tsvis_live.oneflow_projector"
_SCALARS = {
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
    "int64": _F.TYPE_INT64,
    "double": _F.TYPE_DOUBLE,
}

# MetaData.type and Sample.type, as OneFlow numbers them
EMBEDDING, EXCEPTION = 0, 1
SAMPLE_TYPES = {0: "image", 1: "audio", 2: "text"}


def _field(msg: Any, name: str, number: int, kind: str, repeated: bool = False) -> None:
    label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    f = msg.field.add(name=name, number=number, label=label)
    if kind in _SCALARS:
        f.type = _SCALARS[kind]
    elif kind.startswith("enum:"):
        f.type, f.type_name = _F.TYPE_ENUM, f".{_PACKAGE}.{kind[5:]}"
    else:
        f.type, f.type_name = _F.TYPE_MESSAGE, f".{_PACKAGE}.{kind}"


def _enum(file: Any, name: str, values: dict[int, str]) -> None:
    enum = file.enum_type.add(name=name)
    for number, value_name in values.items():
        enum.value.add(name=value_name, number=number)


def _file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="tsvis_live/oneflow_projector.proto", package=_PACKAGE, syntax="proto2"
    )
    _enum(file, "ProjectorType", {EMBEDDING: "EMBEDDING", EXCEPTION: "EXCEPTION"})
    _enum(file, "SampleType", {0: "IMAGE", 1: "AUDIO", 2: "TEXT"})

    dim = file.message_type.add(name="Dim")
    _field(dim, "size", 1, "int64")
    _field(dim, "name", 2, "string")
    shape = file.message_type.add(name="TensorShape")
    _field(shape, "dim", 1, "Dim", repeated=True)
    tensor = file.message_type.add(name="Tensor")
    _field(tensor, "dtype", 1, "string")
    _field(tensor, "shape", 2, "TensorShape")
    _field(tensor, "content", 3, "bytes")

    meta = file.message_type.add(name="MetaData")
    _field(meta, "type", 1, "enum:ProjectorType")
    _field(meta, "content", 2, "string")

    proj = file.message_type.add(name="Projector")
    _field(proj, "tag", 1, "string")
    _field(proj, "step", 2, "int64")
    _field(proj, "WALL_TIME", 3, "double")
    _field(proj, "value", 4, "Tensor")
    _field(proj, "label", 5, "Tensor")

    sample = file.message_type.add(name="Sample")
    _field(sample, "name", 1, "string")
    _field(sample, "type", 2, "enum:SampleType")
    _field(sample, "X", 3, "Tensor")

    summary = file.message_type.add(name="SummaryProjector")
    _field(summary, "projector", 1, "Projector", repeated=True)
    _field(summary, "sample", 2, "Sample")
    _field(summary, "metadata", 6, "MetaData")
    return file


POOL = descriptor_pool.DescriptorPool()
POOL.Add(_file())


def _cls(name: str) -> type[Message]:
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(f"{_PACKAGE}.{name}"))


Tensor = _cls("Tensor")
MetaData = _cls("MetaData")
Projector = _cls("Projector")
Sample = _cls("Sample")
SummaryProjector = _cls("SummaryProjector")
