"""TensorFlow's checkpoint messages, which TensorBoard's package does not ship.

Declared from `tensorflow/core/protobuf/tensor_bundle.proto` and `checkpoint_state.proto`
(field numbers and types only), in a private pool under `tsvis_live.bundle`:

- `BundleHeaderProto`: num_shards (1), endianness (2: LITTLE 0, BIG 1), version (3).
- `BundleEntryProto`: dtype (1, the DataType enum), shape (2, a TensorShapeProto), shard_id
  (3), offset (4), size (5), crc32c (6, fixed32), slices (7, TensorSliceProto; only counted
  here, so read as raw bytes).
- `CheckpointState` (the text file `checkpoint` beside the bundles): model_checkpoint_path
  (1), all_model_checkpoint_paths (2).
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool

from tsvis_live.formats.protos.build import field, message_class

_F = descriptor_pb2.FieldDescriptorProto


def _file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="tsvis_live/bundle.proto", package="tsvis_live.bundle", syntax="proto3"
    )
    shape = file.message_type.add(name="TensorShape")
    dim = shape.nested_type.add(name="Dim")
    field(dim, "size", 1, "int64")
    field(dim, "name", 2, "string")
    field(shape, "dim", 2, "Dim", repeated=True)
    unknown = shape.field.add(name="unknown_rank", number=3, label=_F.LABEL_OPTIONAL)
    unknown.type = _F.TYPE_BOOL

    header = file.message_type.add(name="BundleHeaderProto")
    field(header, "num_shards", 1, "int32")
    field(header, "endianness", 2, "int32")  # an enum on the wire is a varint

    entry = file.message_type.add(name="BundleEntryProto")
    field(entry, "dtype", 1, "int32")
    field(entry, "shape", 2, "TensorShape")
    field(entry, "shard_id", 3, "int32")
    field(entry, "offset", 4, "int64")
    field(entry, "size", 5, "int64")
    crc = entry.field.add(name="crc32c", number=6, label=_F.LABEL_OPTIONAL)
    crc.type = _F.TYPE_FIXED32
    field(entry, "slices", 7, "bytes", repeated=True)

    state = file.message_type.add(name="CheckpointState")
    field(state, "model_checkpoint_path", 1, "string")
    field(state, "all_model_checkpoint_paths", 2, "string", repeated=True)
    return file


POOL = descriptor_pool.DescriptorPool()
POOL.Add(_file())
BundleHeaderProto = message_class(POOL, "tsvis_live.bundle.BundleHeaderProto")
BundleEntryProto = message_class(POOL, "tsvis_live.bundle.BundleEntryProto")
CheckpointState = message_class(POOL, "tsvis_live.bundle.CheckpointState")
