"""Issue 12 item 2: `tf.summary.trace_export` op graphs and RunMetadata step stats.

The logs are TensorFlow 2.21's own (tests/data/tf221, written by its generate.py with
tensorflow-cpu 2.21.0: TensorFlow is not installed in the test environment, see there why).
TensorBoard 2.21's graphs plugin, run in-process on the same logdir, is the reference: the
tags it lists as op graphs, the graph it serves for each, and the run metadata it serves.
torch's `add_graph` is written live by torch here.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
from google.protobuf import text_format
from tensorboard.compat.proto import config_pb2, graph_pb2

from tests.conftest import spawn_server

DATA = Path(__file__).resolve().parent / "data" / "tf221"
RUNS = ("trace", "trace_prof", "tf1")


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tf221")
    for run in RUNS:
        shutil.copytree(DATA / run, root / run)
    return root


@pytest.fixture(scope="module")
def server(logdir: Path, tmp_path_factory: pytest.TempPathFactory):
    srv = spawn_server(logdir, tmp_path_factory.mktemp("data"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def tensorboard(logdir: Path):
    """TensorBoard's graphs plugin over the same logdir, and a request context for it."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.graph import graphs_plugin

    mux = pem.EventMultiplexer()
    mux.AddRunsFromDirectory(str(logdir))
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, str(logdir))
    plugin = graphs_plugin.GraphsPlugin(base_plugin.TBContext(data_provider=provider, logdir=str(logdir),
                                                              multiplexer=mux))
    return plugin, context.RequestContext()


def walk(nodes: list[dict]) -> list[dict]:
    out = []
    for n in nodes:
        out.append(n)
        out.extend(walk(n["sub_net"]))
    return out


def graph_of(server, run: str, tag: str, **extra: str) -> list[dict]:
    body = server.json("/api/graph", run=run, tag=tag, **extra)
    return json.loads(body["data"])["net"]


def op_name(uid: str) -> str:
    """The op behind a leaf uid: an op that is also a scope sits at `scope/(name)`."""
    return re.sub(r"/\(([^/]*)\)$", "", uid)


def test_getcategory_lists_the_op_graphs_tensorboard_lists(server, tensorboard) -> None:
    plugin, ctx = tensorboard
    info = plugin.info_impl(ctx, experiment="")
    cat = server.json("/api/getCategory")["data"]
    assert set(info) == set(RUNS)
    for run, item in info.items():
        op_graphs = sorted(tag for tag, t in item["tags"].items() if t["op_graph"])
        keys = cat[run].get("graph", [])
        assert sorted(k[len("trace/"):] for k in keys if k.startswith("trace/")) == op_graphs, run
        assert ("c_graph" in keys) == (item["run_graph"] or bool(op_graphs)), run
        assert "s_graph" not in keys
    assert cat["trace"]["graph"] == ["c_graph", "trace/my_func", "trace/second"]
    assert cat["tf1"]["graph"] == ["c_graph"]  # its step_1 is a profile, not an op graph


@pytest.mark.parametrize(("run", "tag"), [("trace", "my_func"), ("trace", "second"), ("trace_prof", "profiled")])
def test_trace_graph_is_tensorboards_op_graph(server, tensorboard, run: str, tag: str) -> None:
    plugin, ctx = tensorboard
    body, _mime = plugin.graph_impl(ctx, run, tag, is_conceptual=False, experiment="")
    reference = text_format.Parse(body, graph_pb2.GraphDef())
    net = graph_of(server, run, f"trace/{tag}")
    leaves = {op_name(n["uid"]): n for n in walk(net) if not n["sub_net"]}
    assert {name: n["op"] for name, n in leaves.items()} == {n.name: n.op for n in reference.node}
    assert len(reference.node) >= 3
    want: dict[tuple[str, str], bool] = {}  # (source, destination) -> only control inputs
    for node in reference.node:
        for ref in node.input:
            src = re.sub(r":\d+$", "", ref.lstrip("^"))
            want[(src, node.name)] = want.get((src, node.name), True) and ref.startswith("^")
    leaf_uids = {n["uid"] for n in leaves.values()}
    got = {(op_name(n["uid"]), op_name(t["id"])): t["control"] == "true"
           for n in leaves.values() for t in n["targets"] if t["id"] in leaf_uids}
    assert got == want
    assert len(want) >= 2


