"""TensorFlow checkpoints (tensor bundles) read without TensorFlow, for projector embeddings.

TensorBoard's projector shows variables of a run's checkpoint (`projector_config.pbtxt` names
them by `tensor_name`); it needs TensorFlow for that. The format is small enough to read
directly (TensorFlow's `core/util/tensor_bundle/tensor_bundle.h`, `core/lib/io/format.h`,
`table.cc`, `block.cc`, and LevelDB's table format, which they follow):

- `<prefix>.index` is an immutable string table. Its last 48 bytes are the footer: two block
  handles (metaindex, index; each two varint64s: offset and size), zero padding to 40 bytes,
  and the magic number 0xdb4775248b80fb57 (fixed64, little-endian). Every block is followed
  by a 5-byte trailer: the compression type (0: none; TensorFlow writes bundle indexes
  uncompressed) and the masked CRC-32C of the block plus that type byte. A block holds entries
  `varint32 shared | varint32 unshared | varint32 value length | key suffix | value`, each key
  sharing `shared` leading bytes with the previous one, then a uint32 array of restart offsets
  and its uint32 length. The index block maps the last key of each data block to its handle.
- The key "" holds a `BundleHeaderProto` (shard count, endianness); every other key is a
  tensor name whose value is a `BundleEntryProto`: dtype, shape, shard, offset, size and the
  masked CRC-32C of the bytes in `<prefix>.data-<shard:05d>-of-<shards:05d>`.
- A `checkpoint` text file (`CheckpointState`) beside the bundles names the newest prefix;
  relative paths are relative to its directory (TensorFlow's `latest_checkpoint`).

Only what embeddings need is read: numeric tensors, whole (partitioned variables, stored as
slices, are refused with a sentence). Every problem raises `CheckpointError` naming the file
and the reason; files are opened through `formats.paths`, so nothing outside the logdir is read.
"""

from __future__ import annotations

import math
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from google.protobuf.message import Error as ProtobufError

from tsvis_live.formats.paths import is_within, open_contained, read_contained, real_root
from tsvis_live.formats.protos import bundle as pb
from tsvis_live.formats.tfrecord import masked_crc32c

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
TRAILER_SIZE = 5
STATE_FILE = "checkpoint"
MAX_INDEX_BYTES = 256 << 20  # an index this large is not a checkpoint we could use anyway
_STEP = re.compile(r"-(\d+)$")

# DataType enum -> numpy dtype (little-endian); 14 (bfloat16) is widened by hand
_DTYPES: dict[int, str] = {
    1: "<f4", 2: "<f8", 3: "<i4", 4: "u1", 5: "<i2", 6: "i1", 9: "<i8", 10: "?",
    17: "<u2", 19: "<f2", 22: "<u4", 23: "<u8", 8: "<c8", 18: "<c16",
}
_DTYPE_NAMES = {7: "string", 20: "resource", 21: "variant", 14: "bfloat16"}
DT_BFLOAT16 = 14


class CheckpointError(ValueError):
    """A checkpoint (or one tensor of it) cannot be read; the message says which file and why."""


