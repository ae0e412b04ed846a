"""Writers of the parity comparison (`bench.parity`): each writes one small but complete logdir
with one real library. Run as `python -m bench.parity_writers NAME LOGDIR` with the Python that
has that library (TensorFlow and Lightning live in their own venvs: installing TensorFlow
beside TensorBoard changes what TensorBoard and torch load). Prints one JSON line: notes on
what the writer cannot write. Only numpy and the standard library at module level.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np

WALL0 = 1_700_000_000.25
BIG = 2**40 + 3  # an int64 near 2^40 (float32 cannot hold it)
NONFINITE = (math.nan, math.inf, -math.inf, 0.5)
LAYOUT = {"Losses": {"both": ["Multiline", ["loss", "f64"]], "band": ["Margin", ["loss", "f64", "f64"]]}}


def _sine(n: int, k: float = 10.0) -> np.ndarray:
    return np.sin(np.arange(n) / k).astype(np.float32)


def _torch_like(w, lib: str, logdir: str, notes: list[str]) -> None:
    """Everything torch.utils.tensorboard and tensorboardX share (their APIs are twins)."""
    import torch

    rng = np.random.default_rng(5)
    for step in range(4):
        wall = WALL0 + step
        w.add_scalar("loss", 1.5 / (step + 1), step, walltime=wall)
        w.add_scalar("nonfinite", NONFINITE[step], step, walltime=wall)
        w.add_scalar("flag", bool(step % 2), step, walltime=wall)
        w.add_scalar("big", float(BIG + step), step, walltime=wall)  # simple_value: float32
        if lib == "torch":
            w.add_scalar("f64", 1 / 3 + step, step, walltime=wall, new_style=True,
                         double_precision=True)
            w.add_scalar("f32new", 0.1 * step, step, walltime=wall, new_style=True)
        w.add_scalars("grp", {"a": step, "b": -step}, step, walltime=wall)
        w.add_histogram("weights", rng.normal(size=500) * (step + 1), step, walltime=wall)
        w.add_scalar("resumed", 10.0 + step, step, walltime=wall)
    for step in (2, 3):  # a job resumed from its step-2 checkpoint writes steps 2 and 3 again
        w.add_scalar("resumed", 20.0 + step, step, walltime=WALL0 + 10 + step)
    w.add_histogram("const", np.full(10, 3.0), 0, walltime=WALL0)
    edges = [0.0, 1.0, 2.0, 3.0]
    w.add_histogram_raw("raw", min=0.2, max=2.9, num=7, sum=9.0, sum_squares=15.0,
                        bucket_limits=edges, bucket_counts=[1, 4, 2, 0], global_step=1,
                        walltime=WALL0 + 1)
    w.add_image("img", rng.random((3, 8, 6)).astype(np.float32), 2, walltime=WALL0 + 2)
    w.add_image("hwc", (rng.random((5, 7, 3)) * 255).astype(np.uint8), 1, walltime=WALL0 + 1,
                dataformats="HWC")
    w.add_images("imgs", rng.random((4, 3, 5, 5)).astype(np.float32), 2, walltime=WALL0 + 2)
    box = torch.tensor([[1.0, 1.0, 4.0, 4.0]])
    w.add_image_with_boxes("boxed", rng.random((3, 6, 6)).astype(np.float32), box, 3,
                           walltime=WALL0 + 3)
    try:
        w.add_audio("snd", torch.from_numpy(_sine(800)), 1, sample_rate=8000,
                    walltime=WALL0 + 1)
    except ImportError as exc:  # tensorboardX encodes WAV with soundfile
        notes.append(f"audio: {lib} needs {exc.name}, not installed")
    w.add_text("note", "hello ✓ *markdown*", 1, walltime=WALL0 + 1)
    w.add_text("note", "second write", 2, walltime=WALL0 + 2)
    labels, preds = rng.integers(0, 2, 60), rng.random(60)
    w.add_pr_curve("pr", labels, preds, 1, num_thresholds=11, walltime=WALL0 + 1)
    w.add_pr_curve_raw("prraw", [5, 3, 1], [4, 2, 0], [0, 2, 4], [1, 3, 5], [0.55, 0.6, 1.0],
                       [0.83, 0.5, 0.17], 2, num_thresholds=3, walltime=WALL0 + 2)
    w.add_custom_scalars(LAYOUT)
    hp = {"lr": 0.01, "bs": 32, "opt": "adam", "nesterov": True}
    if lib == "torch":
        w.add_hparams(hp, {"hp/acc": 0.75, "hp/loss": 0.25}, run_name="hp", global_step=5)
    else:
        w.add_hparams(hp, {"hp/acc": 0.75, "hp/loss": 0.25}, name="hp", global_step=5)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    w.add_graph(model, torch.zeros(2, 4))
    meta = [f"w{i}" for i in range(10)]
    w.add_embedding(rng.random((10, 5)), metadata=meta, tag="emb", global_step=3)
    w.add_embedding(rng.random((6, 3)), metadata=[[i, f"n{i}"] for i in range(6)],
                    metadata_header=["id", "name"], tag="table", global_step=4)
    notes.append("video, figures, meshes, ONNX graphs: not compared (tsvis-live serves none)")


def write_torch(logdir: str, notes: list[str]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(logdir, max_queue=1000, flush_secs=3600)
    _torch_like(w, "torch", logdir, notes)
    w.close()


def write_tbx(logdir: str, notes: list[str]) -> None:
    from tensorboardX import SummaryWriter

    w = SummaryWriter(logdir, max_queue=1000, flush_secs=3600)
    _torch_like(w, "tbx", logdir, notes)
    w.add_custom_scalars_multilinechart(["loss", "f64"], category="multi", title="ml")
    w.close()


def write_tsvis(logdir: str, notes: list[str]) -> None:
    """TS-VIS 0.4.2 (pure-Python protobuf runtime). Audio and hparams through its own protos:
    its audio encoder needs soundfile and add_hparams fails under that runtime."""
    import io
    import wave

    from tsvis import SummaryWriter
    from tsvis.logger import summary as S
    from tsvis.proto.plugin_hparams_pb2 import HParamsPluginData, SessionStartInfo
    from tsvis.proto.summary_pb2 import Summary, SummaryMetadata

    rng = np.random.default_rng(9)
    w = SummaryWriter(logdir, max_queue=1000, flush_secs=3600)
    for step in range(4):
        w.add_scalar("loss", np.array(1 / (step + 1)), step)
        w.add_scalar("nonfinite", np.array(NONFINITE[step]), step)
    w.add_image("pic", (rng.random((5, 7, 3)) * 255).astype(np.uint8), 1)
    w.add_images("many", rng.random((2, 4, 6)).astype(np.float32), 2)
    w.add_text("note", "tsvis ✓", 3)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(8000)
        f.writeframes((_sine(300, 5) * 32767).astype("<i2").tobytes())
    audio = Summary.Audio(sample_rate=8000, num_channels=1, length_frames=300,
                          encoded_audio_string=buf.getvalue(), content_type="audio/wav")
    md = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="audios"))
    w.event_file_writer.add_summary(
        Summary(value=[Summary.Value(tag="snd", audio=audio, metadata=md)]), 2)
    ssi = SessionStartInfo(group_name="g1")
    for k, v in {"lr": 0.1, "opt": "adam", "amp": True}.items():
        S.set_hparams(ssi.hparams.add(key=k).value, v)
    content = HParamsPluginData(session_start_info=ssi, version=0).SerializeToString()
    md = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="hparams",
                                                                content=content))
    value = Summary.Value(tag="_hparams_/session_start_info", metadata=md)
    w.get_writer("hparams").add_summary(Summary(value=[value]))
    w.add_embedding("emb", rng.random((10, 4)).astype(np.float32), label=np.arange(10), step=4)
    w.add_exception("grad", rng.normal(size=(3, 4)), 5)
    w.close()
    notes.append("histograms: tsvis 0.4.2 needs numpy < 2 to write them")
    notes.append("custom scalars, PR curves, graphs (ONNX/OneFlow only): tsvis has no such writer")


def write_tf2(logdir: str, notes: list[str]) -> None:
    """tf.summary and the TensorBoard plugin APIs (pr_curve, custom_scalar, hparams, projector)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    from tensorboard.plugins import projector
    from tensorboard.plugins.custom_scalar import summary as cs_summary
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.pr_curve import summary as pr_summary
    from tensorboard.plugins.scalar import metadata as scalar_md

    rng = np.random.default_rng(11)
    md = scalar_md.create_summary_metadata("", "").SerializeToString()
    w = tf.summary.create_file_writer(os.path.join(logdir, "run"))
    with w.as_default():
        for step in range(4):
            tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
            tf.summary.scalar("nonfinite", NONFINITE[step], step=step)
            tf.summary.write("f64", tf.constant(1 / 3 + step, tf.float64), step=step, metadata=md)
            tf.summary.write("i64", tf.constant(BIG + step, tf.int64), step=step, metadata=md)
            tf.summary.write("f16", tf.constant(0.1 * step + 0.3, tf.float16), step=step,
                             metadata=md)
            tf.summary.write("flag", tf.constant(step % 2 == 1), step=step, metadata=md)
            tf.summary.histogram("weights", rng.normal(size=300) * (step + 1), step=step,
                                 buckets=20)
        tf.summary.histogram("const", tf.fill([10], 3.0), step=0)
        tf.summary.histogram("empty", tf.zeros([0]), step=0)
        tf.summary.image("imgs", rng.random((3, 8, 6, 3)), step=1, max_outputs=3)
        tf.summary.image("gray", rng.random((1, 5, 4, 1)), step=2)
        clips = np.stack([_sine(400), _sine(400, 3)])[..., None]
        tf.summary.audio("snd", clips, sample_rate=8000, step=1, max_outputs=2)
        tf.summary.text("note", "hello ✓ *markdown*", step=1)
        tf.summary.text("grid", tf.constant([["a", "b"], ["ç", "d"]]), step=2)
        labels, preds = rng.integers(0, 2, 60).astype(bool), rng.random(60)
        pr = pr_summary.pb("pr", labels, preds, num_thresholds=11)
        tf.summary.experimental.write_raw_pb(pr.SerializeToString(), step=1)
        raw = pr_summary.raw_data_pb("prraw", [5, 3, 1], [4, 2, 0], [0, 2, 4], [1, 3, 5],
                                     [0.55, 0.6, 1.0], [0.83, 0.5, 0.17], num_thresholds=3)
        tf.summary.experimental.write_raw_pb(raw.SerializeToString(), step=2)
        layout = cs_summary.pb(_layout_proto())
        tf.summary.experimental.write_raw_pb(layout.SerializeToString(), step=0)

        @tf.function
        def f(x, y):
            with tf.name_scope("dense"):
                return tf.reduce_sum(tf.nn.relu(tf.matmul(x, y) + 1.0))

        tf.summary.trace_on(graph=True, profiler=False)
        f(tf.ones((2, 3)), tf.ones((3, 4)))
        tf.summary.trace_export(name="f", step=0)
    w.close()
    hdir = os.path.join(logdir, "hparams")
    hps = [hp.HParam("units", hp.Discrete([8, 16])), hp.HParam("opt", hp.Discrete(["adam", "sgd"]))]
    metrics = [hp.Metric("accuracy"), hp.Metric("epoch_loss", group="validation")]
    with tf.summary.create_file_writer(hdir).as_default():
        hp.hparams_config(hparams=hps, metrics=metrics)
    for i, (units, opt) in enumerate(((8, "adam"), (16, "sgd"))):
        with tf.summary.create_file_writer(os.path.join(hdir, f"run-{i}")).as_default():
            hp.hparams({hps[0]: units, hps[1]: opt})
            for step in range(3):
                tf.summary.scalar("accuracy", 0.5 + 0.1 * step + i / 100, step=step)
        with tf.summary.create_file_writer(os.path.join(hdir, f"run-{i}", "validation")).as_default():
            for step in range(3):
                tf.summary.scalar("epoch_loss", 1.0 - 0.2 * step - i / 100, step=step)
    pdir = logdir  # TensorBoard's projector tutorial: config and checkpoint in the logdir itself
    Path(pdir, "metadata.tsv").write_text("".join(f"word{i}\n" for i in range(12)))
    variable = tf.Variable(rng.normal(size=(12, 5)).astype(np.float32))
    tf.train.Checkpoint(embedding=variable).save(os.path.join(pdir, "embedding.ckpt"))
    config = projector.ProjectorConfig()
    entry = config.embeddings.add()
    entry.tensor_name, entry.metadata_path = "embedding/.ATTRIBUTES/VARIABLE_VALUE", "metadata.tsv"
    projector.visualize_embeddings(pdir, config)


