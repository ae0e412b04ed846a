"""Readers for the formats that are re-read whole whenever they change.

Each reader turns one file (plus, for a TensorBoard projector config, the files it names) into a
complete `Batch`: the store replaces everything the file produced before, so a reader never
returns a partial view on purpose. Bad content raises `FormatError` (a `ValueError`) with a
sentence saying what is wrong; OS errors on the file itself propagate as `OSError`. An empty file
is a writer caught between truncate and write: it yields an empty batch, not an error.

Decisions worth knowing:
- OneFlow projector files: `MetaData.type` says embedding or exception; without metadata a
  `gradit` in the file name means exception. Embedding values are reshaped to (N, D); exception
  values keep their shape. The file's `Sample` goes to the projector whose tag equals
  `Sample.name`, or to every embedding when no tag matches.
- TensorBoard projector (`projector_config.pbtxt`): PyTorch and tensorboardX store embeddings
  under `<step:05d>/<quoted tag>/` and name the tensor `<tag>:<step:05d>`; that layout gives
  tag and step. Anything else gives tag = `tensor_name` (or the tensor file's stem), step 0.
  Values are stored as float32, TensorBoard's own precision. Metadata: one column needs no
  header (a header is recognised by the row count); several columns need one, the first column
  becomes the labels, and the whole table goes to `extras["metadata"]` (str, (N, K)) with the
  column names in `meta["metadata_columns"]`. A sprite is sliced into per-point images
  (`extras["sample"]`, uint8 (N, H, W, C), `meta["sample_type"] = "image"`) with Pillow; without
  Pillow, the PNG bytes go to `extras["sprite"]` and `meta["sprite_dim"] = [W, H]`. Paths that
  leave the config's directory (spelled), files that resolve outside the logdir (symlinks
  followed: `formats.paths`), and embeddings whose files are missing or bad, are skipped,
  counted in `Batch.skipped` and named with the reason in `Batch.problems`; (tag, step)
  duplicates keep the last entry. Entries with a `tensor_name` and no `tensor_path` are read
  from the run's TensorFlow checkpoint (`formats.projector_checkpoint`, which says which).
  `whole_file_stamp` makes a new checkpoint or a rewritten TSV beside the config re-read it.
- JSON model graphs (TS-VIS writer, OneFlow `structure_graph.json`) are checked for a
  Keras-like shape and stored raw as `GraphRecord("json_model", <file stem>, bytes)`.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

import numpy as np
from google.protobuf import message as pb_message
from google.protobuf import text_format

from tsvis_live.formats.detect import LogFile
from tsvis_live.formats.paths import read_contained
from tsvis_live.formats.projector_checkpoint import CheckpointSource, companions, tensor_key
from tsvis_live.formats.protos import oneflow as of
from tsvis_live.records import Batch, GraphRecord, TensorRecord

log = logging.getLogger(__name__)

_NUMPY_KINDS = set("biufcSU")
_STEP_LAYOUT = re.compile(r"^(\d+)/([^/]+)/[^/]+$")


class FormatError(ValueError):
    """A whole-file log holds content that cannot be decoded."""


def read_whole_file(logfile: LogFile) -> Batch:
    """Decode a non-event log file completely."""
    if logfile.format not in _READERS:
        raise FormatError(f"Format {logfile.format!r} is not read as a whole file.")
    data, _st = read_contained(logfile.path, logfile.logdir)
    return decode_whole_file(data, logfile)


def decode_whole_file(data: bytes, logfile: LogFile) -> Batch:
    """Decode a whole-file log's bytes, read by the caller (a remote logdir's range reads)."""
    reader = _READERS.get(logfile.format)
    if reader is None:
        raise FormatError(f"Format {logfile.format!r} is not read as a whole file.")
    if not data or data.isspace():
        return Batch()
    return reader(data, logfile)


# ---------------------------------------------------------------- OneFlow projector files


def _oneflow_tensor(tensor: Any, what: str) -> np.ndarray:
    """OneFlow `Tensor` (numpy dtype name, shape, raw C-order bytes) to an ndarray."""
    try:
        dtype = np.dtype(tensor.dtype)
    except (TypeError, ValueError, SyntaxError) as err:
        raise FormatError(f"The {what} tensor has dtype {tensor.dtype!r}, not a numpy dtype.") from err
    if dtype.kind not in _NUMPY_KINDS or dtype.fields is not None or dtype.itemsize == 0:
        raise FormatError(f"The {what} tensor has dtype {tensor.dtype!r}, not a plain type.")
    shape = tuple(d.size for d in tensor.shape.dim)
    if any(s < 0 for s in shape):
        raise FormatError(f"The {what} tensor has a negative dimension in {list(shape)}.")
    expected = math.prod(shape) * dtype.itemsize
    if len(tensor.content) != expected:
        raise FormatError(
            f"The {what} tensor holds {len(tensor.content)} bytes but dtype {dtype} and shape "
            f"{list(shape)} need {expected}."
        )
    return np.frombuffer(tensor.content, dtype=dtype).reshape(shape)


def _read_oneflow_projector(data: bytes, logfile: LogFile) -> Batch:
    try:
        msg = of.SummaryProjector.FromString(data)
    except (pb_message.Error, RuntimeError, ValueError) as err:
        raise FormatError(f"{logfile.path.name} is not a OneFlow SummaryProjector message.") from err
    if not msg.projector:
        raise FormatError(f"{logfile.path.name} holds no projector entry.")
    if msg.HasField("metadata"):
        exception = msg.metadata.type == of.EXCEPTION
    else:
        exception = "gradit" in logfile.path.name
    sample: np.ndarray | None = None
    if msg.HasField("sample") and msg.sample.HasField("X"):
        sample = _oneflow_tensor(msg.sample.X, "sample")
    batch = Batch()
    records: list[TensorRecord] = []
    for p in msg.projector:
        if not p.HasField("value"):
            raise FormatError(f"Projector {p.tag!r} in {logfile.path.name} has no value tensor.")
        value = _oneflow_tensor(p.value, f"{p.tag!r} value")
        rec = TensorRecord("exception" if exception else "embedding", p.tag, p.step, p.WALL_TIME, value)
        if not exception:
            if value.ndim == 0:
                raise FormatError(f"Embedding {p.tag!r} is a scalar, not a set of points.")
            rec.value = value.reshape(value.shape[0], math.prod(value.shape[1:]))
            if p.HasField("label"):
                labels = _oneflow_tensor(p.label, f"{p.tag!r} label").reshape(-1)
                if labels.shape[0] != value.shape[0]:
                    raise FormatError(
                        f"Embedding {p.tag!r} has {labels.shape[0]} labels for {value.shape[0]} points."
                    )
                rec.extras["labels"] = labels
        records.append(rec)
    if sample is not None:
        embeddings = [r for r in records if r.kind == "embedding"]
        owners = [r for r in embeddings if r.tag == msg.sample.name] or embeddings
        for rec in owners:
            rec.extras["sample"] = sample
            rec.meta["sample_type"] = of.SAMPLE_TYPES.get(msg.sample.type, "image")
    batch.tensors.extend(records)
    batch.events = len(records)
    return batch


# ---------------------------------------------------------------- TensorBoard projector


def _inside_dir(base: Path, relative: str) -> Path | None:
    """`base/relative` when it stays within `base` (no absolute paths, no `..` escapes)."""
    if not relative or os.path.isabs(relative):
        return None
    joined = os.path.normpath(os.path.join(base, relative))
    if os.path.commonpath([joined, os.path.normpath(base)]) != os.path.normpath(base):
        return None
    return Path(joined)


def _tag_and_step(emb: Any) -> tuple[str, int]:
    posix = PurePosixPath(emb.tensor_path.replace("\\", "/")).as_posix()
    match = _STEP_LAYOUT.match(posix)
    if match:
        step_text, quoted_tag = match.groups()
        suffix = f":{step_text}"
        if emb.tensor_name.endswith(suffix) and len(emb.tensor_name) > len(suffix):
            return emb.tensor_name[: -len(suffix)], int(step_text)
        return unquote(quoted_tag), int(step_text)
    return emb.tensor_name or PurePosixPath(posix).stem, 0


def _parse_tensor_tsv(data: bytes, name: str) -> np.ndarray:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FormatError(f"{name} is not UTF-8 text.") from err
    lines = [line for line in text.replace("\r", "").split("\n") if line.strip()]
    if not lines:
        raise FormatError(f"{name} holds no rows.")
    width = len(lines[0].split())
    try:
        values = np.array(text.split(), dtype=np.float64)
    except ValueError as err:
        raise FormatError(f"{name} holds a value that is not a number.") from err
    if values.size != len(lines) * width:
        raise FormatError(f"{name} has rows of different lengths (the first has {width} values).")
    return values.astype(np.float32).reshape(len(lines), width)


def _parse_metadata_tsv(data: bytes, n: int, name: str) -> tuple[list[str] | None, list[list[str]]]:
    """(header or None, rows) of a TensorBoard metadata file describing `n` points."""
    lines = data.decode("utf-8", errors="replace").replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise FormatError(f"{name} is empty.")
    header: list[str] | None = None
    first = lines[0].split("\t")
    if len(first) > 1 or len(lines) == n + 1:
        header, lines = first, lines[1:]
    if len(lines) != n:
        raise FormatError(f"{name} has {len(lines)} rows for {n} points.")
    width = len(header) if header else 1
    rows = [(line.split("\t") + [""] * width)[:width] for line in lines]
    return header, rows


def _slice_sprite(png: bytes, dim: list[int], n: int, name: str) -> np.ndarray:
    """Cut a row-major sprite sheet into `n` images of `dim` = [width, height]: (N, H, W, C)."""
    from PIL import Image  # imported here: Pillow is needed only for sprites

    with Image.open(io.BytesIO(png)) as img:
        if img.mode not in ("L", "RGB", "RGBA"):
            img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
        sheet = np.asarray(img)
    if sheet.ndim == 2:
        sheet = sheet[:, :, None]
    w, h = dim
    per_row = sheet.shape[1] // w if w > 0 else 0
    rows = math.ceil(n / per_row) if per_row else 0
    if per_row == 0 or h <= 0 or rows * h > sheet.shape[0]:
        raise FormatError(f"{name} ({sheet.shape[1]}x{sheet.shape[0]}) cannot hold {n} images of {w}x{h}.")
    grid = sheet[: rows * h, : per_row * w].reshape(rows, h, per_row, w, sheet.shape[2])
    return np.ascontiguousarray(grid.transpose(0, 2, 1, 3, 4).reshape(rows * per_row, h, w, -1)[:n])


def _tb_embedding(emb: Any, base: Path, logdir: Path) -> TensorRecord:
    tensor_file = _inside_dir(base, emb.tensor_path)
    if tensor_file is None:
        raise FormatError(f"Tensor path {emb.tensor_path!r} leaves the projector's directory.")
    data, st = read_contained(tensor_file, logdir)
    value = _parse_tensor_tsv(data, emb.tensor_path)
    tag, step = _tag_and_step(emb)
    rec = TensorRecord("embedding", tag, step, st.st_mtime, value)
    _describe(rec, emb, base, logdir)
    return rec


def _describe(rec: TensorRecord, emb: Any, base: Path, logdir: Path) -> None:
    """Attach the entry's metadata (labels, columns) and sprite to an embedding record."""
    n = rec.value.shape[0]
    if emb.metadata_path:
        meta_file = _inside_dir(base, emb.metadata_path)
        if meta_file is None:
            raise FormatError(f"Metadata path {emb.metadata_path!r} leaves the projector's directory.")
        header, rows = _parse_metadata_tsv(read_contained(meta_file, logdir)[0], n, emb.metadata_path)
        rec.extras["labels"] = np.array([r[0] for r in rows], dtype=str)
        if header is not None and len(header) > 1:
            rec.extras["metadata"] = np.array(rows, dtype=str).reshape(n, len(header))
            rec.meta["metadata_columns"] = header
        elif header is not None:
            rec.meta["label_name"] = header[0]
    if emb.HasField("sprite") and emb.sprite.image_path:
        _attach_sprite(rec, emb, base, logdir, n)


