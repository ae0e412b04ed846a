"""Decode one TFRecord payload (a serialized `Event`) into records of a `Batch`.

Parsing uses TensorBoard's `Event` (upb, fast); scalars take a short path because they are
the bulk of all data. The TS-VIS writer reuses `Summary.Value` field 7 for its `projector`
message, which TensorBoard declares as the string `node_name`: a projector whose bytes are not
UTF-8 makes TensorBoard's parse fail, so such events are re-parsed with the TS-VIS messages.

Choices the spec leaves open (see also `EventDecoder.decode`):
- `batch.plugins` gets the plugin of every newly seen tag: the metadata's plugin name (TS-VIS
  "audios" is normalized to "audio"), or the implied plugin of a legacy value ("scalars",
  "histograms", "images", "audio"). Values of unknown plugins are ignored.
- Legacy histograms follow TensorBoard's `data_compat`: empty buckets at both ends are dropped,
  then the outer edges become `min` and `max`; all edges are clamped to [min, max]. The tensor
  form has no sum/sum_squares: both are estimated from bucket midpoints.
- hparams: a session start yields one `HparamsRecord`; a TensorBoard `Experiment` yields a
  record (group "default", no hparams) whose metrics are its declared metric tags mapped to
  None; a session end yields nothing (status and end time have no place in the contract).
- Mesh values (plugin "mesh") become one "mesh" tensor record per part, stored under
  `<name>_VERTEX|FACE|COLOR` (see `formats.meshes`). A malformed one is skipped like any bad
  value, and its reason goes to `batch.problems`, which the ingester reports in the health.
- A TS-VIS sample-only embedding (`add_embedding_sample`) yields an embedding record with an
  empty (0, 0) value, the sample in `extras["sample"]` and `meta["sample_only"] = True`.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
from google.protobuf import json_format
from google.protobuf.message import Error as ProtobufError
from tensorboard.compat.proto import event_pb2, meta_graph_pb2, summary_pb2
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import api_pb2

from tsvis_live.formats import meshes, tensors
from tsvis_live.formats.protos import tsvis as tsvis_pb
from tsvis_live.records import (
    Batch,
    BlobRecord,
    GraphRecord,
    HistogramRecord,
    HparamsRecord,
    TensorRecord,
)

RUN_GRAPH_TAG = "__run_graph__"
DEFAULT_GROUP = "default"
_ALIASES = {"audios": "audio"}
_IMPLIED = {"simple_value": "scalars", "histo": "histograms", "image": "images", "audio": "audio"}
_RUN_METADATA_PLUGINS = {
    "graph_run_metadata",
    "graph_run_metadata_graph",
    "graph_tagged_run_metadata",
}
# what decoding a malformed value may raise; anything else would be a bug of ours
_BAD_VALUE = (ValueError, TypeError, OverflowError, IndexError, KeyError, ProtobufError)
_parse_event = event_pb2.Event.FromString
MAX_PROBLEMS = 20  # reasons kept per batch for the health report (values past it are only counted)


class DecodeError(ValueError):
    """The record is not a decodable Event; the caller counts it as skipped."""


class EventDecoder:
    """Stateful per file: remembers each tag's plugin, since metadata only comes once."""

    def __init__(self, known_plugins: dict[str, str] | None = None) -> None:
        self.plugins: dict[str, str] = dict(known_plugins or {})
        self.meshes = meshes.MeshDecoder()

    def decode(self, data: bytes, batch: Batch) -> None:
        """Append the points of one Event to `batch` and count it in `batch.events`.

        Raises `DecodeError` when `data` is not a parseable Event, or when one of its values has
        a malformed payload (the event's other values are still appended then).
        """
        try:
            event = _parse_event(data)
        except Exception:  # upb raises DecodeError; anything from garbage means the same
            event = None
        if event is None:
            bad = self._decode_tsvis(data, batch)
        elif event.HasField("summary"):  # inlined: scalars are the bulk, calls cost ~20%
            step, wall_time, bad = event.step, event.wall_time, 0
            plugins, scalars = self.plugins, batch.scalars
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    tag, x = value.tag, value.simple_value
                    if plugins.get(tag) != "scalars":
                        self._note(tag, "scalars", batch)
                elif (
                    kind != "tensor"
                    or plugins.get(tag := value.tag) != "scalars"
                    or (x := _fast_scalar(value)) is None
                ):
                    try:
                        self._value(value, kind, step, wall_time, batch)
                    except _BAD_VALUE as err:
                        bad += 1
                        _problem(err, batch)
                    continue
                cols = scalars.get(tag)
                if cols is None:
                    batch.scalar(tag, step, wall_time, x)
                else:
                    cols.steps.append(step)
                    cols.wall_times.append(wall_time)
                    cols.values.append(x)
        else:
            what = event.WhichOneof("what")
            bad = self._decode_other(event, what, batch) if what else 0
        if bad:
            raise DecodeError(f"The event holds {bad} value(s) with a malformed payload.")
        batch.events += 1

    def _note(self, tag: str, plugin: str, batch: Batch) -> None:
        self.plugins[tag] = plugin
        batch.plugins[tag] = plugin

    def _plugin(self, value: Any, kind: str | None, batch: Batch) -> str | None:
        tag = value.tag
        name = value.metadata.plugin_data.plugin_name if value.HasField("metadata") else ""
        name = _ALIASES.get(name, name) or _IMPLIED.get(kind or "") or self.plugins.get(tag)
        if name and self.plugins.get(tag) != name:
            self._note(tag, name, batch)
        return name

    def _value(
        self, value: Any, kind: str | None, step: int, wall_time: float, batch: Batch
    ) -> None:
        plugin = self._plugin(value, kind, batch)
        tag = value.tag
        if plugin == "hparams":  # the payload is the metadata; the value is empty or a null tensor
            batch.hparams.extend(hparams_records(value.metadata.plugin_data.content))
        elif kind == "tensor" and plugin == meshes.PLUGIN:
            rec = self.meshes.record(value, step, wall_time)
            if self.plugins.get(rec.tag) != meshes.PLUGIN:  # tensorboardX's m_1 is stored as m_VERTEX
                self._note(rec.tag, meshes.PLUGIN, batch)
            batch.tensors.append(rec)
        elif kind == "tensor":
            self._tensor(value.tensor, plugin, tag, step, wall_time, batch)
        elif kind == "histo":
            batch.histograms.append(legacy_histogram(value.histo, tag, step, wall_time))
        elif kind == "image":
            img = value.image
            meta = {"width": img.width, "height": img.height}
            batch.blobs.append(
                BlobRecord("image", tag, step, wall_time, 0, img.encoded_image_string, meta)
            )
        elif kind == "audio":
            au = value.audio
            meta = {"sample_rate": au.sample_rate, "num_channels": au.num_channels,
                    "length_frames": au.length_frames, "content_type": au.content_type}
            batch.blobs.append(
                BlobRecord("audio", tag, step, wall_time, 0, au.encoded_audio_string, meta)
            )
        elif kind is None and value.node_name:  # a TS-VIS projector that happened to be UTF-8
            proj = tsvis_pb.Projector.FromString(value.node_name.encode("utf-8"))
            batch.tensors.extend(projector_records(proj, tag, step, wall_time))

    def _tensor(
        self, proto: Any, plugin: str | None, tag: str, step: int, wall_time: float, batch: Batch
    ) -> None:
        if plugin == "scalars" or not plugin:
            arr = tensors.tensor_proto_to_numpy(proto)
            if arr.size == 1 and arr.dtype.kind in "biuf" and (plugin or arr.ndim == 0):
                if not plugin:
                    self._note(tag, "scalars", batch)
                batch.scalar(tag, step, wall_time, float(arr.reshape(())))
            elif plugin:
                raise ValueError(f"Scalar tensor of tag {tag!r} has shape {arr.shape}.")
            return
        if plugin == "custom_scalars" or tag == "custom_scalars__config__":
            layout = layout_pb2.Layout.FromString(_one_string(proto))
            batch.layouts.append(
                json_format.MessageToDict(layout, preserving_proto_field_name=True)
            )
        elif plugin == "histograms":
            batch.histograms.append(
                tensor_histogram(tensors.tensor_proto_to_numpy(proto), tag, step, wall_time)
            )
        elif plugin == "images":
            batch.blobs.extend(_images(tensors.tensor_proto_to_numpy(proto), tag, step, wall_time))
        elif plugin == "audio":
            batch.blobs.extend(_audio(tensors.tensor_proto_to_numpy(proto), tag, step, wall_time))
        elif plugin == "text":
            arr = _strings(tensors.tensor_proto_to_numpy(proto))
            texts = [s.decode("utf-8", "replace") for s in arr.reshape(-1)]
            data = json.dumps(texts, ensure_ascii=False).encode("utf-8")
            batch.blobs.append(
                BlobRecord("text", tag, step, wall_time, 0, data, {"shape": list(arr.shape)})
            )
        elif plugin == "pr_curves":
            arr = tensors.tensor_proto_to_numpy(proto)
            if arr.ndim != 2 or arr.shape[0] != 6 or arr.dtype.kind != "f":
                raise ValueError(
                    f"PR curve of tag {tag!r} has shape {arr.shape}, not [6, thresholds]."
                )
            batch.tensors.append(TensorRecord("pr_curve", tag, step, wall_time, arr))
        elif plugin in _RUN_METADATA_PLUGINS:
            batch.graphs.append(GraphRecord("run_metadata", tag, _one_string(proto)))
        elif plugin == "graph_keras_model":
            batch.graphs.append(GraphRecord("json_model", tag, _one_string(proto)))

    def _decode_tsvis(self, data: bytes, batch: Batch) -> int:
        """Fallback for events TensorBoard's proto rejects: TS-VIS projector values."""
        try:
            event = tsvis_pb.Event.FromString(data)
        except Exception as err:
            raise DecodeError(f"The record is not a parseable Event ({err}).") from None
        step, wall_time, bad = event.step, event.wall_time, 0
        for value in event.summary.value:
            try:
                if value.HasField("projector"):
                    plugin = value.metadata.plugin_data.plugin_name
                    if plugin and self.plugins.get(value.tag) != plugin:
                        self._note(value.tag, plugin, batch)
                    proj = value.projector
                    batch.tensors.extend(projector_records(proj, value.tag, step, wall_time))
                else:  # anything else: hand the value, unknown fields and all, to TensorBoard's
                    tb_value = summary_pb2.Summary.Value.FromString(value.SerializeToString())
                    self._value(tb_value, tb_value.WhichOneof("value"), step, wall_time, batch)
            except _BAD_VALUE as err:
                bad += 1
                _problem(err, batch)
        if not event.HasField("summary") or not event.summary.value:
            raise DecodeError("The record is neither a TensorBoard nor a TS-VIS Event.")
        return bad

    def _decode_other(self, event: Any, what: str, batch: Batch) -> int:
        if what == "graph_def":
            batch.graphs.append(GraphRecord("graphdef", RUN_GRAPH_TAG, event.graph_def))
        elif what == "tagged_run_metadata":
            trm = event.tagged_run_metadata
            batch.graphs.append(GraphRecord("run_metadata", trm.tag, trm.run_metadata))
        elif what == "meta_graph_def":
            try:
                meta = meta_graph_pb2.MetaGraphDef.FromString(event.meta_graph_def)
            except ProtobufError:
                return 1
            if meta.HasField("graph_def"):
                batch.graphs.append(
                    GraphRecord("graphdef", RUN_GRAPH_TAG, meta.graph_def.SerializeToString())
                )
        return 0