@dataclass(frozen=True)
class Entry:
    """One tensor of a bundle, as its index describes it."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc: int
    slices: int

    @property
    def type_name(self) -> str:
        if self.dtype in _DTYPES:
            return np.dtype(_DTYPES[self.dtype]).name
        return _DTYPE_NAMES.get(self.dtype, f"DataType {self.dtype}")


def _varint(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    result = shift = 0
    while pos < end and shift < 64:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
    raise CheckpointError(f"{what}: a truncated or overlong varint.")


def _handle(data: bytes, pos: int, end: int, what: str) -> tuple[int, int, int]:
    offset, pos = _varint(data, pos, end, what)
    size, pos = _varint(data, pos, end, what)
    return offset, size, pos


def _block(data: bytes, offset: int, size: int, what: str) -> bytes:
    """The contents of one block, its trailer checked."""
    if offset < 0 or size < 0 or offset + size + TRAILER_SIZE > len(data):
        raise CheckpointError(f"{what}: a block at byte {offset} ({size} bytes) lies past the end of the file.")
    contents = data[offset : offset + size]
    kind = data[offset + size]
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    if masked_crc32c(data[offset : offset + size + 1]) != stored:
        raise CheckpointError(f"{what}: the block at byte {offset} fails its CRC check (the file is corrupt).")
    if kind != 0:
        raise CheckpointError(f"{what}: the block at byte {offset} is compressed (type {kind}); "
                              "TensorFlow writes checkpoint indexes uncompressed, so this is not one.")
    return contents


def _block_entries(block: bytes, what: str) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise CheckpointError(f"{what}: a block of {len(block)} bytes is too short.")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * restarts
    if restarts == 0 or end < 0:
        raise CheckpointError(f"{what}: a block has a bad restart array ({restarts} restarts).")
    out: list[tuple[bytes, bytes]] = []
    key = b""
    pos = 0
    while pos < end:
        shared, pos = _varint(block, pos, end, what)
        unshared, pos = _varint(block, pos, end, what)
        length, pos = _varint(block, pos, end, what)
        if shared > len(key) or pos + unshared + length > end:
            raise CheckpointError(f"{what}: a block entry at byte {pos} overruns its block.")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        out.append((key, block[pos : pos + length]))
        pos += length
    return out


def table_entries(data: bytes, what: str) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of an SSTable, in key order."""
    if len(data) < FOOTER_SIZE:
        raise CheckpointError(f"{what}: {len(data)} bytes is too short for a table (a footer is {FOOTER_SIZE}).")
    foot = len(data) - FOOTER_SIZE
    (magic,) = struct.unpack_from("<Q", data, len(data) - 8)
    if magic != MAGIC:
        raise CheckpointError(f"{what}: not a TensorFlow checkpoint index (no table magic number at its end).")
    _meta_off, _meta_size, pos = _handle(data, foot, len(data) - 8, what)
    index_off, index_size, _ = _handle(data, pos, len(data) - 8, what)
    out: list[tuple[bytes, bytes]] = []
    for _last_key, handle in _block_entries(_block(data, index_off, index_size, what), what):
        offset, size, _ = _handle(handle, 0, len(handle), what)
        out.extend(_block_entries(_block(data, offset, size, what), what))
    return out


def _entry(name: str, value: bytes, what: str) -> Entry:
    try:
        proto = pb.BundleEntryProto.FromString(value)
    except ProtobufError as err:
        raise CheckpointError(f"{what}: the entry of tensor {name!r} is not a BundleEntryProto.") from err
    shape = tuple(d.size for d in proto.shape.dim)
    return Entry(name, proto.dtype, shape, proto.shard_id, proto.offset, proto.size, proto.crc32c,
                 len(proto.slices))


