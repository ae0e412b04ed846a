"""Write the TensorFlow 2.21 logs under tests/data/tf221 (run with TensorFlow installed).

Why committed files: installing TensorFlow into the test environment would change what
TensorBoard and torch load (both prefer a real TensorFlow when one is importable), so the
tests read these logs, written once by the real writers:

    python -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0 tensorboard==2.21.0
    /tmp/tfvenv/bin/python tests/data/tf221/generate.py tests/data/tf221

Runs (each a directory):
- trace/       `tf.summary.trace_on(graph=True)` + `trace_export` of two tf.functions (tags
               `my_func`, `second`), plus a scalar: plugin `graph_run_metadata_graph`.
- trace_prof/  `profiled` traced with `profiler=True` (tag `profiled`): plugin
               `graph_run_metadata` (the profiler's own output directory is deleted:
               tsvis-live does not read it).
- tf1/         TF1 compat: `FileWriter(graph=...)` writes the run's GraphDef, and a FULL_TRACE
               `session.run` is written with `add_run_metadata(..., "step_1")` (step stats of
               every executed node, the partition graphs).
- projector/   the TensorBoard projector tutorial: a `tf.train.Checkpoint` holding the
               embedding (saved with `.save`, so a `checkpoint` state file names it), a
               `metadata.tsv`, and `projector_config.pbtxt` naming the tensor
               `embedding/.ATTRIBUTES/VARIABLE_VALUE`; the checkpoint also holds 150 more
               variables of five dtypes (a multi-block index), a bfloat16 one and Keras
               Adam's variables (`optimizer/_variables/<i>`).
- projector_v1/ a TF1 `Saver` checkpoint (`model.ckpt-7`) named by `model_checkpoint_path`,
               tensors `emb` (float64) and `emb_half` (float16), `tensor_name: "emb:0"`. Its
               `checkpoint` state file holds the absolute path it was written at (/tmp/tfgen):
               a logdir moved since.
- many/        `tf.raw_ops.SaveV2` of 5000 scalars named `<sha1 of i>/v<i>` holding float(i):
               an index over TensorFlow's 256 KiB table block size, so two data blocks.
- expected.npz the values written, keyed by `<run>:<tensor name>`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
from tensorboard.plugins import projector  # noqa: E402


def traces(out: str) -> None:
    @tf.function
    def my_func(x, y):
        with tf.name_scope("dense"):
            z = tf.nn.relu(tf.matmul(x, y) + 1.0)
        with tf.name_scope("loss"):
            return tf.reduce_sum(z * z)

    @tf.function
    def second(x):
        return tf.reduce_mean(tf.tanh(x), name="mean")

    @tf.function
    def profiled(x):
        with tf.name_scope("scaled"):
            return tf.sigmoid(x * 3.0)

    writer = tf.summary.create_file_writer(os.path.join(out, "trace"))
    with writer.as_default():
        tf.summary.scalar("loss", 0.5, step=0)
        tf.summary.trace_on(graph=True, profiler=False)
        my_func(tf.ones((2, 3)), tf.ones((3, 4)))
        tf.summary.trace_export(name="my_func", step=0)
        tf.summary.trace_on(graph=True, profiler=False)
        second(tf.ones((5,)))
        tf.summary.trace_export(name="second", step=1)
    writer.close()

    prof_dir = os.path.join(out, "trace_prof")
    writer = tf.summary.create_file_writer(prof_dir)
    with writer.as_default():
        tf.summary.trace_on(graph=True, profiler=True, profiler_outdir=prof_dir)
        profiled(tf.ones((2, 2)))
        tf.summary.trace_export(name="profiled", step=2)
    writer.close()
    shutil.rmtree(os.path.join(prof_dir, "plugins"), ignore_errors=True)


def tf1(out: str) -> None:
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, shape=(None, 3), name="x")
        with tf.compat.v1.variable_scope("layer"):
            w = tf.compat.v1.get_variable("w", initializer=tf.ones((3, 2)))
            y = tf.nn.relu(tf.matmul(x, w), name="act")
        total = tf.reduce_sum(y, name="total")
        init = tf.compat.v1.global_variables_initializer()
        with tf.compat.v1.Session(graph=graph) as sess:
            writer = tf.compat.v1.summary.FileWriter(os.path.join(out, "tf1"), graph=graph)
            sess.run(init)
            opts = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE,
                                           output_partition_graphs=True)
            meta = tf.compat.v1.RunMetadata()
            sess.run(total, feed_dict={x: np.ones((4, 3), np.float32)}, options=opts, run_metadata=meta)
            writer.add_run_metadata(meta, "step_1", global_step=1)
            writer.close()


def projectors(out: str, expected: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(12)
    log_dir = os.path.join(out, "projector")
    os.makedirs(log_dir, exist_ok=True)
    words = [f"word{i}" for i in range(40)]
    with open(os.path.join(log_dir, "metadata.tsv"), "w") as f:
        for w in words:
            f.write(f"{w}\n")
    emb = rng.normal(size=(40, 8)).astype(np.float32)
    extras = {}
    for i in range(150):
        dtype = (np.float32, np.float64, np.float16, np.int32, np.int64)[i % 5]
        extras[f"layer_{i:03d}_with_a_long_shared_prefix_name"] = tf.Variable(
            (rng.normal(size=(3, 2)) * 10).astype(dtype))
    bf = tf.Variable(tf.constant(rng.normal(size=(4, 2)), dtype=tf.bfloat16))
    variable = tf.Variable(emb)
    opt = tf.keras.optimizers.Adam()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(variable * variable)
    opt.apply_gradients([(tape.gradient(loss, variable), variable)])
    ckpt = tf.train.Checkpoint(embedding=variable, bf=bf, optimizer=opt, **extras)
    ckpt.save(os.path.join(log_dir, "embedding.ckpt"))
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    embedding.metadata_path = "metadata.tsv"
    projector.visualize_embeddings(log_dir, config)
    reader = tf.train.load_checkpoint(os.path.join(log_dir, "embedding.ckpt-1"))
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if isinstance(value, np.ndarray) and value.dtype != object:
            if value.dtype.name == "bfloat16":
                value = value.astype(np.float32)
            expected[f"projector:{name}"] = value

    v1_dir = os.path.join(out, "projector_v1")
    graph = tf.Graph()
    with graph.as_default():
        e64 = tf.compat.v1.get_variable("emb", initializer=rng.normal(size=(12, 5)))
        e16 = tf.compat.v1.get_variable("emb_half", initializer=rng.normal(size=(12, 3)).astype(np.float16))
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            prefix = saver.save(sess, os.path.join(v1_dir, "model.ckpt"), global_step=7)
            expected["projector_v1:emb"], expected["projector_v1:emb_half"] = sess.run([e64, e16])
    config = projector.ProjectorConfig()
    config.model_checkpoint_path = os.path.basename(prefix)
    config.embeddings.add().tensor_name = "emb:0"
    config.embeddings.add().tensor_name = "emb_half"
    projector.visualize_embeddings(v1_dir, config)


def many(out: str) -> None:
    names = [f"{hashlib.sha1(str(i).encode()).hexdigest()}/v{i}" for i in range(5000)]
    tf.raw_ops.SaveV2(prefix=os.path.join(out, "many", "many"), tensor_names=names,
                      shape_and_slices=[""] * len(names), tensors=[tf.constant(float(i)) for i in range(5000)])


def main(out: str) -> None:
    expected: dict[str, np.ndarray] = {}
    traces(out)
    tf1(out)
    projectors(out, expected)
    many(out)
    np.savez_compressed(os.path.join(out, "expected.npz"), **expected)


if __name__ == "__main__":
    main(sys.argv[1])
