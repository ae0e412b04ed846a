"""Issue 12 item 3: projector tensors in a TensorFlow checkpoint, read without TensorFlow.

The checkpoints were written by TensorFlow 2.21 itself (tests/data/tf221, see its generate.py:
a TF2 `tf.train.Checkpoint` from TensorBoard's projector tutorial, with 150 more variables of
five dtypes, a bfloat16 one and Keras Adam's, and a TF1 `Saver` checkpoint); `expected.npz`
holds what `tf.train.load_checkpoint(...).get_tensor` returned for every numeric tensor.
Unreadable checkpoints must be reported per file, with the reason, on /api/live/status.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from tsvis_live.formats.checkpoint import Bundle, CheckpointError, latest_checkpoint
from tsvis_live.formats.detect import detect
from tsvis_live.formats.wholefile import read_whole_file

DATA = Path(__file__).resolve().parent / "data" / "tf221"
TF2_TAG = "embedding/.ATTRIBUTES/VARIABLE_VALUE"


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(DATA / "expected.npz") as npz:
        return {k: npz[k] for k in npz.files}


def copy_run(tmp_path: Path, run: str) -> Path:
    shutil.copytree(DATA / run, tmp_path / run)
    return tmp_path / run


def read_config(logdir: Path, run: str):
    return read_whole_file(detect(logdir / run / "projector_config.pbtxt", logdir))


# ---------------------------------------------------------------- the bundle reader


def test_every_tensor_equals_what_tensorflow_reads(expected) -> None:
    prefix = latest_checkpoint(DATA / "projector", DATA)
    assert prefix == DATA / "projector" / "embedding.ckpt-1"
    bundle = Bundle(prefix, DATA)
    numeric = {k.split(":", 1)[1]: v for k, v in expected.items() if k.startswith("projector:")}
    assert len(numeric) >= 150 and TF2_TAG in numeric and "bf/.ATTRIBUTES/VARIABLE_VALUE" in numeric
    for name, want in numeric.items():
        got = bundle.read(name, 1 << 30)
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert np.array_equal(got, want), name
    dtypes = {bundle.entries[n].type_name for n in numeric}
    assert dtypes >= {"float32", "float64", "float16", "int32", "int64", "bfloat16"}
    assert bundle.entries["_CHECKPOINTABLE_OBJECT_GRAPH"].type_name == "string"
    with pytest.raises(CheckpointError, match="string values, not numbers"):
        bundle.read("_CHECKPOINTABLE_OBJECT_GRAPH", 1 << 30)


def test_index_of_several_blocks() -> None:
    """5000 tensors: TensorFlow's index spills over its 256 KiB block into a second one."""
    from tsvis_live.formats.checkpoint import FOOTER_SIZE, _block, _block_entries, _handle

    data = (DATA / "many" / "many.index").read_bytes()
    _off, _size, pos = _handle(data, len(data) - FOOTER_SIZE, len(data), "index")  # metaindex
    index_off, index_size, _ = _handle(data, pos, len(data), "index")
    assert len(_block_entries(_block(data, index_off, index_size, "index"), "index")) >= 2
    bundle = Bundle(DATA / "many" / "many", DATA)
    assert len(bundle.entries) == 5000
    for i in range(5000):
        name = f"{hashlib.sha1(str(i).encode()).hexdigest()}/v{i}"
        assert bundle.read(name, 64).item() == float(i)


def test_tf1_saver_checkpoint(expected) -> None:
    bundle = Bundle(DATA / "projector_v1" / "model.ckpt-7", DATA)
    assert set(bundle.entries) == {"emb", "emb_half"}
    for name in bundle.entries:
        assert np.array_equal(bundle.read(name, 1 << 20), expected[f"projector_v1:{name}"])
    # the state file names /tmp/tfgen/... (outside this logdir: it moved since); the file name
    # beside the state file is what is read
    assert "/tmp/tfgen/" in (DATA / "projector_v1" / "checkpoint").read_text()
    assert latest_checkpoint(DATA / "projector_v1", DATA) == DATA / "projector_v1" / "model.ckpt-7"


