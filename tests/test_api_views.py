"""Graph, embeddings, exceptions, hyperparameters, custom layouts and PR curves."""

from __future__ import annotations

import base64
import json
import math
import time

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from tests.conftest import KERAS_MODEL, open_stored
from tests.pool_workers import pool_workers
from tsvis_live.compute import exceptions as ex
from tsvis_live.compute import projection
from tsvis_live.store import schema


def _tensor(api_expected, writer_run, kind, tag):
    for _sub, k, t, step, _wall, value, extras, meta in api_expected[writer_run].tensors:
        if k == kind and t == tag and value.size:
            return step, value, extras, meta
    raise AssertionError(f"the {writer_run} writer wrote no {kind} {tag!r}: the fixture changed")


def test_structure_graph_from_json_model(api):
    data = api("/api/graph", run="special", tag="s_graph")
    assert isinstance(data, str)  # the frontend JSON.parses it
    graph = json.loads(data)
    assert set(graph) == {"net", "operator"} and isinstance(graph["net"], list)
    names = {n["label"] for n in graph["net"][0]}
    assert names == {layer["name"] for layer in KERAS_MODEL["config"]["layers"]}
    conv = next(n for n in graph["net"][0] if n["label"] == "conv1")
    assert [t["id"] for t in conv["targets"]] == ["relu1"]


def test_computation_graph_from_graphdef(api):
    graph = json.loads(api("/api/graph", run="torch", tag="c_graph"))
    assert graph["net"] and graph["operator"]
    uids = json.dumps(graph["net"])
    assert "Linear" in uids  # torch's add_graph of Sequential(Linear, ReLU, Linear)


def test_projector_meta_and_pca(api, api_expected):
    step, value, extras, _meta = _tensor(api_expected, "tsvis", "embedding", "emb")
    meta = api("/api/projector", run="tsvis", tag="emb")
    assert meta["emb"] == [step] and meta["shape"] == [10, 4]
    assert meta["sample"] is True and meta["sample_type"] == "image"
    data = api("/api/projector_data", run="tsvis", tag="emb", step=step, method="pca", dims=2)
    points, labels = data[str(step)]
    assert labels == extras["labels"].tolist()
    np.testing.assert_allclose(points, projection.project(value, "pca", 2), atol=1e-9)
    three = api("/api/projector_data", run="tsvis", tag="emb", step=step, method="PCA", dims=3)[str(step)][0]
    assert len(three) == 10 and all(len(p) == 3 for p in three)


def test_projections_are_cached_persistently(server, server_process, api):
    q = {"run": "torch", "tag": "emb", "step": 3, "method": "tsne", "dims": 2}
    t0 = time.perf_counter()
    first = httpx.get(server + "/api/projector_data", params=q, timeout=120).json()["data"]["3"]
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    second = httpx.get(server + "/api/projector_data", params=q, timeout=120).json()["data"]["3"]
    warm = time.perf_counter() - t0
    assert first == second and len(first[0]) == 10 and all(len(p) == 2 for p in first[0])
    assert [str(label) for label in first[1]] == [str(i) for i in range(10)]  # metadata.tsv
    assert warm < cold
    sid = api("/api/init")["session_id"]
    db = open_stored(server_process.log_path.parent / "data", sid)
    try:
        keys = db.read_sync(lambda conn: list(conn.execute(select(schema.computed.c.key)).scalars()))
    finally:
        db.close()
    matrix = np.asarray(api("/api/getEmbedding", run="torch", tag="emb", step=3)["3"][0])
    assert projection.projection_key(matrix, "tsne", 2) in keys