def test_trace_graph_keeps_name_scopes(server) -> None:
    """The traced function's `dense` and `loss` scopes are expandable nodes of its graph."""
    net = graph_of(server, "trace", "trace/my_func")
    by_uid = {n["uid"]: n for n in walk(net)}
    assert [n["label"] for n in net] == ["graph_1", "graph_2", "graph_3"]  # TensorBoard's merge scopes
    assert by_uid["graph_3/dense"]["op"] == "" and by_uid["graph_3/dense"]["sub_net"]
    assert by_uid["graph_3/dense/MatMul"]["op"] == "MatMul"
    assert {t["id"] for t in by_uid["graph_3/dense"]["targets"]} >= {"graph_3/loss"}


def test_c_graph_of_a_trace_only_run_is_its_newest_trace(server) -> None:
    assert graph_of(server, "trace", "c_graph") == graph_of(server, "trace", "trace/second")
    tf1 = graph_of(server, "tf1", "c_graph")  # a run graph (GraphDef) wins over run metadata
    assert {op_name(n["uid"]) for n in walk(tf1) if not n["sub_net"]} >= {"layer/MatMul", "total", "x"}


def test_step_stats_equal_tensorboards_run_metadata(server, tensorboard) -> None:
    plugin, ctx = tensorboard
    body, _mime = plugin.run_metadata_impl(ctx, "", "tf1", "step_1")
    reference = text_format.Parse(body, config_pb2.RunMetadata())
    listing = server.json("/api/run_metadata", run="tf1")["data"]
    assert listing == {"step_1": {"function_graphs": 0, "partition_graphs": 1, "op_graph": False,
                                  "devices": [d.device for d in reference.step_stats.dev_stats],
                                  "nodes": sum(len(d.node_stats) for d in reference.step_stats.dev_stats)}}
    ours = server.json("/api/run_metadata", run="tf1", tag="step_1")["data"]["step_1"]
    assert [d["device"] for d in ours["devices"]] == [d.device for d in reference.step_stats.dev_stats]
    for dev, ref in zip(ours["devices"], reference.step_stats.dev_stats, strict=True):
        assert [(n["node_name"], n["all_start_micros"], n["op_start_rel_micros"], n["op_end_rel_micros"],
                 n["all_end_rel_micros"], n["output_bytes"]) for n in dev["nodes"]] == [
            (ns.node_name, ns.all_start_micros, ns.op_start_rel_micros, ns.op_end_rel_micros,
             ns.all_end_rel_micros, sum(o.tensor_description.allocation_description.requested_bytes for o in ns.output))
            for ns in ref.node_stats]
    assert len(ours["devices"][0]["nodes"]) >= 8  # every executed node of a FULL_TRACE run


def test_step_stats_laid_over_the_run_graph(server) -> None:
    stats = server.json("/api/run_metadata", run="tf1", tag="step_1")["data"]["step_1"]
    node = {n["node_name"]: n for d in stats["devices"] for n in d["nodes"]}["layer/MatMul"]
    net = graph_of(server, "tf1", "c_graph", stats="step_1")
    leaves = {op_name(n["uid"]): n for n in walk(net) if not n["sub_net"]}
    attrs = leaves["layer/MatMul"]["attrs"]
    assert attrs["_stats/compute_us"] == str(node["op_end_rel_micros"] - node["op_start_rel_micros"])
    assert attrs["_stats/total_us"] == str(node["all_end_rel_micros"])
    assert attrs["_stats/device"].endswith("CPU:0")
    assert "_stats/device" not in leaves["init"]["attrs"]  # not run in that step
    plain = {op_name(n["uid"]): n for n in walk(graph_of(server, "tf1", "c_graph")) if not n["sub_net"]}
    assert not any(k.startswith("_stats/") for n in plain.values() for k in n["attrs"])