# ---------------------------------------------------------------- the projector config


def test_config_names_checkpoint_tensors(expected) -> None:
    batch = read_config(DATA, "projector")
    assert batch.problems == [] and batch.skipped == 0
    (rec,) = batch.tensors
    assert (rec.tag, rec.step, rec.value.dtype) == (TF2_TAG, 1, np.float32)
    assert np.array_equal(rec.value, expected[f"projector:{TF2_TAG}"])
    assert list(rec.extras["labels"]) == [f"word{i}" for i in range(40)]

    batch = read_config(DATA, "projector_v1")  # model_checkpoint_path; "emb:0" means "emb"
    got = {r.tag: r for r in batch.tensors}
    assert set(got) == {"emb", "emb_half"} and {r.step for r in batch.tensors} == {7}
    assert np.array_equal(got["emb"].value, expected["projector_v1:emb"].astype(np.float32))
    assert np.array_equal(got["emb_half"].value, expected["projector_v1:emb_half"].astype(np.float32))


def test_an_entry_without_a_name_stands_for_every_2d_variable(tmp_path: Path) -> None:
    """TensorBoard's rule: a nameless entry lends its metadata to every 2-D variable."""
    run = copy_run(tmp_path, "projector")
    (run / "projector_config.pbtxt").write_text('embeddings { metadata_path: "metadata.tsv" }\n')
    bundle = Bundle(run / "embedding.ckpt-1", tmp_path)
    want = {n for n, e in bundle.entries.items() if len(e.shape) == 2}
    batch = read_config(tmp_path, "projector")
    assert batch.problems == []
    got = {r.tag: r for r in batch.tensors}
    assert set(got) == want and len(want) >= 152
    assert "labels" in got[TF2_TAG].extras  # 40 rows: the metadata fits
    assert "labels" not in got["layer_000_with_a_long_shared_prefix_name/.ATTRIBUTES/VARIABLE_VALUE"].extras


