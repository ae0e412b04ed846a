"""Declaring protobuf messages in Python: the few helpers every hand-written schema here uses.

Type names may be relative (resolved in the file's package, like protoc does) or absolute
(`.package.Name`). `kind` is a scalar type name, `enum:Name` or a message name.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

_F = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
    "int32": _F.TYPE_INT32,
    "int64": _F.TYPE_INT64,
    "double": _F.TYPE_DOUBLE,
    "float": _F.TYPE_FLOAT,
}


def field(msg: Any, name: str, number: int, kind: str, repeated: bool = False, oneof: int | None = None) -> None:
    """Add one field to a DescriptorProto."""
    f = msg.field.add(name=name, number=number, label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
    if kind in SCALARS:
        f.type = SCALARS[kind]
    elif kind.startswith("enum:"):
        f.type, f.type_name = _F.TYPE_ENUM, kind[5:]
    else:
        f.type, f.type_name = _F.TYPE_MESSAGE, kind
    if oneof is not None:
        f.oneof_index = oneof


def map_field(msg: Any, name: str, number: int, value_kind: str) -> None:
    """A proto3 `map<string, value_kind>` field: a nested *Entry message plus the field."""
    entry_name = "".join(p.capitalize() for p in name.split("_")) + "Entry"
    entry = msg.nested_type.add(name=entry_name)
    entry.options.map_entry = True
    field(entry, "key", 1, "string")
    field(entry, "value", 2, value_kind)
    field(msg, name, number, entry_name, repeated=True)


def enum(file: Any, name: str, values: dict[int, str]) -> None:
    e = file.enum_type.add(name=name)
    for number, value_name in values.items():
        e.value.add(name=value_name, number=number)


def message_class(pool: descriptor_pool.DescriptorPool, full_name: str) -> type[Message]:
    descriptor = pool.FindMessageTypeByName(full_name)
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)  # 4.21 (deprecated later)