def test_graph_errors_name_what_is_missing(server) -> None:
    r = server.get("/api/graph", run="trace", tag="bogus")
    assert r.status_code == 400 and "trace/<tag>" in r.json()["msg"]
    r = server.get("/api/graph", run="trace", tag="trace/nope")
    assert r.status_code == 404 and "nope" in r.json()["msg"]
    r = server.get("/api/graph", run="tf1", tag="trace/step_1")
    assert r.status_code == 404 and "/api/run_metadata" in r.json()["msg"]
    r = server.get("/api/graph", run="tf1", tag="c_graph", stats="nope")
    assert r.status_code == 404 and "nope" in r.json()["msg"]
    r = server.get("/api/run_metadata", run="trace_prof", tag="nope")
    assert r.status_code == 404


def test_torch_add_graph_step_stats_are_reachable(tmp_path: Path, start_server) -> None:
    """torch (and Lightning, which calls it) writes its GraphDef and an empty profile `step1`."""
    import torch
    from torch import nn
    from torch.utils.tensorboard import SummaryWriter

    logdir = tmp_path / "logs"
    with SummaryWriter(str(logdir / "torch")) as w:
        w.add_graph(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), torch.zeros(1, 4))
    srv = start_server(logdir)
    assert srv.json("/api/getCategory")["data"]["torch"]["graph"] == ["c_graph"]
    assert srv.json("/api/run_metadata", run="torch")["data"] == {
        "step1": {"function_graphs": 0, "partition_graphs": 0, "op_graph": False,
                  "devices": ["/device:CPU:0"], "nodes": 0}}
    full = srv.json("/api/run_metadata", run="torch", tag="step1")["data"]["step1"]
    assert full["devices"] == [{"device": "/device:CPU:0", "nodes": []}]
    assert srv.get("/api/graph", run="torch", tag="trace/step1").status_code == 404
    assert graph_of(srv, "torch", "c_graph", stats="step1") == graph_of(srv, "torch", "c_graph")


def test_s_graph_of_a_run_with_traces_lists_its_op_graphs(server) -> None:
    """The TS-VIS structure button is live once a run lists two graph tags: it gets every op
    graph of the run as a model list instead of a 404."""
    body = json.loads(server.json("/api/graph", run="trace", tag="s_graph")["data"])
    assert body["net"] == [graph_of(server, "trace", "trace/my_func"), graph_of(server, "trace", "trace/second")]
    assert server.get("/api/graph", run="tf1", tag="s_graph").status_code == 404  # no trace, no model


def test_tsvis_frontend_draws_a_trace_only_run(tmp_path: Path) -> None:
    """The unmodified TS-VIS 0.4.2 page, in Chromium: the trace shows through c_graph, the
    structure button answers 200, and no call fails, no page error."""
    from playwright.sync_api import sync_playwright

    from tests.test_tsvis_frontend_browser import CHROMIUM, LAUNCH_ARGS, _require_frontend

    _require_frontend()
    shutil.copytree(DATA / "trace", tmp_path / "logs" / "trace")
    srv = spawn_server(tmp_path / "logs", tmp_path / "data", "--ui", "tsvis")
    calls: list[tuple[int, str]] = []
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.on("response", lambda r: calls.append((r.status, r.url)) if "/api/graph" in r.url else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(srv.url + "/?id=demo&trainJobName=job")
                page.wait_for_load_state("networkidle")
                page.get_by_text("模型结构", exact=True).first.click()
                page.get_by_text("graph_3", exact=True).first.wait_for(timeout=30_000)
                page.locator("#s-graph").click()
                deadline = time.monotonic() + 30
                while not any("tag=s_graph" in u for _s, u in calls) and time.monotonic() < deadline:
                    page.wait_for_timeout(200)
                page.get_by_text("graph_3", exact=True).first.wait_for(timeout=30_000)
            finally:
                browser.close()
    finally:
        srv.stop()
    assert [s for s, u in calls if "tag=c_graph" in u] == [200]
    assert [s for s, u in calls if "tag=s_graph" in u] == [200]
    assert not errors
