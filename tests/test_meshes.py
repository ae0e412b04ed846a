"""Meshes: tensorboardX `add_mesh` and TensorBoard's mesh plugin summaries, decoded, stored and
served by /api/mesh/* (and getCategory?extensions=1), bad values and bad requests included.

TensorBoard's `summary_v2.mesh_pb` (and `summary.pb`/`summary_v2.mesh`) need TensorFlow for
their dtypes, which is not installed: the TensorBoard values here are built exactly as
`mesh_pb` builds them, with TensorBoard's own `metadata.create_summary_metadata`,
`get_instance_name`, `get_components_bitmask` and `tensor_util.make_tensor_proto`.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.mesh import metadata, plugin_data_pb2
from tensorboard.util import tensor_util
from tensorboardX import SummaryWriter

from tests.writers import decode_logdir
from tsvis_live.formats import tfrecord
from tsvis_live.formats.events import DecodeError, EventDecoder
from tsvis_live.http.api_core import ORDER
from tsvis_live.records import Batch

RNG = np.random.default_rng(11)
VERTS = RNG.uniform(-1, 1, (1, 6, 3)).astype(np.float32)
FACES = np.array([[[0, 1, 2], [2, 3, 4], [3, 4, 5]]], dtype=np.int32)
COLORS = RNG.integers(0, 256, (1, 6, 3)).astype(np.uint8)
CLOUD = RNG.uniform(-2, 2, (2, 40, 3)).astype(np.float32)  # a batch of two point clouds
CONFIG = {"camera": {"cls": "PerspectiveCamera", "fov": 60}}
CT = plugin_data_pb2.MeshPluginData


def write_tbx(logdir: Path) -> None:
    with SummaryWriter(str(logdir / "tbx")) as w:
        w.add_mesh("solid", VERTS, colors=COLORS, faces=FACES, config_dict=CONFIG, global_step=1)
        w.add_mesh("solid", VERTS * 2, colors=COLORS, faces=FACES, config_dict=CONFIG, global_step=2)
        w.add_mesh("cloud", CLOUD, global_step=5)


def tb_values(name: str, vertices, faces=None, colors=None, config=None) -> list[summary_pb2.Summary.Value]:
    """What `tensorboard.plugins.mesh.summary_v2.mesh_pb` puts in its Summary (see the module doc)."""
    parts = [(vertices, CT.VERTEX, np.float32), (faces, CT.FACE, np.int32), (colors, CT.COLOR, np.uint8)]
    parts = [p for p in parts if p[0] is not None]
    components = metadata.get_components_bitmask([ct for _a, ct, _d in parts])
    out = []
    for arr, ct, dtype in parts:
        md = metadata.create_summary_metadata(name, None, ct, components, list(arr.shape),
                                              json_config="{}" if config is None else config)
        out.append(summary_pb2.Summary.Value(tag=metadata.get_instance_name(name, ct), metadata=md,
                                             tensor=tensor_util.make_tensor_proto(arr.astype(dtype))))
    return out


def event(step: int, values: list[summary_pb2.Summary.Value]) -> bytes:
    ev = event_pb2.Event(wall_time=1_700_000_000.0 + step, step=step)
    ev.summary.value.extend(values)
    return ev.SerializeToString()


def write_records(path: Path, events: list[bytes], append: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    head = [] if append else [event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString()]
    with open(path, "ab" if append else "wb") as f:
        f.write(b"".join(tfrecord.encode_record(e) for e in head + events))


def write_tb(logdir: Path) -> None:
    """Step 1 with metadata on every part; step 2 without (TF2 writers send it once per tag)."""
    first = tb_values("tb_mesh", VERTS, FACES, COLORS)
    again = [summary_pb2.Summary.Value(tag=v.tag, tensor=v.tensor) for v in tb_values("tb_mesh", VERTS + 1, FACES, COLORS)]
    write_records(logdir / "tb" / "events.out.tfevents.1.tb", [event(1, first), event(2, again)])


def bad_mesh_event(step: int) -> bytes:
    """A good scalar beside a vertex tensor of shape [4, 2] (not [batch, N, 3])."""
    bad = tb_values("broken", np.zeros((1, 4, 3), np.float32))[0]
    bad.tensor.CopyFrom(tensor_util.make_tensor_proto(np.zeros((4, 2), np.float32)))
    value = summary_pb2.Summary.Value(tag="loss", simple_value=0.5)
    return event(step, [value, bad])


def decode_file(path: Path) -> tuple[Batch, int]:
    batch, errors = Batch(), 0
    decoder = EventDecoder()
    for record in tfrecord.scan(path.read_bytes()):
        try:
            decoder.decode(record.data, batch)
        except DecodeError:
            errors += 1
    return batch, errors


def tensors_of(batch: Batch) -> dict[tuple[str, int], object]:
    return {(t.tag, t.step): t for t in batch.tensors}


# -- decoding --------------------------------------------------------------------------------
def test_tensorboardx_add_mesh_decodes_to_what_was_written(tmp_path):
    write_tbx(tmp_path)
    batch = decode_logdir(tmp_path)["tbx"]
    got = tensors_of(batch)
    assert sorted(got) == [("cloud_VERTEX", 5), ("solid_COLOR", 1), ("solid_COLOR", 2), ("solid_FACE", 1),
                           ("solid_FACE", 2), ("solid_VERTEX", 1), ("solid_VERTEX", 2)]
    v, f, c = got[("solid_VERTEX", 1)], got[("solid_FACE", 1)], got[("solid_COLOR", 1)]
    assert v.kind == "mesh" and v.value.dtype == np.float32 and np.array_equal(v.value, VERTS)
    assert f.value.dtype == np.int32 and np.array_equal(f.value, FACES)  # tensorboardX writes floats
    assert c.value.dtype == np.uint8 and np.array_equal(c.value, COLORS)
    assert np.array_equal(got[("solid_VERTEX", 2)].value, VERTS * 2)
    assert v.meta["name"] == "solid" and v.meta["part"] == "vertex"
    assert v.meta["config"] == '{"camera": {"cls": "PerspectiveCamera", "fov": 60}}'
    assert np.array_equal(got[("cloud_VERTEX", 5)].value, CLOUD) and got[("cloud_VERTEX", 5)].meta["shape"] == [2, 40, 3]
    assert batch.plugins["solid_1"] == batch.plugins["solid_VERTEX"] == "mesh"
    assert batch.problems == [] and batch.skipped == 0


def test_tensorboard_mesh_summary_decodes_with_and_without_repeated_metadata(tmp_path):
    write_tb(tmp_path)
    batch = decode_logdir(tmp_path)["tb"]
    got = tensors_of(batch)
    assert sorted(got) == sorted((f"tb_mesh_{p}", s) for p in ("VERTEX", "FACE", "COLOR") for s in (1, 2))
    assert np.array_equal(got[("tb_mesh_VERTEX", 1)].value, VERTS)
    assert np.array_equal(got[("tb_mesh_VERTEX", 2)].value, VERTS + 1)
    assert np.array_equal(got[("tb_mesh_FACE", 2)].value, FACES) and got[("tb_mesh_FACE", 2)].value.dtype == np.int32
    assert np.array_equal(got[("tb_mesh_COLOR", 1)].value, COLORS)
    assert got[("tb_mesh_VERTEX", 1)].meta["components"] == 0b1110
    assert got[("tb_mesh_VERTEX", 2)].meta["name"] == "tb_mesh"  # from the first value's metadata


def test_malformed_mesh_value_is_skipped_with_a_reason_and_the_file_reads_on(tmp_path):
    path = tmp_path / "events.out.tfevents.1.bad"
    garbage = tb_values("junk", VERTS)[0]
    garbage.metadata.plugin_data.content = b"\xff\xff\xff"  # not a MeshPluginData
    write_records(path, [bad_mesh_event(1), event(2, [garbage]), event(3, tb_values("fine", VERTS))])
    batch, errors = decode_file(path)
    assert errors == 2  # each record with a bad value is counted once
    assert [(t.tag, t.step) for t in batch.tensors] == [("fine_VERTEX", 3)]
    assert batch.scalars["loss"].values == [0.5]  # the bad value's neighbour is kept
    assert batch.problems == [
        "Mesh 'broken' at step 1: the vertices have shape [4, 2], not [batch, N, 3].",
        "Mesh tag 'junk_VERTEX': the metadata is not a MeshPluginData message.",
    ]


def test_face_indices_must_be_whole_and_in_range(tmp_path):
    path = tmp_path / "events.out.tfevents.1.f"
    half = tb_values("half", VERTS, FACES)
    half[1].tensor.CopyFrom(tensor_util.make_tensor_proto(FACES.astype(np.float32) + 0.5))
    write_records(path, [event(1, half)])
    batch, errors = decode_file(path)
    assert errors == 1 and [t.tag for t in batch.tensors] == ["half_VERTEX"]
    assert batch.problems == ["Mesh 'half' at step 1: face indices are not whole numbers."]


# -- served ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mesh_server(tmp_path_factory, backend):
    from tests.conftest import spawn_server

    root = tmp_path_factory.mktemp("meshes")
    logdir = root / "logs"
    write_tbx(logdir)
    write_tb(logdir)
    out_of_range = tb_values("wild", VERTS, np.array([[[0, 1, 2], [4, 5, 99]]]), COLORS[:, :5])
    write_records(logdir / "tb" / "events.out.tfevents.2.tb", [event(3, out_of_range)])
    write_records(logdir / "bad" / "events.out.tfevents.1.bad", [bad_mesh_event(1), event(2, tb_values("ok", VERTS))])
    server = spawn_server(logdir, root / "data")
    try:
        yield server, logdir
    finally:
        server.stop()


def data(server, **query):
    return server.json("/api/mesh/data", **query)["data"]


def array(part: dict) -> np.ndarray:
    raw = base64.b64decode(part["data"])
    return np.frombuffer(raw, dtype=np.dtype(part["dtype"]).newbyteorder("<")).reshape(part["shape"])


def test_get_category_lists_meshes_only_when_asked(mesh_server):
    server, _ = mesh_server
    plain = server.json("/api/getCategory")["data"]
    for sections in plain.values():
        assert list(sections) == [k for k in ORDER if k in sections]  # the TS-VIS sidebar stays intact
    ext = server.json("/api/getCategory", extensions="1")["data"]
    assert ext["tbx"]["mesh"] == ["cloud", "solid"]
    assert ext["tb"]["mesh"] == ["tb_mesh", "wild"]
    assert ext["bad"]["mesh"] == ["ok"]


def test_mesh_tags_group_the_parts_with_their_config(mesh_server):
    server, _ = mesh_server
    tags = server.json("/api/mesh/tags")["data"]
    assert tags["tbx"]["solid"] == {"parts": ["vertex", "face", "color"], "config": CONFIG, "samples": 1,
                                    "steps": 2, "last_step": 2}
    assert tags["tbx"]["cloud"] == {"parts": ["vertex"], "config": None, "samples": 2, "steps": 1, "last_step": 5}
    assert tags["tb"]["tb_mesh"]["config"] == {} and tags["tb"]["tb_mesh"]["steps"] == 2
    assert list(server.json("/api/mesh/tags", run="tb")["data"]) == ["tb"]
    steps = server.json("/api/mesh/steps", run="tbx", tag="solid")["data"]["solid"]
    assert [(s["step"], s["vertices"], s["faces"], s["colors"]) for s in steps] == [(1, 6, 3, True), (2, 6, 3, True)]


def test_mesh_data_equals_what_was_written_in_both_encodings(mesh_server):
    server, _ = mesh_server
    d = data(server, run="tbx", tag="solid", step=1)
    assert (d["step"], d["sample"], d["samples"], d["config"], d["notes"]) == (1, 0, 1, CONFIG, [])
    assert np.array_equal(array(d["vertices"]), VERTS[0])
    assert np.array_equal(array(d["faces"]), FACES[0]) and np.array_equal(array(d["colors"]), COLORS[0])
    assert np.array_equal(array(data(server, run="tbx", tag="solid")["vertices"]), VERTS[0] * 2)  # last step
    j = data(server, run="tbx", tag="solid", step=1, encoding="json")
    assert np.array_equal(np.array(j["vertices"]["data"], np.float32).reshape(6, 3), VERTS[0])
    assert j["faces"]["data"] == FACES[0].reshape(-1).tolist() and j["colors"]["data"] == COLORS[0].reshape(-1).tolist()
    cloud = data(server, run="tbx", tag="cloud", sample=1)
    assert np.array_equal(array(cloud["vertices"]), CLOUD[1]) and cloud["faces"] is None and cloud["colors"] is None
    tb = data(server, run="tb", tag="tb_mesh", step=2)
    assert np.array_equal(array(tb["vertices"]), VERTS[0] + 1) and np.array_equal(array(tb["faces"]), FACES[0])


def test_mesh_data_leaves_out_faces_past_the_vertices_and_mismatched_colors(mesh_server):
    server, _ = mesh_server
    d = data(server, run="tb", tag="wild")
    assert array(d["faces"]).tolist() == [[0, 1, 2]]
    assert d["colors"] is None
    assert d["notes"] == ["1 of 2 faces name a vertex past the 6 vertices and are left out.",
                          "The colors do not match the 6 vertices of sample 0 and are not used."]


@pytest.mark.parametrize("query, status, msg", [
    ({"run": "tbx", "tag": "solid", "step": "two"}, 400, "Parameter 'step' must be an integer, got 'two'."),
    ({"run": "tbx", "tag": "solid", "sample": "1"}, 400,
     "Parameter 'sample' must be below 1 (the mesh's batch size), got '1'."),
    ({"run": "tbx", "tag": "solid", "sample": "-1"}, 400, "Parameter 'sample' must be an integer between 0 and"),
    ({"run": "tbx", "tag": "solid", "encoding": "xml"}, 400,
     "Parameter 'encoding' must be one of 'base64', 'json', got 'xml'."),
    ({"run": "tbx"}, 400, "Missing required parameter 'tag'."),
    ({"run": "tbx", "tag": "nope"}, 404, "Mesh 'nope' not found in run 'tbx'."),
    ({"run": "tbx", "tag": "solid", "step": "9"}, 404, "Mesh 'solid' of run 'tbx' has no vertices at step 9."),
])
def test_mesh_data_refuses_bad_requests_with_a_sentence(mesh_server, query, status, msg):
    server, _ = mesh_server
    r = server.get("/api/mesh/data", **query)
    assert r.status_code == status and r.json()["msg"].startswith(msg), r.text


def test_mesh_routes_refuse_unknown_runs(mesh_server):
    server, _ = mesh_server
    for path, query, msg in [("/api/mesh/tags", {"run": "nope"}, "Run 'nope' not found."),
                             ("/api/mesh/steps", {"run": "nope", "tag": "solid"}, "Mesh 'solid' not found in run 'nope'.")]:
        r = server.get(path, **query)
        assert (r.status_code, r.json()["msg"]) == (404, msg)


def test_a_malformed_mesh_value_is_a_health_problem_not_a_broken_file(mesh_server):
    server, logdir = mesh_server
    status = server.json("/api/live/status")["data"]
    bad = [f for f in status["files"] if f["path"].startswith("bad/")]
    assert bad and bad[0]["status"] == "ok" and bad[0]["skipped"] == 1
    problems = [p for p in status["problems"] if p["area"] == "values"]
    assert problems and problems[0]["subject"] == "bad/events.out.tfevents.1.bad"
    assert "Mesh 'broken' at step 1: the vertices have shape [4, 2], not [batch, N, 3]." in problems[0]["message"]
    # the file keeps being read: a mesh appended later is served
    write_records(logdir / "bad" / "events.out.tfevents.1.bad", [event(4, tb_values("later", VERTS))], append=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "later" in server.json("/api/mesh/tags", run="bad")["data"]["bad"]:
            break
        time.sleep(0.2)
    assert np.array_equal(array(data(server, run="bad", tag="later")["vertices"]), VERTS[0])
    assert httpx.get(server.url + "/api/mesh/tags").status_code == 200