class Bundle:
    """The index of one checkpoint (`prefix.index`); tensors are read on demand."""

    def __init__(self, prefix: Path, root: Path) -> None:
        self.prefix, self.root = Path(prefix), Path(root)
        index = self.prefix.with_name(self.prefix.name + ".index")
        what = index.name
        try:
            with open_contained(index, root) as fh:
                data = fh.read(MAX_INDEX_BYTES + 1)
        except FileNotFoundError:
            raise CheckpointError(f"checkpoint {self.prefix.name}: its index {what} does not exist.") from None
        except OSError as err:
            raise CheckpointError(f"checkpoint {self.prefix.name}: {what} cannot be read ({err}).") from None
        if len(data) > MAX_INDEX_BYTES:
            raise CheckpointError(f"{what}: larger than {MAX_INDEX_BYTES >> 20} MiB; not read.")
        self.num_shards, self.big_endian = 1, False
        self.entries: dict[str, Entry] = {}
        for key, value in table_entries(data, what):
            if key == b"":
                try:
                    header = pb.BundleHeaderProto.FromString(value)
                except ProtobufError as err:
                    raise CheckpointError(f"{what}: the header is not a BundleHeaderProto.") from err
                self.num_shards, self.big_endian = max(1, header.num_shards), header.endianness == 1
                continue
            name = key.decode("utf-8", "replace")
            self.entries[name] = _entry(name, value, what)

    def data_file(self, shard: int) -> Path:
        return self.prefix.with_name(f"{self.prefix.name}.data-{shard:05d}-of-{self.num_shards:05d}")

    def read(self, name: str, max_bytes: int) -> np.ndarray:
        """The tensor `name` as a numpy array (bfloat16 widened to float32), its CRC checked."""
        entry = self.entries.get(name)
        if entry is None:
            raise CheckpointError(f"checkpoint {self.prefix.name} has no tensor {name!r}.")
        if entry.slices:
            raise CheckpointError(f"tensor {name!r} of checkpoint {self.prefix.name} is a partitioned "
                                  f"variable ({entry.slices} slices); not supported.")
        if entry.dtype not in _DTYPES and entry.dtype != DT_BFLOAT16:
            raise CheckpointError(f"tensor {name!r} of checkpoint {self.prefix.name} holds {entry.type_name} "
                                  "values, not numbers.")
        itemsize = 2 if entry.dtype == DT_BFLOAT16 else np.dtype(_DTYPES[entry.dtype]).itemsize
        count = math.prod(entry.shape)
        if any(d < 0 for d in entry.shape) or entry.size != count * itemsize:
            raise CheckpointError(f"tensor {name!r} of checkpoint {self.prefix.name}: shape {list(entry.shape)} "
                                  f"of {entry.type_name} does not match its {entry.size} bytes.")
        if entry.size > max_bytes:
            raise CheckpointError(f"tensor {name!r} of checkpoint {self.prefix.name} is {entry.size >> 20} MiB, "
                                  f"over the {max_bytes >> 20} MiB limit for an embedding; not read.")
        path = self.data_file(entry.shard)
        try:
            with open_contained(path, self.root) as fh:
                fh.seek(entry.offset)
                raw = fh.read(entry.size)
        except FileNotFoundError:
            raise CheckpointError(f"checkpoint {self.prefix.name}: its data file {path.name} does not exist.") from None
        except OSError as err:
            raise CheckpointError(f"checkpoint {self.prefix.name}: {path.name} cannot be read ({err}).") from None
        if len(raw) != entry.size:
            raise CheckpointError(f"{path.name} ends before tensor {name!r} (needs bytes {entry.offset}-"
                                  f"{entry.offset + entry.size}); the checkpoint is incomplete.")
        if masked_crc32c(raw) != entry.crc:
            raise CheckpointError(f"tensor {name!r} in {path.name} fails its CRC check (the file is corrupt).")
        if entry.dtype == DT_BFLOAT16:
            bits = np.frombuffer(raw, dtype=">u2" if self.big_endian else "<u2").astype(np.uint32)
            return (bits << 16).view(np.float32).reshape(entry.shape)
        dtype = np.dtype(_DTYPES[entry.dtype])
        if self.big_endian:
            dtype = dtype.newbyteorder(">")
        return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("=")).reshape(entry.shape)


def latest_checkpoint(directory: Path, root: Path) -> Path | None:
    """The prefix the `checkpoint` state file in `directory` names, None without that file.

    Paths are resolved by `resolve_prefix`. Raises `CheckpointError` when the state file is
    unreadable.
    """
    state_path = Path(directory) / STATE_FILE
    try:
        data, _st = read_contained(state_path, root)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise CheckpointError(f"{STATE_FILE} cannot be read ({err}).") from None
    state = pb.CheckpointState()
    try:
        text_format.Parse(data.decode("utf-8"), state, allow_unknown_field=True)
    except (UnicodeDecodeError, text_format.ParseError) as err:
        raise CheckpointError(f"{STATE_FILE} is not a checkpoint state file: {err}") from None
    if not state.model_checkpoint_path:
        raise CheckpointError(f"{STATE_FILE} names no model_checkpoint_path.")
    return resolve_prefix(state.model_checkpoint_path, Path(directory), root)


def resolve_prefix(spelled: str, directory: Path, root: Path) -> Path:
    """A checkpoint prefix as written in a config or state file, made a path: relative to
    `directory`; an absolute one that is not inside the logdir `root` (a logdir moved or
    mounted elsewhere since) is looked for by its file name in `directory`."""
    path = Path(spelled)
    if not path.is_absolute():
        return Path(os.path.normpath(directory / path))
    index = path.with_name(path.name + ".index")
    if not index.exists() or not is_within(os.path.realpath(index), real_root(root)):
        return directory / path.name
    return path


def checkpoint_step(prefix: Path) -> int:
    """The number a checkpoint prefix ends with (`ckpt-3`, `model.ckpt-1000`), else 0."""
    match = _STEP.search(Path(prefix).name)
    return int(match.group(1)) if match else 0