def _problem(err: Exception, batch: Batch) -> None:
    """Keep why a value was skipped when it says so in a sentence (`MalformedMesh`): the
    ingester reports it in the session's health; other malformed values are only counted."""
    if isinstance(err, meshes.MalformedMesh) and len(batch.problems) < MAX_PROBLEMS:
        batch.problems.append(str(err))


def _fast_scalar(value: Any) -> float | None:
    """The number in a plain rank-0 float/double tensor, else None (then the slow path runs)."""
    if value.metadata.plugin_data.plugin_name not in ("", "scalars"):
        return None
    t = value.tensor
    if t.tensor_content or t.tensor_shape.dim or t.dtype not in (1, 2):  # DT_FLOAT, DT_DOUBLE
        return None
    vals = t.float_val if t.dtype == 1 else t.double_val
    return vals[0] if len(vals) == 1 else None


def _strings(arr: np.ndarray) -> np.ndarray:
    if arr.dtype != object:
        raise ValueError(f"Expected a string tensor, got {arr.dtype}.")
    return arr


def _one_string(proto: Any) -> bytes:
    arr = _strings(tensors.tensor_proto_to_numpy(proto))
    if arr.size != 1:
        raise ValueError(f"Expected a single string, got shape {arr.shape}.")
    return bytes(arr.reshape(-1)[0])


