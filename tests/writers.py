"""Real writers producing logs for tests, and what a reader must get back from them.

Each `write_*_logs(logdir)` writes with one real library and returns an `Expected`: the values
as the writer itself encoded them (PNG/WAV bytes, histogram protos...), computed with that
writer's own summary functions. `decode_logdir` reads a logdir back with the project's reader.

The `tsvis` writer needs the pure-Python protobuf runtime (its generated code predates
protobuf 4), so it runs in a subprocess with `PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python`.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tsvis_live.formats import tfrecord
from tsvis_live.formats.events import EventDecoder
from tsvis_live.records import Batch, HparamsRecord

WALL0 = 1_700_000_000.25  # explicit wall times: WALL0 + step


@dataclass
class Expected:
    """What a reader must find, per run ("" is the logdir itself). wall None: writer's clock."""

    scalars: list[tuple[str, str, int, float | None, float]] = field(default_factory=list)
    # run, tag, step, wall, writer value: a HistogramProto (legacy) or a (k, 3) ndarray
    histograms: list[tuple[str, str, int, float | None, Any]] = field(default_factory=list)
    # run, kind, tag, step, wall, index, data, meta (the keys given must match)
    blobs: list[tuple[str, str, str, int, float | None, int, bytes, dict]] = field(
        default_factory=list
    )
    # run, kind, tag, step, wall, value, extras, meta
    tensors: list[tuple[str, str, str, int, float | None, np.ndarray, dict, dict]] = field(
        default_factory=list
    )
    graphs: list[tuple[str, str, str]] = field(default_factory=list)  # run, kind, tag
    hparams: list[tuple[str, HparamsRecord]] = field(default_factory=list)
    layouts: list[tuple[str, dict]] = field(default_factory=list)
    side_files: list[str] = field(default_factory=list)  # paths relative to the logdir

    def blob(self, kind: str, tag: str, step: int, data: bytes, meta: dict, index: int = 0) -> None:
        """A blob in the logdir itself at wall time WALL0 + step."""
        self.blobs.append(("", kind, tag, step, WALL0 + step, index, data, meta))


def decode_logdir(logdir: str | Path) -> dict[str, Batch]:
    """Decode every event file under `logdir` into one Batch per run (one decoder per file)."""
    root = Path(logdir)
    batches: dict[str, Batch] = {}
    for path in sorted(root.rglob("*events.out*")):
        run = path.parent.relative_to(root).as_posix()
        batch = batches.setdefault("" if run == "." else run, Batch())
        decoder = EventDecoder()
        for record in tfrecord.scan(path.read_bytes()):
            if record.data is None:
                batch.skipped += 1
                continue
            decoder.decode(record.data, batch)
    return batches


def _rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _float_tensor(tensor: Any) -> np.ndarray:
    """A writer's float_val TensorProto (torch's or tensorboardX's own class) as an array."""
    return np.asarray(tensor.float_val, np.float32).reshape(
        [d.size for d in tensor.tensor_shape.dim]
    )


