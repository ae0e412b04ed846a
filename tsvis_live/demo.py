"""A demo logdir that keeps growing, so `tsvis-live --demo` shows every view live at once.

Written with the protobuf messages tensorboard ships and our own record framing: no training
framework needed. Three runs of scalars (one keeps appending every 0.2 s), histograms, images,
audio, text, meshes, hyperparameters, a PR curve and a TensorBoard projector embedding.
"""

from __future__ import annotations

import io
import json
import math
import struct
import threading
import time
import wave
import zlib
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.plugins.mesh import metadata as mesh_metadata
from tensorboard.plugins.mesh import plugin_data_pb2 as mesh_data_pb2
from tensorboard.plugins.pr_curve import plugin_data_pb2 as pr_data_pb2
from tensorboard.util import tensor_util

from tsvis_live.formats.tfrecord import encode_record


def _png(rgb: np.ndarray) -> bytes:
    """A minimal PNG encoder (8-bit RGB), enough for demo thumbnails."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _wav(freq: float, rate: int = 8000, seconds: float = 0.5) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    samples = (np.sin(2 * math.pi * freq * t) * 12000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


class DemoWriter:
    """Appends framed events to one file, flushing after each call."""

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.fh = open(run_dir / f"events.out.tfevents.{int(time.time())}.demo", "ab")
        self.emit(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def emit(self, event: event_pb2.Event) -> None:
        self.fh.write(encode_record(event.SerializeToString()))

    def values(self, step: int, *values: summary_pb2.Summary.Value) -> None:
        ev = event_pb2.Event(wall_time=time.time(), step=step)
        ev.summary.value.extend(values)
        self.emit(ev)

    def flush(self) -> None:
        self.fh.flush()


def _scalar(tag: str, v: float) -> summary_pb2.Summary.Value:
    return summary_pb2.Summary.Value(tag=tag, simple_value=v)


def _histogram(tag: str, data: np.ndarray) -> summary_pb2.Summary.Value:
    counts, edges = np.histogram(data, bins=30)
    h = summary_pb2.HistogramProto(min=float(data.min()), max=float(data.max()), num=len(data),
                                   sum=float(data.sum()), sum_squares=float((data**2).sum()))
    h.bucket_limit.extend(edges[1:].tolist())
    h.bucket.extend(counts.astype(float).tolist())
    return summary_pb2.Summary.Value(tag=tag, histo=h)


def _torus(twist: float, n: int = 48, m: int = 24) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices, faces and colours of a torus whose tube twists with `twist` (a mesh per step)."""
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, n, endpoint=False), np.linspace(0, 2 * np.pi, m, endpoint=False),
                       indexing="ij")
    r = 0.35 + 0.08 * np.sin(3 * u + twist)
    xyz = np.stack([(1 + r * np.cos(v)) * np.cos(u), (1 + r * np.cos(v)) * np.sin(u), r * np.sin(v)], -1)
    i, j = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    a, b, c, d = i * m + j, ((i + 1) % n) * m + j, ((i + 1) % n) * m + (j + 1) % m, i * m + (j + 1) % m
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    colors = np.stack([127 + 127 * np.cos(u), 127 + 127 * np.sin(v), np.full_like(u, 200)], -1)
    return (xyz.reshape(1, -1, 3).astype(np.float32), faces[None].astype(np.int32),
            colors.reshape(1, -1, 3).astype(np.uint8))


def _mesh(name: str, step: int) -> list[summary_pb2.Summary.Value]:
    """The three parts of a mesh as TensorBoard's mesh plugin writes them."""
    parts = dict(zip(("VERTEX", "FACE", "COLOR"), _torus(step * 0.6)))
    kinds = mesh_data_pb2.MeshPluginData.ContentType
    components = sum(1 << kinds.Value(k) for k in parts)
    out = []
    for kind, arr in parts.items():
        meta = mesh_metadata.create_summary_metadata(name, None, kinds.Value(kind), components, list(arr.shape))
        out.append(summary_pb2.Summary.Value(tag=f"{name}_{kind}", metadata=meta,
                                             tensor=tensor_util.make_tensor_proto(arr)))
    return out


def _plugin_meta(plugin: str, content: bytes = b"") -> summary_pb2.SummaryMetadata:
    return summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
        plugin_name=plugin, content=content))


def _pr_curve(tag: str, step: int, rng: np.random.Generator, n: int = 21) -> summary_pb2.Summary.Value:
    """A PR curve as TensorBoard's pr_curves plugin stores it (TP, FP, TN, FN, precision, recall
    per threshold) for a classifier that separates better as `step` grows."""
    labels = rng.random(400) < 0.4
    scores = np.clip(rng.normal(0.5 + (labels - 0.5) * (0.15 + step / 150), 0.2), 0, 1)
    thresholds = np.linspace(0, 1, n)
    tp = np.array([(scores >= t)[labels].sum() for t in thresholds], dtype=np.float32)
    fp = np.array([(scores >= t)[~labels].sum() for t in thresholds], dtype=np.float32)
    tn, fn = (~labels).sum() - fp, labels.sum() - tp
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / np.maximum(tp + fn, 1)
    data = np.stack([tp, fp, tn, fn, precision, recall]).astype(np.float32)
    content = pr_data_pb2.PrCurvePluginData(version=0, num_thresholds=n).SerializeToString()
    return summary_pb2.Summary.Value(tag=tag, metadata=_plugin_meta("pr_curves", content),
                                     tensor=tensor_util.make_tensor_proto(data))