def legacy_histogram(histo: Any, tag: str, step: int, wall_time: float) -> HistogramRecord:
    """HistogramProto -> (k, 3) buckets the way TensorBoard's data_compat migrates them.

    Filled in place rather than built from concatenations: it runs once per histogram event.
    """
    counts = np.fromiter(histo.bucket, dtype=np.float64, count=len(histo.bucket))
    limits = np.fromiter(histo.bucket_limit, dtype=np.float64, count=len(histo.bucket_limit))
    if len(counts) != len(limits):
        raise ValueError(f"Histogram has {len(counts)} counts but {len(limits)} bucket limits.")
    nonzero = np.flatnonzero(counts > 0)
    lo, hi = histo.min, histo.max
    if nonzero.size == 0:
        buckets = np.zeros((0, 3), dtype=np.float64)
    else:
        start, end = int(nonzero[0]), int(nonzero[-1])
        buckets = np.empty((end - start + 1, 3), dtype=np.float64)
        buckets[0, 0] = lo  # left edges: [min] + inner limits; right edges: inner + [max]
        buckets[1:, 0] = limits[start:end]
        buckets[:-1, 1] = limits[start:end]
        buckets[-1, 1] = hi
        buckets[:, 2] = counts[start : end + 1]
        if lo <= hi:
            np.clip(buckets[:, :2], lo, hi, out=buckets[:, :2])
    return HistogramRecord(
        tag, step, wall_time, buckets, lo, hi, histo.num, histo.sum, histo.sum_squares
    )