@pytest.mark.parametrize(("damage", "reason"), [
    ("missing tensor", "has no tensor 'nope'"),
    ("no checkpoint", "no checkpoint found"),
    ("corrupt data", "fails its CRC check"),
    ("missing data", "data file embedding.ckpt-1.data-00000-of-00001 does not exist"),
    ("truncated index", "not a TensorFlow checkpoint index"),
    ("corrupt index", "fails its CRC check"),
])
def test_unreadable_checkpoints_say_which_file_and_why(tmp_path: Path, damage: str, reason: str) -> None:
    run = copy_run(tmp_path, "projector")
    data, index = run / "embedding.ckpt-1.data-00000-of-00001", run / "embedding.ckpt-1.index"
    if damage == "missing tensor":
        (run / "projector_config.pbtxt").write_text(
            (run / "projector_config.pbtxt").read_text() + 'embeddings { tensor_name: "nope" }\n')
    elif damage == "no checkpoint":
        (run / "checkpoint").unlink()
    elif damage == "corrupt data":  # one bit of the embedding's own bytes
        entry = Bundle(run / "embedding.ckpt-1", tmp_path).entries[TF2_TAG]
        raw = bytearray(data.read_bytes())
        raw[entry.offset + entry.size // 2] ^= 0x01
        data.write_bytes(bytes(raw))
    elif damage == "missing data":
        data.unlink()
    elif damage == "truncated index":
        index.write_bytes(index.read_bytes()[:-100])
    elif damage == "corrupt index":
        raw = bytearray(index.read_bytes())
        raw[40] ^= 0xFF
        index.write_bytes(bytes(raw))
    batch = read_config(tmp_path, "projector")
    assert batch.skipped == len(batch.problems) >= 1
    assert any(reason in p and ("'nope'" in p if damage == "missing tensor" else TF2_TAG in p)
               for p in batch.problems), batch.problems
    if damage == "missing tensor":  # the readable entry is still served
        assert [r.tag for r in batch.tensors] == [TF2_TAG]
    if damage == "no checkpoint":
        assert "'projector'" in batch.problems[0]  # the directory it looked in, relative


# ---------------------------------------------------------------- served, reported, followed


def _wait(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_served_as_embeddings_and_reported_per_file(tmp_path: Path, start_server, expected) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    for run in ("projector", "projector_v1"):
        copy_run(logdir, run)
    bad = logdir / "broken"
    shutil.copytree(DATA / "projector", bad)
    (bad / "embedding.ckpt-1.data-00000-of-00001").unlink()
    srv = start_server(logdir)
    cat = srv.json("/api/getCategory")["data"]
    assert cat["projector"]["embedding"] == [TF2_TAG]
    assert cat["projector_v1"]["embedding"] == ["emb", "emb_half"]
    assert "embedding" not in cat.get("broken", {})
    assert srv.json("/api/projector", run="projector", tag=TF2_TAG)["data"][TF2_TAG] == [1]
    vectors, labels = srv.json("/api/getEmbedding", run="projector", tag=TF2_TAG, step=1)["data"]["1"]
    assert np.array_equal(np.array(vectors, dtype=np.float32), expected[f"projector:{TF2_TAG}"])
    assert labels[:2] == ["word0", "word1"]
    vectors, _ = srv.json("/api/getEmbedding", run="projector_v1", tag="emb", step=7)["data"]["7"]
    assert np.array_equal(np.array(vectors, dtype=np.float32), expected["projector_v1:emb"].astype(np.float32))

    files = {f["path"]: f for f in srv.json("/api/live/status")["data"]["files"]}
    broken = files["broken/projector_config.pbtxt"]
    assert broken["status"] == "partial" and broken["skipped"] == 1
    assert TF2_TAG in broken["error"] and "embedding.ckpt-1.data-00000-of-00001 does not exist" in broken["error"]
    good = files["projector/projector_config.pbtxt"]
    assert (good["status"], good["error"], good["skipped"], good["events"]) == ("ok", None, 0, 1)


def test_a_new_checkpoint_is_followed_without_the_config_changing(tmp_path: Path, start_server) -> None:
    logdir = tmp_path / "logs"
    run = copy_run(logdir, "projector")
    srv = start_server(logdir)
    assert srv.json("/api/projector", run="projector", tag=TF2_TAG)["data"][TF2_TAG] == [1]
    for suffix in (".index", ".data-00000-of-00001"):  # what the training job's next save leaves
        shutil.copy(run / f"embedding.ckpt-1{suffix}", run / f"embedding.ckpt-2{suffix}")
    (run / "checkpoint").write_text('model_checkpoint_path: "embedding.ckpt-2"\n'
                                    'all_model_checkpoint_paths: "embedding.ckpt-1"\n'
                                    'all_model_checkpoint_paths: "embedding.ckpt-2"\n')
    started = time.monotonic()
    steps = _wait(lambda: srv.json("/api/projector", run="projector", tag=TF2_TAG)["data"][TF2_TAG] == [2])
    assert steps, srv.json("/api/projector", run="projector", tag=TF2_TAG)
    # the state file's change names the config: read at once, not at the next 30 s full pass
    assert time.monotonic() - started < 20


def test_ingest_summary_lists_partly_read_configs_with_the_reason(tmp_path: Path) -> None:
    """`tsvis-live ingest` tells a partly read projector config apart from broken framing."""
    import json
    import subprocess
    import sys

    logdir = tmp_path / "logs"
    bad = logdir / "broken"
    shutil.copytree(DATA / "projector", bad)
    (bad / "embedding.ckpt-1.data-00000-of-00001").unlink()
    out = subprocess.run([sys.executable, "-m", "tsvis_live.cli", "ingest", "--logdir", str(logdir),
                          "--data-dir", str(tmp_path / "data"), "--json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["broken_files"] == []
    assert "does not exist" in summary["partial_files"]["broken/projector_config.pbtxt"]
