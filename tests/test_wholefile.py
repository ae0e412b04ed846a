"""Whole-file readers against real writer output (PyTorch, tensorboardX, TS-VIS) and OneFlow
files built from the formats.md tables."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tsvis_live.formats.detect import LogFile, detect
from tsvis_live.formats.protos import oneflow as of
from tsvis_live.formats.wholefile import FormatError, read_whole_file

# ---------------------------------------------------------------- OneFlow projector files


def of_tensor(msg, arr: np.ndarray) -> None:
    msg.dtype = str(arr.dtype)
    for size in arr.shape:
        msg.shape.dim.add(size=size)
    msg.content = np.ascontiguousarray(arr).tobytes()


def write_oneflow(run: Path, name: str, msg) -> LogFile:
    path = run / "projector" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msg.SerializeToString())
    lf = detect(path, run)
    assert lf is not None and lf.format == "oneflow_projector"
    return lf


def test_oneflow_embedding_with_labels_and_sample(tmp_path: Path) -> None:
    values = np.arange(24, dtype=np.float32).reshape(4, 2, 3) / 7
    other = np.linspace(-1, 1, 8).reshape(4, 2)
    labels = np.array([3, 1, 4, 1], dtype=np.int64)
    images = np.arange(4 * 2 * 2 * 3, dtype=np.uint8).reshape(4, 2, 2, 3)
    msg = of.SummaryProjector()
    msg.metadata.type = of.EMBEDDING
    p = msg.projector.add(tag="features", step=12, WALL_TIME=1620000000.25)
    of_tensor(p.value, values)
    of_tensor(p.label, labels)
    q = msg.projector.add(tag="logits", step=13, WALL_TIME=1620000001.5)
    of_tensor(q.value, other)
    msg.sample.name = "features"
    msg.sample.type = 0  # IMAGE
    of_tensor(msg.sample.X, images)
    batch = read_whole_file(write_oneflow(tmp_path, "projector.1620000000.log", msg))

    assert batch.events == 2 and batch.skipped == 0
    first, second = batch.tensors
    assert (first.kind, first.tag, first.step, first.wall_time) == ("embedding", "features", 12, 1620000000.25)
    assert first.value.shape == (4, 6) and first.value.dtype == np.float32
    np.testing.assert_array_equal(first.value, values.reshape(4, 6))
    np.testing.assert_array_equal(first.extras["labels"], labels)
    np.testing.assert_array_equal(first.extras["sample"], images)
    assert first.meta == {"sample_type": "image"}
    assert (second.tag, second.step, second.wall_time) == ("logits", 13, 1620000001.5)
    np.testing.assert_array_equal(second.value, other)
    assert second.extras == {} and second.meta == {}


def test_oneflow_sample_without_matching_tag_goes_to_every_embedding(tmp_path: Path) -> None:
    msg = of.SummaryProjector()
    for tag in ("a", "b"):
        of_tensor(msg.projector.add(tag=tag, step=1).value, np.zeros((2, 2), np.float32))
    msg.sample.type = 2  # TEXT
    of_tensor(msg.sample.X, np.array(["x", "yy"]))
    batch = read_whole_file(write_oneflow(tmp_path, "projector.2.log", msg))
    for rec in batch.tensors:
        assert rec.meta == {"sample_type": "text"}
        assert rec.extras["sample"].tolist() == ["x", "yy"]


def test_oneflow_exception_keeps_shape(tmp_path: Path) -> None:
    grads = np.arange(24, dtype=np.float64).reshape(2, 3, 4) - 5.5
    msg = of.SummaryProjector()
    of_tensor(msg.projector.add(tag="conv1/grad", step=5, WALL_TIME=2.0).value, grads)
    # no metadata: the file name says exception
    batch = read_whole_file(write_oneflow(tmp_path, "projector.gradit.3.log", msg))
    (rec,) = batch.tensors
    assert (rec.kind, rec.tag, rec.step, rec.wall_time) == ("exception", "conv1/grad", 5, 2.0)
    np.testing.assert_array_equal(rec.value, grads)
    # metadata wins over the name
    msg.metadata.type = of.EMBEDDING
    (rec,) = read_whole_file(write_oneflow(tmp_path, "projector.gradit.4.log", msg)).tensors
    assert rec.kind == "embedding" and rec.value.shape == (2, 12)


def test_oneflow_empty_file_is_not_an_error(tmp_path: Path) -> None:
    lf = write_oneflow(tmp_path, "projector.5.log", of.SummaryProjector())
    assert read_whole_file(lf).is_empty()


def bad_oneflow_messages() -> list[bytes]:
    msgs = []
    for dtype, content, dims in (("float99", b"\0" * 8, [2]), ("object", b"\0" * 8, [1]),
                                 ("float32", b"\0" * 7, [2]), ("float32", b"", [-1])):
        m = of.SummaryProjector()
        t = m.projector.add(tag="t").value
        t.dtype, t.content = dtype, content
        for d in dims:
            t.shape.dim.add(size=d)
        msgs.append(m.SerializeToString())
    m = of.SummaryProjector()
    p = m.projector.add(tag="t")
    of_tensor(p.value, np.zeros((3, 2), np.float32))
    of_tensor(p.label, np.zeros(2, np.int64))  # 2 labels for 3 points
    msgs.append(m.SerializeToString())
    msgs.append(m.SerializeToString()[:-5])  # truncated mid-write
    m = of.SummaryProjector()
    m.projector.add(tag="no value")
    msgs.append(m.SerializeToString())
    m = of.SummaryProjector()
    m.metadata.type = of.EXCEPTION  # metadata only
    msgs.append(m.SerializeToString())
    return msgs


@pytest.mark.parametrize("index", range(8))
def test_oneflow_bad_content(tmp_path: Path, index: int) -> None:
    path = tmp_path / "projector" / "projector.1.log"
    path.parent.mkdir()
    path.write_bytes(bad_oneflow_messages()[index])
    with pytest.raises(FormatError):
        read_whole_file(LogFile(path, "oneflow_projector", tmp_path))


def test_garbage_raises_only_format_error(tmp_path: Path) -> None:
    rnd = random.Random(1234)
    path = tmp_path / "f"
    formats = ("oneflow_projector", "tb_projector", "json_model", "oneflow_graph")
    for i in range(300):
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 400)))
        if not data.strip():
            continue
        path.write_bytes(data)
        with pytest.raises(FormatError):
            read_whole_file(LogFile(path, formats[i % 4], tmp_path))


def test_event_files_are_not_whole_files(tmp_path: Path) -> None:
    (tmp_path / "e").write_bytes(b"x")
    with pytest.raises(FormatError):
        read_whole_file(LogFile(tmp_path / "e", "events", tmp_path))


# ---------------------------------------------------------------- TensorBoard projector


def quarter_images(n: int, c: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Images whose values * 255 are exact, so the writers' uint8 conversion is predictable."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 5, size=(n, c, h, w)) / 4).astype(np.float32)


def expected_samples(img: np.ndarray) -> np.ndarray:
    hwc = np.uint8(img.astype(np.float64) * 255).transpose(0, 2, 3, 1)
    return hwc


def read_config(logdir: Path):
    lf = detect(logdir / "projector_config.pbtxt", logdir)
    assert lf is not None and lf.format == "tb_projector"
    return read_whole_file(lf)


def test_pytorch_add_embedding(tmp_path: Path) -> None:
    import torch  # installed by the test command: a missing torch fails here
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(0)
    mat1 = rng.standard_normal((5, 3)).astype(np.float32)
    mat2 = rng.standard_normal((4, 2)).astype(np.float32)
    mat3 = rng.standard_normal((3, 2)).astype(np.float32)
    img = quarter_images(5, 3, 4, 6)  # 5 images (not a square count) of 6x4 pixels
    meta2 = [["cat", 1], ["dog", 2], ["", 3], ["eel", 4]]
    with SummaryWriter(str(tmp_path)) as w:
        w.add_embedding(torch.from_numpy(mat1), metadata=["a", "b", "c", "d", "e"],
                        label_img=torch.from_numpy(img), global_step=3, tag="feat/x")
        w.add_embedding(torch.from_numpy(mat2), metadata=meta2, metadata_header=["animal", "id"],
                        global_step=10, tag="feat/x")
        w.add_embedding(torch.from_numpy(mat3), metadata=[[7], [8], [9]], metadata_header=["digit"],
                        tag="plain")
    batch = read_config(tmp_path)
    assert batch.skipped == 0 and batch.events == 3
    by_key = {(r.tag, r.step): r for r in batch.tensors}
    assert sorted(by_key) == [("feat/x", 3), ("feat/x", 10), ("plain", 0)]

    r1 = by_key[("feat/x", 3)]
    assert r1.kind == "embedding" and r1.value.dtype == np.float32
    np.testing.assert_array_equal(r1.value, mat1)
    assert r1.extras["labels"].tolist() == ["a", "b", "c", "d", "e"]
    assert r1.extras["sample"].shape == (5, 4, 6, 3)
    np.testing.assert_array_equal(r1.extras["sample"], expected_samples(img))
    assert r1.meta == {"sample_type": "image"}
    tensor_file = tmp_path / "00003" / "feat%2fx" / "tensors.tsv"
    assert r1.wall_time == tensor_file.stat().st_mtime

    r2 = by_key[("feat/x", 10)]
    np.testing.assert_array_equal(r2.value, mat2)
    assert r2.extras["labels"].tolist() == ["cat", "dog", "", "eel"]
    assert r2.extras["metadata"].tolist() == [["cat", "1"], ["dog", "2"], ["", "3"], ["eel", "4"]]
    assert r2.meta == {"metadata_columns": ["animal", "id"]}
    assert "sample" not in r2.extras

    r3 = by_key[("plain", 0)]
    np.testing.assert_array_equal(r3.value, mat3)
    assert r3.extras["labels"].tolist() == ["7", "8", "9"]
    assert r3.meta == {"label_name": "digit"}


def test_tensorboardx_add_embedding(tmp_path: Path) -> None:
    from tensorboardX import SummaryWriter

    rng = np.random.default_rng(1)
    mats = [rng.standard_normal((6, 4)).astype(np.float32) for _ in range(2)]
    img = quarter_images(6, 3, 5, 5, seed=2)
    w = SummaryWriter(str(tmp_path))
    w.add_embedding(mats[0], metadata=list("uvwxyz"), label_img=img, global_step=1, tag="emb")
    w.add_embedding(mats[1], global_step=2, tag="emb")
    w.close()
    batch = read_config(tmp_path)
    assert [(r.tag, r.step) for r in batch.tensors] == [("emb", 1), ("emb", 2)]
    first, second = batch.tensors
    np.testing.assert_array_equal(first.value, mats[0])
    np.testing.assert_array_equal(second.value, mats[1])
    assert first.extras["labels"].tolist() == list("uvwxyz")
    np.testing.assert_array_equal(first.extras["sample"], expected_samples(img))
    assert second.extras == {}


def test_projector_config_problems_skip_entries(tmp_path: Path) -> None:
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "t.tsv").write_text("1\t2\n3\t4\n")
    (tmp_path / "ok" / "short.tsv").write_text("only\n")
    (tmp_path.parent / "secret.tsv").write_text("5\t6\n")
    (tmp_path / "projector_config.pbtxt").write_text(
        'embeddings { tensor_name: "good" tensor_path: "ok/t.tsv" }\n'
        'embeddings { tensor_name: "gone" tensor_path: "ok/missing.tsv" }\n'
        'embeddings { tensor_name: "escape" tensor_path: "../secret.tsv" }\n'
        f'embeddings {{ tensor_name: "abs" tensor_path: "{tmp_path / "ok" / "t.tsv"}" }}\n'
        'embeddings { tensor_name: "labels" tensor_path: "ok/t.tsv" metadata_path: "ok/short.tsv" }\n'
        'embeddings { tensor_name: "ckpt" }\n'
        'embeddings { tensor_name: "good" tensor_path: "ok/t.tsv" }\n'
    )
    batch = read_config(tmp_path)
    assert batch.skipped == 5
    (rec,) = batch.tensors
    assert (rec.tag, rec.step) == ("good", 0)
    np.testing.assert_array_equal(rec.value, np.array([[1, 2], [3, 4]], np.float32))


@pytest.mark.parametrize("text", ["embeddings { tensor_name: ", "not a config", "\xff\xfe"])
def test_bad_projector_config(tmp_path: Path, text: str) -> None:
    path = tmp_path / "projector_config.pbtxt"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(FormatError):
        read_whole_file(LogFile(path, "tb_projector", tmp_path))


@pytest.mark.parametrize("content", ["1\t2\n3\n", "1\tx\n", "\xff\n"])
def test_bad_tensor_tsv_is_skipped(tmp_path: Path, content: str) -> None:
    (tmp_path / "t.tsv").write_bytes(content.encode("latin-1"))
    (tmp_path / "projector_config.pbtxt").write_text('embeddings { tensor_path: "t.tsv" }')
    batch = read_config(tmp_path)
    assert batch.tensors == [] and batch.skipped == 1


# ---------------------------------------------------------------- JSON model graphs

TSVIS_WRITER = """
import sys
from tsvis.logger.summary_writer import SummaryWriter
w = SummaryWriter(sys.argv[1])
w.add_json_graph(sys.argv[2])
w.close()
"""

KERAS_FUNCTIONAL = {
    "class_name": "Functional", "backend": "tensorflow", "keras_version": "2.11.0",
    "config": {
        "name": "mlp",
        "layers": [
            {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
             "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "x"}},
            {"class_name": "Dense", "name": "hidden", "inbound_nodes": [[["x", 0, 0, {}]]],
             "config": {"name": "hidden", "units": 8, "activation": "relu"}},
            {"class_name": "Dense", "name": "out", "inbound_nodes": [[["hidden", 0, 0, {}]]],
             "config": {"name": "out", "units": 2, "activation": "linear"}},
        ],
        "input_layers": [["x", 0, 0]], "output_layers": [["out", 0, 0]],
    },
}


def test_tsvis_json_model(tmp_path: Path) -> None:
    text = json.dumps(KERAS_FUNCTIONAL)
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    subprocess.run([sys.executable, "-c", TSVIS_WRITER, str(tmp_path), text],
                   check=True, env=env, timeout=120, capture_output=True)
    lf = detect(tmp_path / "model.json", tmp_path)
    batch = read_whole_file(lf)
    (graph,) = batch.graphs
    assert (graph.kind, graph.tag, graph.data) == ("json_model", "model", text.encode())
    assert batch.events == 1


def test_oneflow_structure_graph(tmp_path: Path) -> None:
    model = [{"class_name": "Model", "backend": "oneflow", "config": {
        "name": "job", "layers": [{"name": "a", "class_name": "input", "config": {}, "inbound_nodes": []}],
        "input_layers": ["a"], "output_layers": ["a"]}}]
    path = tmp_path / "graph" / "structure_graph.json"
    path.parent.mkdir()
    path.write_text(json.dumps(model))
    (graph,) = read_whole_file(detect(path, tmp_path)).graphs
    assert (graph.kind, graph.tag, json.loads(graph.data)) == ("json_model", "structure_graph", model)


@pytest.mark.parametrize("content", [b"{", b'{"lr": 0.1}', b"[1, 2]", b"[]", b'"text"',
                                     b"\xff\xfe\x00", b'{"class_name": "X", "config": 3}'])
def test_bad_json_model(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "model.json").write_bytes(content)
    with pytest.raises(FormatError):
        read_whole_file(LogFile(tmp_path / "model.json", "json_model", tmp_path))


def test_tensor_tsv_with_trailing_tabs_and_crlf(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_bytes(b"1.5\t-2\t\r\n3e2\tnan\t\r\n\r\n")
    (tmp_path / "m.tsv").write_bytes(b"first\r\nsecond\r\n")
    (tmp_path / "projector_config.pbtxt").write_text(
        'embeddings { tensor_name: "t" tensor_path: "t.tsv" metadata_path: "m.tsv" }')
    (rec,) = read_config(tmp_path).tensors
    np.testing.assert_array_equal(rec.value, np.array([[1.5, -2], [300, np.nan]], np.float32))
    assert rec.extras["labels"].tolist() == ["first", "second"]