def tensor_histogram(arr: np.ndarray, tag: str, step: int, wall_time: float) -> HistogramRecord:
    """[k, 3] tensor -> record; sum and sum_squares are estimated from bucket midpoints."""
    if arr.dtype.kind not in "biuf" or not (arr.size == 0 or (arr.ndim == 2 and arr.shape[1] == 3)):
        raise ValueError(f"Histogram of tag {tag!r} has shape {arr.shape}, not [k, 3].")
    buckets = arr.astype(np.float64).reshape(-1, 3)
    if len(buckets) == 0:
        return HistogramRecord(tag, step, wall_time, buckets, 0.0, 0.0, 0.0, 0.0, 0.0)
    mid = (buckets[:, 0] + buckets[:, 1]) / 2
    counts = buckets[:, 2]
    return HistogramRecord(
        tag,
        step,
        wall_time,
        buckets,
        float(buckets[0, 0]),
        float(buckets[-1, 1]),
        float(counts.sum()),
        float((mid * counts).sum()),
        float((mid * mid * counts).sum()),
    )


def _images(arr: np.ndarray, tag: str, step: int, wall_time: float) -> list[BlobRecord]:
    flat = _strings(arr).reshape(-1)
    if arr.ndim != 1 or flat.size < 2:
        raise ValueError(f"Image tensor of tag {tag!r} has shape {arr.shape}, not [2 + k].")
    meta = {"width": int(flat[0]), "height": int(flat[1])}
    return [
        BlobRecord("image", tag, step, wall_time, i, bytes(b), dict(meta))
        for i, b in enumerate(flat[2:])
    ]