def write_torch_logs(logdir: str | Path) -> Expected:
    """torch.utils.tensorboard: every add_* the reader supports, explicit wall times."""
    import torch
    from google.protobuf import json_format
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard import summary as ts

    rng, exp, logdir = _rng(), Expected(), str(logdir)
    w = SummaryWriter(logdir, max_queue=1000, flush_secs=3600)
    for step in range(3):
        wall = WALL0 + step
        w.add_scalar("loss", 1.5 / (step + 1), step, walltime=wall)
        exp.scalars.append(("", "loss", step, wall, float(np.float32(1.5 / (step + 1)))))
        w.add_scalar("lr", 0.1 * step, step, walltime=wall, new_style=True)
        exp.scalars.append(("", "lr", step, wall, float(np.float32(0.1 * step))))
        w.add_scalar(
            "acc64", 1 / 3 + step, step, walltime=wall, new_style=True, double_precision=True
        )
        exp.scalars.append(("", "acc64", step, wall, 1 / 3 + step))
        w.add_scalars("grp", {"a": step, "b": -step}, step, walltime=wall)
        exp.scalars += [("grp_a", "grp", step, wall, step), ("grp_b", "grp", step, wall, -step)]
        values = rng.normal(size=500) * (step + 1)
        w.add_histogram("weights", values, step, walltime=wall)
        histo = ts.histogram("weights", values, w.default_bins).value[0].histo
        exp.histograms.append(("", "weights", step, wall, histo))
    img = torch.from_numpy(rng.random((3, 8, 6)).astype(np.float32))
    w.add_image("img", img, 2, walltime=WALL0 + 2)
    png = ts.image("img", img, dataformats="CHW").value[0].image
    exp.blob("image", "img", 2, png.encoded_image_string, {"width": 6, "height": 8})
    imgs = torch.from_numpy(rng.random((4, 3, 5, 5)).astype(np.float32))
    w.add_images("imgs", imgs, 2, walltime=WALL0 + 2)
    grid = ts.image("imgs", imgs, dataformats="NCHW").value[0].image
    exp.blob("image", "imgs", 2, grid.encoded_image_string, {"width": 20, "height": 5})
    snd = torch.from_numpy(np.sin(np.arange(800) / 10).astype(np.float32)).reshape(1, -1)
    w.add_audio("snd", snd, 1, sample_rate=8000, walltime=WALL0 + 1)
    wav = ts.audio("snd", snd, sample_rate=8000).value[0].audio
    meta = {"sample_rate": 8000.0, "content_type": "audio/wav"}
    exp.blob("audio", "snd", 1, wav.encoded_audio_string, meta)
    w.add_text("note", "hello ✓ *markdown*", 1, walltime=WALL0 + 1)
    exp.blob("text", "note/text_summary", 1, '["hello ✓ *markdown*"]'.encode(), {"shape": [1]})
    labels = rng.integers(0, 2, 50)
    preds = rng.random(50)
    w.add_pr_curve("pr", labels, preds, 1, num_thresholds=11, walltime=WALL0 + 1)
    pr = ts.pr_curve("pr", labels, preds, num_thresholds=11).value[0].tensor
    pr_value = _float_tensor(pr)
    exp.tensors.append(("", "pr_curve", "pr", 1, WALL0 + 1, pr_value, {}, {}))
    layout = {
        "Losses": {
            "both": ["Multiline", ["loss", "lr"]],
            "band": ["Margin", ["loss", "lr", "acc64"]],
        }
    }
    w.add_custom_scalars(layout)
    layout_pb = ts.custom_scalars(layout).value[0].tensor.string_val[0]
    from tensorboard.plugins.custom_scalar import layout_pb2

    layout_msg = layout_pb2.Layout.FromString(layout_pb)
    exp.layouts.append(
        ("", json_format.MessageToDict(layout_msg, preserving_proto_field_name=True))
    )
    hp = {"lr": 0.01, "bs": 32, "opt": "adam", "nesterov": True}
    w.add_hparams(hp, {"hp/acc": 0.75}, run_name="hp", global_step=5)
    exp.hparams.append(("hp", HparamsRecord("default", {}, {"hp/acc": None})))
    hp_values = {"lr": 0.01, "bs": 32.0, "opt": "adam", "nesterov": 1.0}  # torch: bool -> number
    exp.hparams.append(("hp", HparamsRecord("default", hp_values, {})))
    exp.scalars.append(("hp", "hp/acc", 5, None, 0.75))
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    w.add_graph(model, torch.zeros(2, 4))
    exp.graphs += [("", "graphdef", "__run_graph__"), ("", "run_metadata", "step1")]
    w.add_embedding(
        torch.from_numpy(rng.random((10, 5))), metadata=list(range(10)), tag="emb", global_step=3
    )
    exp.side_files += ["00003/emb/tensors.tsv", "00003/emb/metadata.tsv", "projector_config.pbtxt"]
    w.close()
    return exp


