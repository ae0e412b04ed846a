"""TS-VIS and OneFlow protobuf variants, declared from the field tables in formats.md.

Why not protoc: the project ships no generated code, and the `tsvis` package's own `_pb2`
modules do not import under protobuf >= 4. Descriptors are built as `FileDescriptorProto`s in
a private pool, with package names `tsvis_live.tsvis`, `tsvis_live.oneflow` and
`tsvis_live.probe`, so nothing collides with TensorBoard's `tensorboard.*` messages.

Messages declare only the fields we read; any other field survives as an unknown field and
round-trips through `SerializeToString`. The `probe` messages exist to decide the hparams
variant from the shape of the bytes: they read the contested fields as raw bytes.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    struct_pb2,
    unknown_fields,
)
from google.protobuf.message import Error as ProtobufError
from google.protobuf.message import Message

from tsvis_live.formats.protos.build import field, map_field, message_class

POOL = descriptor_pool.DescriptorPool()
POOL.AddSerializedFile(struct_pb2.DESCRIPTOR.serialized_pb)


def _tensor(file: Any) -> None:
    """TS-VIS `Tensor`: numpy dtype name, shape and raw C-order bytes."""
    t = file.message_type.add(name="Tensor")
    shape = t.nested_type.add(name="TensorShape")
    dim = shape.nested_type.add(name="Dim")
    field(dim, "size", 1, "int64")
    field(dim, "name", 2, "string")
    field(shape, "dim", 1, "Dim", repeated=True)
    field(t, "dtype", 1, "string")
    field(t, "tensor_shape", 2, "TensorShape")
    field(t, "tensor_content", 3, "bytes")


def _tsvis_file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="tsvis_live/tsvis.proto",
        package="tsvis_live.tsvis",
        syntax="proto3",
        dependency=["google/protobuf/struct.proto"],
    )
    _tensor(file)
    proj = file.message_type.add(name="Projector")
    proj.oneof_decl.add(name="content")
    emb = proj.nested_type.add(name="Embedding")
    sample = emb.nested_type.add(name="Sample")
    stype = sample.enum_type.add(name="SampleType")
    for number, name in enumerate(("TYPE_UNSPECIFIED", "AUDIO", "TEXT", "IMAGE")):
        stype.value.add(name=name, number=number)
    field(sample, "type", 2, "enum:.tsvis_live.tsvis.Projector.Embedding.Sample.SampleType")
    field(sample, "X", 3, ".tsvis_live.tsvis.Tensor")
    field(emb, "sample", 1, "Sample")
    field(emb, "value", 2, ".tsvis_live.tsvis.Tensor")
    field(emb, "label", 3, ".tsvis_live.tsvis.Tensor")
    exc = proj.nested_type.add(name="Exception")
    field(exc, "value", 1, ".tsvis_live.tsvis.Tensor")
    field(proj, "embedding", 1, "Embedding", oneof=0)
    field(proj, "exception", 2, "Exception", oneof=0)

    meta = file.message_type.add(name="SummaryMetadata")
    plugin = meta.nested_type.add(name="PluginData")
    field(plugin, "plugin_name", 1, "string")
    field(plugin, "content", 2, "bytes")
    field(meta, "plugin_data", 1, "PluginData")

    summary = file.message_type.add(name="Summary")
    value = summary.nested_type.add(name="Value")
    field(value, "tag", 1, "string")
    field(value, "projector", 7, ".tsvis_live.tsvis.Projector")
    field(value, "metadata", 9, ".tsvis_live.tsvis.SummaryMetadata")
    field(summary, "value", 1, "Value", repeated=True)

    event = file.message_type.add(name="Event")
    field(event, "wall_time", 1, "double")
    field(event, "step", 2, "int64")
    field(event, "summary", 5, ".tsvis_live.tsvis.Summary")

    ssi = file.message_type.add(name="SessionStartInfo")
    map_field(ssi, "hparams", 1, ".google.protobuf.Value")
    map_field(ssi, "metrics", 2, ".google.protobuf.Value")
    field(ssi, "group_name", 4, "string")
    field(ssi, "start_time_secs", 5, "double")
    data = file.message_type.add(name="HParamsPluginData")
    field(data, "version", 1, "int32")
    field(data, "session_start_info", 3, ".tsvis_live.tsvis.SessionStartInfo")
    return file


def _oneflow_file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="tsvis_live/oneflow.proto",
        package="tsvis_live.oneflow",
        syntax="proto3",
        dependency=["google/protobuf/struct.proto"],
    )
    ssi = file.message_type.add(name="SessionStartInfo")
    map_field(ssi, "hparams", 1, ".google.protobuf.Value")
    field(ssi, "model_uri", 2, "string")
    field(ssi, "monitor_url", 3, "string")
    field(ssi, "group_name", 4, "string")
    field(ssi, "start_time_secs", 5, "double")
    map_field(ssi, "metrics", 6, ".google.protobuf.Value")
    data = file.message_type.add(name="HParamsPluginData")
    field(data, "version", 1, "int32")
    field(data, "session_start_info", 3, ".tsvis_live.oneflow.SessionStartInfo")
    return file


def _probe_file() -> descriptor_pb2.FileDescriptorProto:
    """Lenient superset of every hparams variant: contested fields kept as raw bytes."""
    file = descriptor_pb2.FileDescriptorProto(
        name="tsvis_live/probe.proto",
        package="tsvis_live.probe",
        syntax="proto3",
        dependency=["google/protobuf/struct.proto"],
    )
    entry = file.message_type.add(name="ValueEntry")  # one map<string, Value> entry
    field(entry, "key", 1, "bytes")
    field(entry, "value", 2, ".google.protobuf.Value")
    ssi = file.message_type.add(name="SessionStartInfo")
    field(ssi, "hparams", 1, ".tsvis_live.probe.ValueEntry", repeated=True)
    field(ssi, "field2", 2, "bytes", repeated=True)  # TS-VIS metrics | TensorBoard model_uri
    field(ssi, "monitor_url", 3, "bytes")
    field(ssi, "group_name", 4, "bytes")
    field(ssi, "start_time_secs", 5, "double")
    field(ssi, "field6", 6, "bytes", repeated=True)  # OneFlow metrics
    data = file.message_type.add(name="HParamsPluginData")
    field(data, "version", 1, "int32")
    field(data, "experiment", 2, "bytes")
    field(data, "session_start_info", 3, ".tsvis_live.probe.SessionStartInfo")
    field(data, "session_end_info", 4, "bytes")
    return file


for _file in (_tsvis_file(), _oneflow_file(), _probe_file()):
    POOL.Add(_file)


def _cls(full_name: str) -> type[Message]:
    return message_class(POOL, full_name)


Tensor = _cls("tsvis_live.tsvis.Tensor")
Projector = _cls("tsvis_live.tsvis.Projector")
SummaryMetadata = _cls("tsvis_live.tsvis.SummaryMetadata")
Summary = _cls("tsvis_live.tsvis.Summary")
Event = _cls("tsvis_live.tsvis.Event")
HParamsPluginData = _cls("tsvis_live.tsvis.HParamsPluginData")
SessionStartInfo = _cls("tsvis_live.tsvis.SessionStartInfo")
OneFlowHParamsPluginData = _cls("tsvis_live.oneflow.HParamsPluginData")
OneFlowSessionStartInfo = _cls("tsvis_live.oneflow.SessionStartInfo")
ProbeHParamsPluginData = _cls("tsvis_live.probe.HParamsPluginData")
ProbeValueEntry = _cls("tsvis_live.probe.ValueEntry")
Value = _cls("google.protobuf.Value")  # the pool's own copy, for building test messages

SAMPLE_TYPES = {1: "audio", 2: "text", 3: "image"}  # Projector.Embedding.Sample.SampleType


def value_to_python(value: Any) -> Any:
    """google.protobuf.Value -> plain Python (float, str, bool, None, list, dict)."""
    kind = value.WhichOneof("kind")
    if kind == "list_value":
        return [value_to_python(v) for v in value.list_value.values]
    if kind == "struct_value":
        return {k: value_to_python(v) for k, v in value.struct_value.fields.items()}
    return None if kind in (None, "null_value") else getattr(value, kind)


def value_map(raws: Any) -> dict[str, Any] | None:
    """Raw map<string, Value> entries -> dict, or None when the bytes are not shaped like them.

    Used to tell TS-VIS/OneFlow metrics from TensorBoard's `model_uri` string in field 2.
    """
    out = {}
    for raw in raws:
        try:
            entry = ProbeValueEntry.FromString(raw)
            key = entry.key.decode("utf-8")
        except (ProtobufError, UnicodeDecodeError):
            return None
        if (
            len(unknown_fields.UnknownFieldSet(entry))
            or not entry.HasField("value")
            or entry.value.WhichOneof("kind") is None
        ):
            return None
        out[key] = value_to_python(entry.value)
    return out