def _wav_meta(data: bytes) -> dict[str, Any]:
    if data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt " and len(data) >= 28:
        return {"sample_rate": struct.unpack_from("<I", data, 24)[0], "content_type": "audio/wav"}
    return {}


def _audio(arr: np.ndarray, tag: str, step: int, wall_time: float) -> list[BlobRecord]:
    arr = _strings(arr)
    if arr.ndim == 1:
        arr = np.stack([arr, np.full(arr.shape, b"", dtype=object)], axis=1)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"Audio tensor of tag {tag!r} has shape {arr.shape}, not [k, 2].")
    out = []
    for i, (wav, label) in enumerate(arr):
        meta = {"label": bytes(label).decode("utf-8", "replace"), **_wav_meta(bytes(wav))}
        out.append(BlobRecord("audio", tag, step, wall_time, i, bytes(wav), meta))
    return out


def hparams_records(content: bytes) -> list[HparamsRecord]:
    """HParamsPluginData bytes of any variant (TensorBoard, TS-VIS, OneFlow) -> record.

    Field 2 of SessionStartInfo is TensorBoard's `model_uri` string but TS-VIS's metrics map:
    it counts as metrics only when every occurrence parses as a clean map entry.
    """
    data = tsvis_pb.ProbeHParamsPluginData.FromString(content)
    if data.HasField("session_start_info"):
        ssi = data.session_start_info
        hparams = {}
        for entry in ssi.hparams:
            hparams[entry.key.decode("utf-8", "replace")] = tsvis_pb.value_to_python(entry.value)
        metrics = tsvis_pb.value_map(ssi.field2) or {}
        metrics.update(tsvis_pb.value_map(ssi.field6) or {})
        group = ssi.group_name.decode("utf-8", "replace") or DEFAULT_GROUP
        return [HparamsRecord(group, hparams, metrics, ssi.start_time_secs or None)]
    if data.experiment:
        exp = api_pb2.Experiment.FromString(data.experiment)
        metrics: dict[str, Any] = {}
        for info in exp.metric_infos:
            name = info.name.tag if not info.name.group else f"{info.name.group}/{info.name.tag}"
            metrics[name] = None
        return [HparamsRecord(DEFAULT_GROUP, {}, metrics, exp.time_created_secs or None)]
    return []


def projector_records(proj: Any, tag: str, step: int, wall_time: float) -> list[TensorRecord]:
    """TS-VIS Projector message -> [embedding or exception record] ([] if it holds neither)."""
    which = proj.WhichOneof("content")
    if which == "exception":
        value = tensors.tsvis_tensor_to_numpy(proj.exception.value)
        return [TensorRecord("exception", tag, step, wall_time, value)]
    if which != "embedding":
        return []
    emb = proj.embedding
    extras: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    if emb.HasField("sample"):
        extras["sample"] = tensors.tsvis_tensor_to_numpy(emb.sample.X)
        meta["sample_type"] = tsvis_pb.SAMPLE_TYPES.get(emb.sample.type, "unspecified")
    if emb.HasField("label"):
        extras["labels"] = tensors.tsvis_tensor_to_numpy(emb.label)
    if emb.HasField("value"):
        value = tensors.tsvis_tensor_to_numpy(emb.value)
        if value.dtype.kind not in "biuf" or value.ndim < 1:
            raise ValueError(f"Embedding of tag {tag!r} is not a numeric [N, *] tensor.")
        value = value.reshape(len(value), -1) if value.size else value.reshape(len(value), 0)
        if value.dtype.kind != "f":
            value = value.astype(np.float64)
    else:
        value = np.zeros((0, 0), dtype=np.float32)
        meta["sample_only"] = True
    return [TensorRecord("embedding", tag, step, wall_time, value, extras, meta)]