def _custom_scalars() -> summary_pb2.Summary.Value:
    """A custom-scalars layout: both losses in one chart, accuracy with a margin chart."""
    chart, ml = layout_pb2.Chart, layout_pb2.MultilineChartContent
    layout = layout_pb2.Layout(category=[layout_pb2.Category(title="training", chart=[
        chart(title="train and validation loss", multiline=ml(tag=[r"loss/.*"])),
        chart(title="accuracy", multiline=ml(tag=[r"^accuracy$"])),
    ])])
    text = TensorProto(dtype=7, string_val=[layout.SerializeToString()])
    return summary_pb2.Summary.Value(tag="custom_scalars__config__", metadata=_plugin_meta("custom_scalars"),
                                     tensor=text)


def _curve(step: int, lr: float, seed: int, rng: np.random.Generator) -> float:
    return float(2.5 * math.exp(-step * lr / 40) + 0.1 + 0.05 * rng.standard_normal() + 0.01 * seed)


def _static_content(root: Path) -> None:
    rng = np.random.default_rng(0)
    w = DemoWriter(root / "media")
    for step in range(0, 50, 10):
        img = (np.indices((32, 32)).sum(0)[..., None] * [step % 7 + 1, 3, 5] % 255).astype(np.uint8)
        image = summary_pb2.Summary.Image(height=32, width=32, colorspace=3, encoded_image_string=_png(img))
        audio = summary_pb2.Summary.Audio(sample_rate=8000, num_channels=1, length_frames=4000,
                                          encoded_audio_string=_wav(220 + 20 * step), content_type="audio/wav")
        text = TensorProto(dtype=7, string_val=[f"**step {step}**: loss looks fine".encode()])
        text.tensor_shape.dim.add(size=1)
        text_meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
        w.values(step, summary_pb2.Summary.Value(tag="samples/image", image=image),
                 summary_pb2.Summary.Value(tag="samples/audio", audio=audio),
                 summary_pb2.Summary.Value(tag="notes", tensor=text, metadata=text_meta))
        w.values(step, *_mesh("shapes/torus", step // 10), _pr_curve("pr/positive_class", step, rng))
    w.values(0, _custom_scalars())
    w.flush()
    for i, lr in enumerate((0.1, 0.3)):
        hp = DemoWriter(root / f"hparams/trial{i}")
        ssi = plugin_data_pb2.HParamsPluginData(version=0)
        ssi.session_start_info.group_name = f"trial{i}"
        ssi.session_start_info.start_time_secs = time.time()
        ssi.session_start_info.hparams["lr"].number_value = lr
        ssi.session_start_info.hparams["optimizer"].string_value = "adam" if i else "sgd"
        meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name="hparams", content=ssi.SerializeToString()))
        hp.values(0, summary_pb2.Summary.Value(tag="_hparams_/session_start_info", metadata=meta))
        for step in range(20):
            hp.values(step, _scalar("metric/accuracy", 1 - math.exp(-step * lr) * 0.9))
        hp.flush()
    proj = root / "embedding"
    (proj / "00000" / "default").mkdir(parents=True, exist_ok=True)
    centers = rng.normal(size=(3, 8)) * 4
    labels = rng.integers(0, 3, 150)
    points = centers[labels] + rng.normal(size=(150, 8))
    np.savetxt(proj / "00000" / "default" / "tensors.tsv", points, delimiter="\t", fmt="%.5f")
    (proj / "00000" / "default" / "metadata.tsv").write_text("\n".join(f"class{c}" for c in labels) + "\n")
    (proj / "projector_config.pbtxt").write_text(
        'embeddings {\n  tensor_name: "default:00000"\n  tensor_path: "00000/default/tensors.tsv"\n'
        '  metadata_path: "00000/default/metadata.tsv"\n}\n')
    (proj / "model.json").write_text(json.dumps([{"class_name": "Model", "config": {"name": "demo", "layers": [
        {"name": "input", "class_name": "InputLayer", "config": {}, "inbound_nodes": []},
        {"name": "dense1", "class_name": "Dense", "config": {"units": 64}, "inbound_nodes": ["input"]},
        {"name": "relu", "class_name": "ReLU", "config": {}, "inbound_nodes": ["dense1"]},
        {"name": "dense2", "class_name": "Dense", "config": {"units": 10}, "inbound_nodes": ["relu"]},
    ], "input_layers": ["input"], "output_layers": ["dense2"]}}]))


def _train(root: Path, stop: threading.Event, interval: float) -> None:
    rng = np.random.default_rng(1)
    runs = {name: (DemoWriter(root / "train" / name), lr, i)
            for i, (name, lr) in enumerate((("lr=0.1", 0.1), ("lr=0.3", 0.3), ("lr=1.0", 1.0)))}
    step = 0
    while not stop.is_set():
        for _name, (w, lr, seed) in runs.items():
            loss = _curve(step, lr, seed, rng)
            w.values(step, _scalar("loss/train", loss), _scalar("loss/val", loss * 1.1 + 0.05),
                     _scalar("accuracy", 1 - loss / 3))
            if step % 10 == 0:
                w.values(step, _histogram("weights/dense1", rng.normal(0, 1 + step / 500, 2000)))
            w.flush()
        step += 1
        if step > 300:  # a backlog first, then live points
            stop.wait(interval)


def start_demo(root: Path, interval: float = 0.2) -> Path:
    """Write a fresh demo logdir under `root` and keep it growing in a daemon thread."""
    root = Path(root)
    if root.exists():
        import shutil

        shutil.rmtree(root)
    root.mkdir(parents=True)
    _static_content(root)
    stop = threading.Event()
    threading.Thread(target=_train, args=(root, stop, interval), name="tsvis-demo-writer", daemon=True).start()
    return root