def write_tbx_logs(logdir: str | Path) -> Expected:
    """tensorboardX: scalars, histogram, image, text, PR curve, hparams (its audio needs soundfile)."""
    from tensorboardX import SummaryWriter
    from tensorboardX import summary as xs

    rng, exp = _rng(), Expected()
    w = SummaryWriter(str(logdir), max_queue=1000, flush_secs=3600)
    for step in range(3):
        wall = WALL0 + step
        w.add_scalar("x/loss", 2.0**-step, step, walltime=wall)
        exp.scalars.append(("", "x/loss", step, wall, 2.0**-step))
        values = rng.random(200)
        w.add_histogram("h", values, step, walltime=wall)
        exp.histograms.append(
            ("", "h", step, wall, xs.histogram("h", values, w.default_bins).value[0].histo)
        )
    img = rng.random((3, 4, 7)).astype(np.float32)
    w.add_image("pic", img, 1, walltime=WALL0 + 1)
    enc = xs.image("pic", img).value[0].image
    exp.blob("image", "pic", 1, enc.encoded_image_string, {"width": 7, "height": 4})
    w.add_text("t", "tbx text", 2, walltime=WALL0 + 2)
    exp.blob("text", "t/text_summary", 2, b'["tbx text"]', {})
    labels, preds = rng.integers(0, 2, 40), rng.random(40)
    w.add_pr_curve("prc", labels, preds, 2, num_thresholds=9, walltime=WALL0 + 2)
    pr = xs.pr_curve("prc", labels, preds, num_thresholds=9).value[0].tensor
    pr_value = _float_tensor(pr)
    exp.tensors.append(("", "pr_curve", "prc", 2, WALL0 + 2, pr_value, {}, {}))
    w.add_hparams({"depth": 3, "act": "relu"}, {"m/acc": 0.5}, name="trial", global_step=1)
    exp.hparams.append(("trial", HparamsRecord("default", {}, {"m/acc": None})))
    exp.hparams.append(("trial", HparamsRecord("default", {"depth": 3.0, "act": "relu"}, {})))
    exp.scalars.append(("trial", "m/acc", 1, None, 0.5))
    w.close()
    return exp


def write_tensorboard_logs(logdir: str | Path) -> Expected:
    """TensorBoard's numpy-only Writer (scalars) plus its `*_pb` summary builders for the
    tensor forms, written with its own EventFileWriter; metadata only on a tag's first value."""
    from tensorboard.compat.proto import event_pb2, graph_pb2, meta_graph_pb2, summary_pb2
    from tensorboard.plugins.audio import metadata as audio_md
    from tensorboard.plugins.histogram import summary_v2 as histo_summary
    from tensorboard.plugins.hparams import summary_v2 as hp_summary
    from tensorboard.plugins.image import metadata as image_md
    from tensorboard.plugins.pr_curve import metadata as pr_md
    from tensorboard.plugins.text import summary_v2 as text_summary
    from tensorboard.summary import Writer
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util import tensor_util

    rng, exp, logdir = _rng(), Expected(), str(logdir)
    Value, make_tensor = summary_pb2.Summary.Value, tensor_util.make_tensor_proto
    w = Writer(os.path.join(logdir, "numpy"))
    for step in range(4):
        w.add_scalar("tb/score", step * 0.25 + 1, step, wall_time=WALL0 + step)
        exp.scalars.append(("numpy", "tb/score", step, WALL0 + step, step * 0.25 + 1))
    w.close()
    ev = EventFileWriter(logdir)

    def emit(step: int, value: Any, first: bool = True) -> None:
        if not first:
            value.ClearField("metadata")
        event = event_pb2.Event(step=step, wall_time=WALL0 + step)
        event.summary.value.append(value)
        ev.add_event(event)

    for step in range(3):
        data = rng.normal(size=100) + step
        value = histo_summary.histogram_pb("th", data, buckets=5).value[0]
        emit(step, value, first=step == 0)
        exp.histograms.append(
            ("", "th", step, WALL0 + step, tensor_util.make_ndarray(value.tensor))
        )
        count = Value(tag="count", tensor=make_tensor(np.int64(step * 7)))
        emit(step, count)  # no plugin, rank-0 integer tensor: a scalar
        exp.scalars.append(("", "count", step, WALL0 + step, step * 7.0))
        raw = summary_pb2.Summary.Value(tag="raw64")
        raw.tensor.dtype, raw.tensor.tensor_content = 2, np.float64(step / 7).tobytes()
        raw.metadata.plugin_data.plugin_name = "scalars"
        emit(step, raw, first=step == 0)
        exp.scalars.append(("", "raw64", step, WALL0 + step, step / 7))
    texts = np.array([["a", "b"], ["ç", "d"]])
    emit(1, text_summary.text_pb("grid", texts).value[0])
    exp.blob("text", "grid", 1, '["a", "b", "ç", "d"]'.encode(), {"shape": [2, 2]})
    pngs = [bytes([137, 80, 78, 71, i]) * 3 for i in range(2)]  # opaque blobs: bytes only
    images = Value(tag="timg", metadata=image_md.create_summary_metadata("", ""))
    images.tensor.CopyFrom(make_tensor(np.array([b"6", b"4", *pngs], dtype=object)))
    emit(2, images)
    for i, png in enumerate(pngs):
        exp.blob("image", "timg", 2, png, {"width": 6, "height": 4}, index=i)
    wav = (
        b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"
        + b"\x00" * 20
    )
    audio = Value(tag="tsnd", metadata=audio_md.create_summary_metadata("", "", 1))
    audio.tensor.CopyFrom(make_tensor(np.array([[wav, b"first"], [wav, b"second"]], dtype=object)))
    emit(3, audio)
    for i, label in enumerate(("first", "second")):
        meta = {"label": label, "sample_rate": 8000, "content_type": "audio/wav"}
        exp.blob("audio", "tsnd", 3, wav, meta, index=i)
    curve = rng.random((6, 5)).astype(np.float32)  # raw_data_pb needs TF: same value by hand
    pr = summary_pb2.Summary.Value(tag="tpr", metadata=pr_md.create_summary_metadata("", "", 5))
    pr.tensor.CopyFrom(tensor_util.make_tensor_proto(curve))
    emit(2, pr)
    exp.tensors.append(("", "pr_curve", "tpr", 2, WALL0 + 2, curve, {}, {}))
    hparams = [hp_summary.HParam("units", hp_summary.Discrete([16, 32])), hp_summary.HParam("opt")]
    metrics = [hp_summary.Metric("val/acc"), hp_summary.Metric("loss", group="train")]
    emit(0, hp_summary.hparams_config_pb(hparams, metrics, time_created_secs=WALL0).value[0])
    exp.hparams.append(
        ("", HparamsRecord("default", {}, {"val/acc": None, "train/loss": None}, WALL0))
    )
    start = hp_summary.hparams_pb(
        {"units": 32, "opt": "sgd"}, trial_id="trial-7", start_time_secs=WALL0 + 5
    )
    emit(0, start.value[0])
    exp.hparams.append(("", HparamsRecord("trial-7", {"units": 32.0, "opt": "sgd"}, {}, WALL0 + 5)))
    graph = graph_pb2.GraphDef()
    graph.node.add(name="input", op="Placeholder")
    ev.add_event(event_pb2.Event(step=0, wall_time=WALL0, graph_def=graph.SerializeToString()))
    meta_graph = meta_graph_pb2.MetaGraphDef(graph_def=graph)
    ev.add_event(
        event_pb2.Event(step=0, wall_time=WALL0, meta_graph_def=meta_graph.SerializeToString())
    )
    exp.graphs += [("", "graphdef", "__run_graph__")] * 2
    keras = summary_pb2.Summary.Value(
        tag="keras", tensor=tensor_util.make_tensor_proto(b'{"class_name": "Sequential"}')
    )
    keras.metadata.plugin_data.plugin_name = "graph_keras_model"
    emit(0, keras)
    exp.graphs.append(("", "json_model", "keras"))
    ev.close()
    return exp


