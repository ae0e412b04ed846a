"""OneFlow's `projector.proto` (proto2), declared from the field table in formats.md.

Why a module of its own: OneFlow writes its projector files as ONE raw `SummaryProjector`
message with no framing, so the reader needs just these messages. They live in their own
private descriptor pool under `tsvis_live.oneflow_projector`, so they can collide neither with
TensorBoard's messages nor with the other variants in `protos.tsvis`.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import Message

from tsvis_live.formats.protos.build import enum, field, message_class

_PACKAGE = "tsvis_live.oneflow_projector"

# MetaData.type and Sample.type, as OneFlow numbers them
EMBEDDING, EXCEPTION = 0, 1
SAMPLE_TYPES = {0: "image", 1: "audio", 2: "text"}


def _file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="tsvis_live/oneflow_projector.proto", package=_PACKAGE, syntax="proto2"
    )
    enum(file, "ProjectorType", {EMBEDDING: "EMBEDDING", EXCEPTION: "EXCEPTION"})
    enum(file, "SampleType", {0: "IMAGE", 1: "AUDIO", 2: "TEXT"})

    dim = file.message_type.add(name="Dim")
    field(dim, "size", 1, "int64")
    field(dim, "name", 2, "string")
    shape = file.message_type.add(name="TensorShape")
    field(shape, "dim", 1, "Dim", repeated=True)
    tensor = file.message_type.add(name="Tensor")
    field(tensor, "dtype", 1, "string")
    field(tensor, "shape", 2, "TensorShape")
    field(tensor, "content", 3, "bytes")

    meta = file.message_type.add(name="MetaData")
    field(meta, "type", 1, "enum:ProjectorType")
    field(meta, "content", 2, "string")

    proj = file.message_type.add(name="Projector")
    field(proj, "tag", 1, "string")
    field(proj, "step", 2, "int64")
    field(proj, "WALL_TIME", 3, "double")
    field(proj, "value", 4, "Tensor")
    field(proj, "label", 5, "Tensor")

    sample = file.message_type.add(name="Sample")
    field(sample, "name", 1, "string")
    field(sample, "type", 2, "enum:SampleType")
    field(sample, "X", 3, "Tensor")

    summary = file.message_type.add(name="SummaryProjector")
    field(summary, "projector", 1, "Projector", repeated=True)
    field(summary, "sample", 2, "Sample")
    field(summary, "metadata", 6, "MetaData")
    return file


POOL = descriptor_pool.DescriptorPool()
POOL.Add(_file())


def _cls(name: str) -> type[Message]:
    return message_class(POOL, f"{_PACKAGE}.{name}")


Tensor = _cls("Tensor")
MetaData = _cls("MetaData")
Projector = _cls("Projector")
Sample = _cls("Sample")
SummaryProjector = _cls("SummaryProjector")