def _attach_sprite(rec: TensorRecord, emb: Any, base: Path, logdir: Path, n: int) -> None:
    sprite_file = _inside_dir(base, emb.sprite.image_path)
    if sprite_file is None:
        raise FormatError(f"Sprite path {emb.sprite.image_path!r} leaves the projector's directory.")
    dim = list(emb.sprite.single_image_dim)
    if len(dim) != 2:
        raise FormatError(f"Sprite of {rec.tag!r} needs two single_image_dim values, not {dim}.")
    png = read_contained(sprite_file, logdir)[0]
    try:
        rec.extras["sample"] = _slice_sprite(png, dim, n, emb.sprite.image_path)
    except ImportError:
        rec.extras["sprite"] = np.frombuffer(png, dtype=np.uint8)
        rec.meta["sprite_dim"] = dim
    except (OSError, ValueError) as err:  # PIL's UnidentifiedImageError is an OSError
        raise FormatError(f"Sprite {emb.sprite.image_path!r} cannot be decoded: {err}") from err
    rec.meta["sample_type"] = "image"


def _read_tb_projector(data: bytes, logfile: LogFile) -> Batch:
    from tensorboard.plugins.projector import projector_config_pb2

    config = projector_config_pb2.ProjectorConfig()
    try:
        text_format.Parse(data.decode("utf-8"), config)
    except (UnicodeDecodeError, text_format.ParseError) as err:
        raise FormatError(f"{logfile.path.name} is not a projector config in text format: {err}") from err
    batch = Batch()
    base, logdir = logfile.path.parent, logfile.logdir
    found: dict[tuple[str, int], TensorRecord] = {}
    ckpt = CheckpointSource(config, base, logdir)
    special = None  # TensorBoard: an entry naming no tensor stands for every 2-D checkpoint variable

    def failed(name: str, err: Exception) -> None:
        log.info("%s: skipping embedding %r: %s", logfile.path, name, err)
        batch.skipped += 1
        batch.problems.append(f"embedding {name!r} not read: {err}")

    for emb in config.embeddings:
        if not emb.tensor_path and not emb.tensor_name:
            special = special or emb
            continue
        try:
            if emb.tensor_path:
                rec = _tb_embedding(emb, base, logdir)
            else:
                rec = ckpt.record(emb.tensor_name)
                _describe(rec, emb, base, logdir)
        except (OSError, ValueError) as err:  # FormatError and CheckpointError are ValueErrors
            failed(emb.tensor_name or emb.tensor_path, err)
            continue
        found.pop((rec.tag, rec.step), None)
        found[(rec.tag, rec.step)] = rec
    if special is not None or not config.embeddings:
        named = {tensor_key(e.tensor_name) for e in config.embeddings if e.tensor_name}
        try:
            if special is not None:
                ckpt.bundle()  # an entry asked for the checkpoint: say why there is none
            names = ckpt.others(named)
        except (OSError, ValueError) as err:
            failed("(every 2-D checkpoint variable)", err)
            names = []
        for name in names:
            try:
                rec = ckpt.record(name)
            except (OSError, ValueError) as err:
                failed(name, err)
                continue
            if special is not None:
                try:
                    _describe(rec, special, base, logdir)
                except (OSError, ValueError):  # metadata written for other tensors: no labels then
                    rec.extras.clear()
                    rec.meta.clear()
            found.setdefault((rec.tag, rec.step), rec)
    batch.tensors.extend(found.values())
    batch.events = len(found)
    return batch


