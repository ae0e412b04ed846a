"""Mesh plugin values (tensorboardX `add_mesh`, `tensorboard.plugins.mesh`) -> tensor records.

One mesh write is up to three tensor summaries, vertices, faces and colors, each under its
own tag with a `MeshPluginData` in its metadata: TensorBoard names them `<name>_VERTEX`,
`<name>_FACE`, `<name>_COLOR`; tensorboardX `<name>_1`, `<name>_2`, `<name>_3` (the enum's
number), writes every part as DT_FLOAT and leaves `components` 0. Each part is stored as its
own `TensorRecord("mesh", ...)` and the parts are grouped by mesh name when read, as
TensorBoard's plugin does: storing them separately needs no new table, and a part written in
a later event (TF2 writes one summary per part) needs no state across events.

Every part is stored under `<name>_<PART>` in TensorBoard's spelling, whatever its writer
called it (tensorboardX's `m_1` becomes `m_VERTEX`; the metadata's name and content type
decide), so the mesh of a stored series is its tag without the suffix (`mesh_name`), which
getCategory can tell without reading the values. Arrays are normalized: vertices float32, faces int32, colors
uint8, always [batch, N, 3]. A value that cannot be a mesh part raises `MalformedMesh` with a
sentence saying why; the decoder skips that value and reports the sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf.message import Error as ProtobufError
from tensorboard.plugins.mesh import plugin_data_pb2

from tsvis_live.formats import tensors
from tsvis_live.records import TensorRecord

PLUGIN = "mesh"
KIND = "mesh"
# MeshPluginData.ContentType -> the part's name in records and in the API
PARTS = {1: "vertex", 2: "face", 3: "color"}
_SUFFIX = {"VERTEX": "vertex", "FACE": "face", "COLOR": "color", "1": "vertex", "2": "face", "3": "color"}
_SPELLING = {"vertex": "VERTEX", "face": "FACE", "color": "COLOR"}
_PLURAL = {"vertex": "vertices", "face": "faces", "color": "colors"}
ALL_PARTS = 0b1110  # the bitmask TensorBoard assumes when `components` is 0
_INT32_MAX = np.iinfo(np.int32).max


class MalformedMesh(ValueError):
    """A mesh value that cannot be read; the message is a sentence for the health report."""


@dataclass(frozen=True, slots=True)
class MeshInfo:
    """What a part's metadata says: the mesh it belongs to, which part, the scene config."""

    name: str
    part: str  # vertex | face | color
    config: str | None  # the writer's json_config text (three.js scene settings), unparsed
    components: int  # bitmask of the parts written together (1 << content_type)


def split_tag(tag: str) -> tuple[str, str] | None:
    """(mesh name, part) from a stored or written tag, or None without a known suffix."""
    name, sep, suffix = tag.rpartition("_")
    part = _SUFFIX.get(suffix)
    return (name, part) if sep and part else None


def mesh_name(tag: str) -> str:
    """The mesh a stored series belongs to (stored tags always carry a suffix)."""
    found = split_tag(tag)
    return found[0] if found else tag


def stored_tag(name: str, part: str) -> str:
    return f"{name}_{_SPELLING[part]}"


def parse_info(content: bytes, tag: str) -> MeshInfo:
    """A part's `MeshPluginData`; the tag's suffix stands in for an UNDEFINED content type."""
    try:
        data = plugin_data_pb2.MeshPluginData.FromString(content)
    except ProtobufError:
        raise MalformedMesh(f"Mesh tag {tag!r}: the metadata is not a MeshPluginData message.") from None
    part = PARTS.get(data.content_type)
    from_tag = split_tag(tag)
    if part is None:
        if from_tag is None:
            raise MalformedMesh(f"Mesh tag {tag!r}: content type {data.content_type} is not "
                                "VERTEX, FACE or COLOR and the tag has no part suffix.")
        part = from_tag[1]
    name = data.name or (from_tag[0] if from_tag else tag)
    return MeshInfo(name, part, data.json_config or None, data.components or ALL_PARTS)


def info_from_tag(tag: str) -> MeshInfo:
    """For a value of a known mesh tag that came without metadata (TF2 writes it once)."""
    found = split_tag(tag)
    if found is None:
        raise MalformedMesh(f"Mesh tag {tag!r} has no metadata and no part suffix.")
    return MeshInfo(found[0], found[1], None, ALL_PARTS)


def normalize(arr: np.ndarray, part: str, where: str) -> np.ndarray:
    """The part as [batch, N, 3] of its dtype (vertices float32, faces int32, colors uint8)."""
    if arr.dtype.kind not in "biuf":
        raise MalformedMesh(f"{where}: the {_PLURAL[part]} are {arr.dtype}, not numbers.")
    shape = list(arr.shape)
    if arr.ndim == 2:  # one unbatched mesh
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise MalformedMesh(f"{where}: the {_PLURAL[part]} have shape {shape}, not [batch, N, 3].")
    if part == "vertex":
        return arr.astype(np.float32)
    if part == "face":
        if arr.dtype.kind == "f":
            if not np.isfinite(arr).all() or (arr != np.floor(arr)).any():
                raise MalformedMesh(f"{where}: face indices are not whole numbers.")
        if arr.size and (arr.min() < 0 or arr.max() > _INT32_MAX):
            raise MalformedMesh(f"{where}: face indices lie outside [0, {_INT32_MAX}].")
        return arr.astype(np.int32)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise MalformedMesh(f"{where}: colors hold NaN or infinite values.")
        arr = np.rint(arr)
    return np.clip(arr, 0, 255).astype(np.uint8)


class MeshDecoder:
    """Per file: the metadata of each mesh tag, which TF2 writers send only once."""

    def __init__(self) -> None:
        self.infos: dict[str, MeshInfo] = {}

    def record(self, value: Any, step: int, wall_time: float) -> TensorRecord:
        """The `Summary.Value` (a tensor of plugin "mesh") as a record; raises MalformedMesh."""
        tag = value.tag
        content = value.metadata.plugin_data.content if value.HasField("metadata") else b""
        if content:
            info = self.infos[tag] = parse_info(content, tag)
        else:
            info = self.infos.get(tag) or info_from_tag(tag)
        where = f"Mesh {info.name!r} at step {step}"
        try:
            arr = tensors.tensor_proto_to_numpy(value.tensor)
        except ValueError as err:
            raise MalformedMesh(f"{where}: the {_PLURAL[info.part]} tensor is unreadable ({err})") from None
        arr = normalize(arr, info.part, where)
        meta = {"name": info.name, "part": info.part, "config": info.config,
                "components": info.components, "shape": list(arr.shape)}
        return TensorRecord(KIND, stored_tag(info.name, info.part), step, wall_time, arr, meta=meta)
