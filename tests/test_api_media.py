"""Images, audio, text: lists, data URLs and raw bytes against what the real writers wrote."""

from __future__ import annotations

import base64
import json
from collections import defaultdict

import httpx

from tests.conftest import full_run
from tsvis_live.store.codec import sniff_mime


def _blobs(api_expected, kind):
    found = defaultdict(list)
    for writer_run, exp in api_expected.items():
        for sub, k, tag, step, wall, index, data, meta in exp.blobs:
            if k == kind:
                found[(full_run(writer_run, sub), tag)].append((step, wall, index, data, meta))
    assert found, f"no {kind} written"
    return found


def _decode_data_url(url: str) -> tuple[str, bytes]:
    head, b64 = url.split(",", 1)
    assert head.startswith("data:") and head.endswith(";base64")
    return head[5:-7], base64.b64decode(b64)


def test_images_list_and_data_urls(api, api_expected):
    for (run, tag), samples in _blobs(api_expected, "image").items():
        listed = api("/api/image", run=run, tag=tag)[tag]
        assert [(e["step"], e["index"]) for e in listed] == [(s, i) for s, _w, i, _d, _m in samples]
        for entry, (step, wall, index, data, meta) in zip(listed, samples):
            assert (entry["width"], entry["height"]) == (meta["width"], meta["height"])
            if wall is not None:
                assert entry["wall_time"] == wall
            mime, raw = _decode_data_url(api("/api/image_raw", run=run, tag=tag, step=str(step), index=index))
            assert raw == data
            assert mime == sniff_mime(data)  # sniffed, not assumed
        assert all(isinstance(api("/api/image_raw", run=run, tag=tag, step=str(s)), str) for s, *_ in samples)


def test_real_pngs_are_labelled_png(api):
    mime, raw = _decode_data_url(api("/api/image_raw", run="torch", tag="img", step="2"))
    assert mime == "image/png" and raw.startswith(b"\x89PNG\r\n\x1a\n")


def test_audio_list_and_data_urls(api, api_expected):
    for (run, tag), samples in _blobs(api_expected, "audio").items():
        listed = api("/api/audio", run=run, tag=tag)[tag]
        assert [(e["step"], e["index"]) for e in listed] == [(s, i) for s, _w, i, _d, _m in samples]
        for entry, (step, _wall, index, data, meta) in zip(listed, samples):
            assert entry["contentType"] == "audio/wav"
            if "label" in meta:
                assert entry["label"] == meta["label"]
            mime, raw = _decode_data_url(api("/api/audio_raw", run=run, tag=tag, step=step, index=index))
            assert (mime, raw) == ("audio/wav", data)


def test_text_values_are_lists(api, api_expected):
    for (run, tag), samples in _blobs(api_expected, "text").items():
        listed = api("/api/text", run=run, tag=tag)[tag]
        assert [e["step"] for e in listed] == [s for s, *_ in samples]
        for entry, (_step, _wall, _index, data, _meta) in zip(listed, samples):
            assert entry["value"] == json.loads(data)


def test_media_lists_are_paged(server):
    url = server + "/api/image"
    r = httpx.get(url, params={"run": "tb", "tag": "timg"})
    assert r.headers["X-Total-Count"] == "2" and len(r.json()["data"]["timg"]) == 2
    r = httpx.get(url, params={"run": "tb", "tag": "timg", "offset": 1, "limit": 1})
    page = r.json()["data"]["timg"]
    assert r.headers["X-Total-Count"] == "2" and [(e["step"], e["index"]) for e in page] == [(2, 1)]
    r = httpx.get(url, params={"run": "tb", "tag": "timg", "offset": 5})
    assert r.status_code == 200 and r.json()["data"]["timg"] == []
    r = httpx.get(url, params={"run": "tb", "tag": "timg", "limit": -1})
    assert r.status_code == 400 and "'limit'" in r.json()["msg"]


def test_blob_raw_bytes_etag_and_cache(server, api_expected):
    (run, tag), samples = next(iter(_blobs(api_expected, "image").items()))
    step, _wall, index, data, _meta = samples[0]
    q = {"run": run, "tag": tag, "step": step, "index": index, "kind": "image"}
    r = httpx.get(server + "/api/blob", params=q)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == sniff_mime(data)
    etag = r.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert r.headers["cache-control"] == "no-cache"  # unversioned URL: revalidate
    listed = httpx.get(server + "/api/image", params={"run": run, "tag": tag}).json()["data"][tag]
    version = next(e["v"] for e in listed if (e["step"], e["index"]) == (step, index))
    pinned = httpx.get(server + "/api/blob", params={**q, "v": version})
    assert pinned.content == data and pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = httpx.get(server + "/api/blob", params={**q, "v": "0123456789abcdef"})
    assert stale.content == data and stale.headers["cache-control"] == "no-cache"
    again = httpx.get(server + "/api/blob", params=q, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = httpx.get(server + "/api/blob", params=q, headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200
    audio = httpx.get(server + "/api/blob", params={"run": "tb", "tag": "tsnd", "step": 3, "index": 1, "kind": "audio"})
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"


def test_unknown_media_step_and_index_are_404(server):
    for q in ({"run": "torch", "tag": "img", "step": 99}, {"run": "torch", "tag": "img", "step": 2, "index": 5}):
        r = httpx.get(server + "/api/image_raw", params=q)
        assert r.status_code == 404 and r.json()["code"] == 404 and r.json()["data"] is None
        assert "step" in r.json()["msg"]