def _layout_proto():
    from tensorboard.plugins.custom_scalar import layout_pb2

    chart = layout_pb2.Chart(title="both", multiline=layout_pb2.MultilineChartContent(tag=["loss", "f64"]))
    margin = layout_pb2.Chart(title="band", margin=layout_pb2.MarginChartContent(series=[
        layout_pb2.MarginChartContent.Series(value="loss", lower="f64", upper="f64")]))
    return layout_pb2.Layout(category=[layout_pb2.Category(title="Losses", chart=[chart, margin])])


def write_keras(logdir: str, notes: list[str]) -> None:
    """Keras 3's TensorBoard callback (scalars, weight histograms and images, the graph,
    embeddings) and hp.KerasCallback (hparams)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    model = keras.Sequential([keras.Input((6,), dtype="int32"),
                              keras.layers.Embedding(20, 4, name="emb"),
                              keras.layers.Flatten(), keras.layers.Dense(1, name="out")])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x, y = rng.integers(0, 20, (64, 6)), rng.random((64, 1))
    callbacks = [keras.callbacks.TensorBoard(logdir, histogram_freq=1, write_images=True,
                                             embeddings_freq=1, update_freq="epoch"),
                 hp.KerasCallback(logdir, {"units": 4, "optimizer": "adam"}, trial_id="t0")]
    model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, callbacks=callbacks,
              verbose=0)
    notes.append("embeddings: Keras 3 saves them as train/keras_embedding.ckpt-N.weights.h5 while "
                 "its projector_config.pbtxt names a TF checkpoint tensor: neither TensorBoard "
                 "nor tsvis-live can read them")
    del tf


def write_tf1(logdir: str, notes: list[str]) -> None:
    """TF1 compat: summary ops merged and run in a Session, FileWriter with the graph,
    FULL_TRACE run metadata, plugin protos through add_summary, a Saver projector."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    from tensorboard.plugins import projector
    from tensorboard.plugins.custom_scalar import summary as cs_summary
    from tensorboard.plugins.hparams import summary_v2 as hp_summary
    from tensorboard.plugins.pr_curve import summary as pr_summary

    v1 = tf.compat.v1
    rng = np.random.default_rng(13)
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, (None, 3), name="x")
        with v1.variable_scope("layer"):
            wt = v1.get_variable("w", initializer=tf.ones((3, 2)))
            act = tf.nn.relu(tf.matmul(x, wt), name="act")
        loss = tf.reduce_mean(act, name="loss")
        v1.summary.scalar("loss", loss)
        v1.summary.scalar("f64", tf.cast(loss, tf.float64) / 3)
        v1.summary.histogram("act", act)
        v1.summary.image("img", tf.reshape(x[:1], (1, 1, 3, 1)) * 0.1)
        v1.summary.audio("snd", tf.reshape(tf.sin(tf.range(300.0) / 7), (1, 300)), 8000)
        v1.summary.text("txt", tf.constant("tf1 text ✓"))
        pr_summary.op("pr", tf.constant(rng.integers(0, 2, 40).astype(bool)),
                      tf.constant(rng.random(40).astype(np.float32)), num_thresholds=11)
        merged = v1.summary.merge_all()
        init = v1.global_variables_initializer()
        with v1.Session(graph=graph) as sess:
            writer = v1.summary.FileWriter(os.path.join(logdir, "tf1"), graph=graph)
            sess.run(init)
            for step in range(3):
                feed = {x: rng.random((4, 3)).astype(np.float32) * (step + 1)}
                if step == 1:
                    opts = v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE)
                    meta = v1.RunMetadata()
                    summ = sess.run(merged, feed, options=opts, run_metadata=meta)
                    writer.add_run_metadata(meta, "step_1", global_step=step)
                else:
                    summ = sess.run(merged, feed)
                writer.add_summary(summ, step)
            writer.add_summary(cs_summary.pb(_layout_proto()).SerializeToString())
            hps = [hp_summary.HParam("units", hp_summary.Discrete([3, 6]))]
            config = hp_summary.hparams_config_pb(hps, [hp_summary.Metric("loss")])
            writer.add_summary(config.SerializeToString())
            writer.add_summary(hp_summary.hparams_pb({"units": 3}).SerializeToString())
            writer.close()
            _tf1_restart(v1, sess, os.path.join(logdir, "tf1_restart"), x, loss, act, rng)
    pdir = os.path.join(logdir, "tf1")  # the Saver beside the FileWriter's events
    graph = tf.Graph()
    with graph.as_default():
        v1.get_variable("emb", initializer=rng.normal(size=(8, 5)))
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            saver.save(sess, os.path.join(pdir, "model.ckpt"), global_step=7)
    config = projector.ProjectorConfig()  # the checkpoint found through its state file
    config.embeddings.add().tensor_name = "emb:0"
    projector.visualize_embeddings(pdir, config)