def whole_file_stamp(logfile: LogFile, st: os.stat_result) -> int:
    """A number that changes when the file or anything its reader also reads may have changed.

    A projector config's tensors, metadata and checkpoints change without the config itself
    changing (a training job saves a new checkpoint): the newest modification time of the
    files the config names and of the `checkpoint` state files it follows counts too.
    """
    stamp = st.st_mtime_ns
    if logfile.format != "tb_projector":
        return stamp
    from tensorboard.plugins.projector import projector_config_pb2

    config = projector_config_pb2.ProjectorConfig()
    try:
        text_format.Parse(read_contained(logfile.path, logfile.logdir)[0].decode("utf-8"), config)
    except (OSError, UnicodeDecodeError, text_format.ParseError):
        return stamp  # reading it will say what is wrong
    for path in companions(config, logfile.path.parent, logfile.logdir):
        try:
            stamp = max(stamp, os.stat(path).st_mtime_ns)
        except OSError:
            continue
    return stamp


# ---------------------------------------------------------------- JSON model graphs


def _read_json_model(data: bytes, logfile: LogFile) -> Batch:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise FormatError(f"{logfile.path.name} is not valid JSON.") from err
    models = obj if isinstance(obj, list) else [obj]
    if not models or not all(
        isinstance(m, dict) and "class_name" in m and isinstance(m.get("config"), (dict, list))
        for m in models
    ):
        raise FormatError(f"{logfile.path.name} is not a model graph (class_name and config).")
    batch = Batch()
    batch.graphs.append(GraphRecord("json_model", logfile.path.stem, data))
    batch.events = 1
    return batch


_READERS = {
    "oneflow_projector": _read_oneflow_projector,
    "tb_projector": _read_tb_projector,
    "oneflow_graph": _read_json_model,
    "json_model": _read_json_model,
}
