"""/api/init, /api/getCategory and the error rules (statuses, envelope, refused names)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import full_run
from tsvis_live.compute.natsort import natsorted
from tsvis_live.http.api_core import ORDER


def test_init_answers_session_and_sets_cookie(server):
    r = httpx.get(server + "/api/init", params={"id": "anyone", "trainJobName": "job"})
    body = r.json()
    assert r.status_code == 200 and body["code"] == 200 and body["msg"] == "ok"
    assert body["data"]["msg"] == "success"
    sid = body["data"]["session_id"]
    assert r.cookies.get("session_id") == sid
    # --logdir mode: one session whatever id/trainJobName say
    again = httpx.get(server + "/api/init", params={"id": "other", "trainJobName": "x"}).json()
    assert again["data"]["session_id"] == sid


def test_category_lists_every_run_and_tag(api, api_expected):
    cat = api("/api/getCategory")
    assert set(api_expected) <= set(cat)
    for run, sections in cat.items():
        assert list(sections) == [k for k in ORDER if k in sections], run  # only keys the frontend knows
    for writer_run, exp in api_expected.items():
        for sub, tag, *_ in exp.scalars:
            run = full_run(writer_run, sub)
            assert tag in cat[run]["scalar"][tag.split("/", 1)[0]], (run, tag)
        for sub, tag, *_ in exp.histograms:
            stat = cat[full_run(writer_run, sub)]["statistic"]
            assert tag in stat["histogram"] and tag in stat["distribution"]
        for sub, kind, tag, *_ in exp.blobs:
            assert any(t == tag or t.startswith(tag + "/") for t in cat[full_run(writer_run, sub)]["media"][kind])
        for sub, kind, tag, _s, _w, value, _e, _m in exp.tensors:
            key = {"embedding": "embedding", "exception": "exception", "pr_curve": "roc"}[kind]
            if kind == "embedding" and value.size == 0:
                continue  # sample-only embeddings have nothing to project
            assert tag in cat[full_run(writer_run, sub)][key]
        for sub, _record in exp.hparams:
            assert cat[full_run(writer_run, sub)]["hyperparm"] == ["true"]
    assert cat["special"]["graph"] == ["s_graph", "c_graph"]
    assert "c_graph" in cat["torch"]["graph"]
    assert "words" not in cat["tsvis"].get("embedding", [])  # samples only


def test_category_tags_sort_naturally(api):
    cat = api("/api/getCategory")
    assert cat["special"]["media"]["text"] == ["t2/text_summary", "t10/text_summary"]
    for sections in cat.values():
        for tags in sections.get("scalar", {}).values():
            assert tags == natsorted(tags)
    assert list(cat) == natsorted(cat)


@pytest.mark.parametrize("path, query, missing", [
    ("/api/scalar", {"run": "torch"}, "tag"),
    ("/api/scalar", {"tag": "loss"}, "run"),
    ("/api/histogram", {"run": "torch"}, "tag"),
    ("/api/distribution", {"tag": "weights"}, "run"),
    ("/api/image", {"run": "torch"}, "tag"),
    ("/api/image_raw", {"run": "torch", "tag": "img"}, "step"),
    ("/api/audio_raw", {"run": "torch", "tag": "snd"}, "step"),
    ("/api/text", {"tag": "x"}, "run"),
    ("/api/graph", {"run": "torch"}, "tag"),
    ("/api/projector", {"run": "torch"}, "tag"),
    ("/api/projector_data", {"run": "torch", "tag": "emb", "step": "3"}, "method"),
    ("/api/projector_sample", {"run": "tsvis", "tag": "emb"}, "index"),
    ("/api/exception_data", {"run": "tsvis", "tag": "grad"}, "step"),
    ("/api/exception_box", {"run": "tsvis", "tag": "grad", "step": "5", "up": "1"}, "down"),
    ("/api/hyperparm", {}, "run"),
    ("/api/getRoc", {"run": "tb"}, "tag"),
    ("/api/blob", {"run": "torch", "tag": "img"}, "step"),
])
def test_missing_parameter_is_400_naming_it(server, path, query, missing):
    r = httpx.get(server + path, params=query)
    body = r.json()
    assert r.status_code == 400 and body["code"] == 400 and body["data"] is None
    assert f"'{missing}'" in body["msg"]


@pytest.mark.parametrize("query, what", [
    ({"run": "torch", "tag": "loss", "max_points": "many"}, "max_points"),
    ({"run": "torch", "tag": "loss", "max_points": "1"}, "max_points"),
    ({"run": "torch", "tag": "loss", "start_step": "1.5"}, "start_step"),
])
def test_invalid_parameter_is_400_naming_it(server, query, what):
    r = httpx.get(server + "/api/scalar", params=query)
    assert r.status_code == 400 and f"'{what}'" in r.json()["msg"]


def test_invalid_enum_is_400(server):
    r = httpx.get(server + "/api/graph", params={"run": "torch", "tag": "x_graph"})
    assert r.status_code == 400 and "'tag'" in r.json()["msg"] and "s_graph" in r.json()["msg"]
    r = httpx.get(server + "/api/projector_data", params={"run": "torch", "tag": "emb", "step": 3, "method": "umap"})
    assert r.status_code == 400 and "'method'" in r.json()["msg"]


@pytest.mark.parametrize("path, query, named", [
    ("/api/scalar", {"run": "nope", "tag": "loss"}, "nope"),
    ("/api/scalar", {"run": "torch", "tag": "nope"}, "nope"),
    ("/api/histogram", {"run": "torch", "tag": "nope"}, "nope"),
    ("/api/image_raw", {"run": "torch", "tag": "img", "step": "12345"}, "12345"),
    ("/api/graph", {"run": "tbx", "tag": "c_graph"}, "tbx"),
    ("/api/projector", {"run": "torch", "tag": "nope"}, "nope"),
    ("/api/projector_data", {"run": "torch", "tag": "emb", "step": "99", "method": "pca"}, "99"),
    ("/api/exception_data", {"run": "tsvis", "tag": "grad", "step": "77"}, "77"),
    ("/api/hyperparm", {"run": "special"}, "special"),
    ("/api/getRoc", {"run": "ghost", "tag": "pr"}, "ghost"),
])
def test_unknown_things_are_404_naming_them(server, path, query, named):
    r = httpx.get(server + path, params=query)
    body = r.json()
    assert r.status_code == 404 and body["code"] == 404 and body["data"] is None
    assert named in body["msg"]


@pytest.mark.parametrize("param, value", [
    ("run", "../etc"), ("run", "a/../../b"), ("run", "/etc/passwd"), ("tag", "..\\x"),
    ("run", "C:\\windows"), ("tag", "a\x00b"), ("run", ".."),
])
def test_path_like_names_are_just_names(server, param, value):
    """Runs and tags are names in the store, never paths (issue 8 #8): looked up, not found."""
    query = {"run": "torch", "tag": "loss", param: value}
    r = httpx.get(server + "/api/scalar", params=query)
    assert r.status_code == 404 and repr(value) in r.json()["msg"], r.text


def test_path_like_init_ids_are_refused(server):
    for query in ({"id": "../x", "trainJobName": "j"}, {"id": "u", "trainJobName": "/abs"}):
        r = httpx.get(server + "/api/init", params=query)
        assert r.status_code == 400 and r.json()["data"] is None


def test_unknown_endpoint_is_404_envelope(server):
    r = httpx.get(server + "/api/doesNotExist")
    assert r.status_code == 404 and r.json() == {"code": 404, "msg": "No endpoint '/api/doesNotExist'.", "data": None}


def test_oversized_body_is_413(server):
    r = httpx.post(server + "/api/scalar", content=b"x" * (2 << 20))
    assert r.status_code == 413 and r.json()["code"] == 413


def test_errors_never_carry_tracebacks(server):
    r = httpx.get(server + "/api/graph", params={"run": "tb", "tag": "s_graph"})  # an invalid model file
    body = r.json()
    assert body["code"] == r.status_code and body["data"] is None
    assert "Traceback" not in body["msg"] and ".py" not in body["msg"] and "line " not in body["msg"]