_TSVIS_SCRIPT = textwrap.dedent(
    """
    import io, pickle, sys, wave
    import numpy as np
    from tsvis import SummaryWriter
    from tsvis.logger import summary as S
    from tsvis.proto import projector_pb2
    from tsvis.proto.summary_pb2 import Summary, SummaryMetadata

    def wav(samples, rate=8000):  # tsvis encodes audio with soundfile, absent here
        buf = io.BytesIO()
        with wave.open(buf, "wb") as f:
            f.setnchannels(1); f.setsampwidth(2); f.setframerate(rate)
            f.writeframes((np.asarray(samples) * 32767).astype("<i2").tobytes())
        return buf.getvalue()

    logdir, out = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(1234)
    exp = {k: [] for k in ("scalars", "blobs", "tensors", "hparams")}
    w = SummaryWriter(logdir, max_queue=1000, flush_secs=3600)
    for step in range(3):
        w.add_scalar("loss", np.array(1 / (step + 1)), step)  # numpy 2: 0-d, not a float
        exp["scalars"].append(("", "loss", step, None, float(np.float32(1 / (step + 1)))))
    img = (rng.random((5, 7, 3)) * 255).astype(np.uint8)
    w.add_image("pic", img, 1)
    data = S.image("pic", img).value[0].image.encoded_image_string
    exp["blobs"].append(("", "image", "pic", 1, None, 0, data, {"width": 7, "height": 5}))
    imgs = rng.random((2, 4, 6)).astype(np.float32)
    w.add_images("many", imgs, 2)
    for i in range(2):
        data = S.image("x", imgs[i]).value[0].image.encoded_image_string
        exp["blobs"].append(("", "image", f"many_{i}", 2, None, 0, data, {"width": 6, "height": 4}))
    w.add_text("note", "tsvis ✓", 3)
    exp["blobs"].append(("", "text", "note", 3, None, 0, '["tsvis ✓"]'.encode(), {"shape": []}))
    clip = wav(np.sin(np.arange(300) / 5))
    audio = Summary.Audio(sample_rate=8000, num_channels=1, length_frames=300,
                          encoded_audio_string=clip, content_type="audio/wav")
    md = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="audios"))
    w.event_file_writer.add_summary(Summary(value=[Summary.Value(tag="snd", audio=audio, metadata=md)]), 2)
    exp["blobs"].append(("", "audio", "snd", 2, None, 0, clip, {"sample_rate": 8000.0, "content_type": "audio/wav"}))
    # add_hparams fails under the pure-Python runtime (its old descriptors lack map_entry, so
    # `ssi.hparams[k]` is a list): same message, entries added one by one, tsvis's own writer.
    from tsvis.proto.plugin_hparams_pb2 import HParamsPluginData, SessionStartInfo
    ssi = SessionStartInfo(group_name="g1")
    for k, v in {"lr": 0.1, "opt": "adam", "amp": True}.items():
        S.set_hparams(ssi.hparams.add(key=k).value, v)
    for k in ("val/acc", "loss"):
        S.set_hparams(ssi.metrics.add(key=k).value, False)
    content = HParamsPluginData(session_start_info=ssi, version=0).SerializeToString()
    md = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="hparams", content=content))
    value = Summary.Value(tag="_hparams_/session_start_info", metadata=md)
    w.get_writer("hparams").add_summary(Summary(value=[value]))
    exp["hparams"].append(("", "g1", {"lr": 0.1, "opt": "adam", "amp": True}, {"val/acc": False, "loss": False}))
    emb, labels = rng.random((10, 2, 2)).astype(np.float32), np.arange(10)
    w.add_embedding("emb", emb, label=labels, step=4)
    exp["tensors"].append(("", "embedding", "emb", 4, None, emb.reshape(10, 4), {"labels": labels}, {}))
    samples = (rng.random((10, 6, 6)) * 255).astype(np.uint8)
    w.add_embedding_sample("emb", samples, "image")
    exp["tensors"].append(("", "embedding", "emb", 0, None, np.zeros((0, 0), np.float32),
                           {"sample": samples}, {"sample_type": "image", "sample_only": True}))
    words = np.array(["alpha", "béta", "c"])
    w.add_embedding_sample("words", words, "text")
    exp["tensors"].append(("", "embedding", "words", 0, None, np.zeros((0, 0), np.float32),
                           {"sample": words}, {"sample_type": "text", "sample_only": True}))
    clips = np.array([wav(rng.random(50) - 0.5) for _ in range(3)])
    Sample = projector_pb2.Projector.Embedding.Sample
    proj = projector_pb2.Projector(embedding=projector_pb2.Projector.Embedding(
        sample=Sample(type=Sample.SampleType.AUDIO, X=S.make_tensor(clips))))
    md = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="embeddings"))
    w.get_writer("projector").add_summary(Summary(value=[Summary.Value(tag="voices", projector=proj, metadata=md)]), 6)
    exp["tensors"].append(("", "embedding", "voices", 6, None, np.zeros((0, 0), np.float32),
                           {"sample": clips}, {"sample_type": "audio", "sample_only": True}))
    grad = rng.normal(size=(3, 4)).astype(np.float64)
    w.add_exception("grad", grad, 5)
    exp["tensors"].append(("", "exception", "grad", 5, None, grad, {}, {}))
    w.close()
    with open(out, "wb") as f:
        pickle.dump(exp, f)
    """
)


def write_tsvis_logs(logdir: str | Path) -> Expected:
    """The `tsvis` writer (in a subprocess, see the module docstring); wall times are its clock.

    Audio is encoded with `wave` and written through tsvis's own protos and writer, because
    tsvis's encoder needs `soundfile`, which is not installed. Histograms are left out: tsvis
    needs numpy < 2 to write them.
    """
    out = Path(logdir) / "_expected.pickle"
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    subprocess.run(
        [sys.executable, "-c", _TSVIS_SCRIPT, str(logdir), str(out)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    with open(out, "rb") as f:
        raw = pickle.load(f)
    out.unlink()
    exp = Expected(scalars=raw["scalars"], blobs=raw["blobs"], tensors=raw["tensors"])
    exp.hparams = [(run, HparamsRecord(g, h, m)) for run, g, h, m in raw["hparams"]]
    return exp