def test_a_dead_tsne_worker_is_replaced(server, server_process, api):
    """The OOM killer takes the idle t-SNE worker: the next t-SNE still answers (before: the
    broken pool answered 500 to every t-SNE until a restart)."""
    import os
    import signal

    api("/api/projector", run="tsvis", tag="emb")  # warms a t-SNE worker up
    deadline = time.monotonic() + 60
    while not (workers := pool_workers(server_process.proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers, "no t-SNE worker process was started"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)  # the pool notices the death and breaks
    step = api("/api/projector", run="tsvis", tag="emb")["emb"][0]
    data = api("/api/projector_data", run="tsvis", tag="emb", step=step, method="tsne", dims=3)
    points, _labels = data[str(step)]
    assert len(points) == 10 and all(len(p) == 3 and all(map(math.isfinite, p)) for p in points)
    assert set(pool_workers(server_process.proc.pid)).isdisjoint(workers)


def test_embedding_raw_vectors(api, api_expected):
    step, value, _extras, _meta = _tensor(api_expected, "tsvis", "embedding", "emb")
    for path in ("/api/getEmbedding", "/api/projector_raw"):
        vectors, _labels = api(path, run="tsvis", tag="emb", step=step)[str(step)]
        np.testing.assert_allclose(vectors, value.reshape(len(value), -1), rtol=1e-6)


def test_projector_samples(api, api_expected):
    samples = {t: extras["sample"] for _s, k, t, _st, _w, _v, extras, _m in api_expected["tsvis"].tensors
               if k == "embedding" and "sample" in extras}
    image = api("/api/projector_sample", run="tsvis", tag="emb", index=3)
    assert image.startswith("data:image/png;base64,")
    png = base64.b64decode(image.split(",", 1)[1])
    import io

    from PIL import Image

    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), samples["emb"][3])
    assert api("/api/projector_sample", run="tsvis", tag="words", index=1) == str(samples["words"][1])
    audio = api("/api/projector_sample", run="tsvis", tag="voices", index=2)
    assert base64.b64decode(audio.split(",", 1)[1]) == bytes(samples["voices"][2])


def test_projector_sample_index_out_of_range(server):
    r = httpx.get(server + "/api/projector_sample", params={"run": "tsvis", "tag": "emb", "index": 10})
    assert r.status_code == 404 and "10" in r.json()["msg"]


def test_exception_views(api, api_expected):
    step, grad, _extras, _meta = _tensor(api_expected, "tsvis", "exception", "grad")
    box = api("/api/exception", run="tsvis", tag="grad")["grad"]
    assert box == {"step": [step], "box": [ex.box_stats(grad)]}
    shape, lo, hi, mean, matrix = api("/api/exception_data", run="tsvis", tag="grad", step=step)[str(step)]
    assert shape == [3, 4] and lo == grad.min() and hi == grad.max()
    assert mean == pytest.approx(grad.mean())
    np.testing.assert_allclose(matrix, grad)
    [hist] = api("/api/exception_hist", run="tsvis", tag="grad", step=step)[str(step)]
    assert hist[0] == grad.min() and hist[1] == grad.max()
    assert sum(c for _l, _r, c in hist[2]) == grad.size and len(hist[2]) == 100
    values, coords = api("/api/exception_box", run="tsvis", tag="grad", step=step, up=0.5, down=-0.5)[str(step)]
    expected = [(i, j) for i in range(3) for j in range(4) if not -0.5 <= grad[i, j] <= 0.5]
    assert [tuple(c) for c in coords] == expected
    assert values == [grad[i, j] for i, j in expected]


def test_hyperparameters_match_metrics_by_name(api):
    data = api("/api/hyperparm", run="torch/hp")
    [group] = data["hparamsInfo"]
    hp = {h["name"]: h["data"] for h in next(iter(group.values()))["hparams"]}
    assert hp == {"lr": 0.01, "bs": 32.0, "opt": "adam", "nesterov": 1.0}
    assert data["metrics"] == [{"tag": "hp/acc", "value": [0.75]}]
    tsvis = api("/api/hyperparm", run="tsvis")
    assert list(tsvis["hparamsInfo"][0]) == ["g1"]
    hp = {h["name"]: h["data"] for h in tsvis["hparamsInfo"][0]["g1"]["hparams"]}
    assert hp == {"lr": 0.1, "opt": "adam", "amp": True}
    for metric in tsvis["metrics"] + data["metrics"]:  # the frontend calls toFixed on each
        assert all(isinstance(v, float) and math.isfinite(v) for v in metric["value"])


def test_custom_layouts(api, api_expected):
    layouts = api("/api/getCustom")["layouts"]
    assert [layout for _run, layout in api_expected["torch"].layouts][0] in layouts


def test_roc_curves(api, api_expected):
    step, value, _e, _m = _tensor(api_expected, "tb", "pr_curve", "tpr")
    [curve] = api("/api/getRoc", run="tb", tag="tpr")["tpr"]
    assert curve["step"] == step
    np.testing.assert_allclose(curve["tp"], value[0], rtol=1e-6)
    np.testing.assert_allclose(curve["precision"], value[4], rtol=1e-6)
    assert {"fpr", "tpr", "auc_roc", "auc_pr", "thresholds"} <= set(curve)