def _tf1_restart(v1, sess, rundir: str, x, loss, act, rng) -> None:
    """A TF1 job restarted from its step-1 checkpoint, as a supervisor writes it: each session
    starts with SessionLog START; the second one rewrites `loss` from step 1 on, not `f64`
    or `act`. TensorBoard's loader purges every point at steps >= 1 written before it."""
    from tensorflow.core.util.event_pb2 import SessionLog

    tags = [v1.summary.scalar("r/loss", loss), v1.summary.scalar("r/f64", loss / 3.0),
            v1.summary.histogram("r/act", act)]
    first, second = v1.summary.merge(tags), v1.summary.merge(tags[:1])
    for start, merged, suffix in ((0, first, ""), (1, second, ".restart")):
        writer = v1.summary.FileWriter(rundir, filename_suffix=suffix)
        writer.add_session_log(SessionLog(status=SessionLog.START), start)
        for step in range(start, 3):
            feed = {x: rng.random((4, 3)).astype(np.float32) * (step + 1 + 10 * start)}
            writer.add_summary(sess.run(merged, feed), step)
        writer.close()


def write_lightning(logdir: str, notes: list[str]) -> None:
    """PyTorch Lightning 2.6 with its TensorBoardLogger (log_graph, hparams, hp_metric) and the
    underlying SummaryWriter for histograms, images and text; `epoch` is logged with every
    metrics call (three times per step when train-step, train-epoch and val metrics meet)."""
    import lightning as L
    import torch

    torch.manual_seed(0)

    class Model(L.LightningModule):
        def __init__(self, lr: float = 0.05, hidden: int = 8) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(),
                                           torch.nn.Linear(hidden, 1))
            self.example_input_array = torch.zeros(2, 4)

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, _i):
            loss = torch.nn.functional.mse_loss(self(batch[0]), batch[1])
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, _i):
            self.log("val_loss", torch.nn.functional.mse_loss(self(batch[0]), batch[1]))

        def on_train_epoch_end(self) -> None:
            tb, step = self.logger.experiment, self.global_step
            tb.add_histogram("w0", self.net[0].weight, step)
            tb.add_image("w0img", self.net[0].weight.detach()[None], step)
            tb.add_text("epoch_note", f"epoch {self.current_epoch}", step)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    gen = torch.Generator().manual_seed(1)
    x = torch.rand(32, 4, generator=gen)
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    from lightning.pytorch.loggers import TensorBoardLogger

    logger = TensorBoardLogger(logdir, name="pl", version=0, log_graph=True)
    trainer = L.Trainer(max_epochs=3, logger=logger, log_every_n_steps=1, accelerator="cpu",
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(Model(), loader, loader)


WRITERS = {"tbx": write_tbx, "torch": write_torch, "tsvis": write_tsvis, "tf2": write_tf2,
           "keras": write_keras, "tf1": write_tf1, "lightning": write_lightning}

if __name__ == "__main__":
    name, out = sys.argv[1], sys.argv[2]
    notes: list[str] = []
    WRITERS[name](out, notes)
    print(json.dumps({"writer": name, "notes": notes}), flush=True)
