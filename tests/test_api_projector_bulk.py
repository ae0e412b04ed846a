"""The projector's bulk reads: one atlas PNG for every thumbnail, one table for every metadata
column (logs from the real torch writer, served by the real CLI)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tsvis_live.http.api_projector_bulk import atlas_png, metadata_table


def _images(n: int, h: int, w: int) -> np.ndarray:
    """n distinct RGB images in [0, 1] (NCHW, as torch's label_img wants)."""
    rng = np.random.default_rng(7)
    return rng.random((n, 3, h, w)).astype(np.float32)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path_factory.mktemp("bulk")
    rng = np.random.default_rng(0)
    with SummaryWriter(str(root / "run1")) as w:
        w.add_embedding(torch.from_numpy(rng.standard_normal((10, 4)).astype(np.float32)),
                        metadata=[f"p{i}" for i in range(10)],
                        label_img=torch.from_numpy(_images(10, 8, 8)), global_step=1, tag="pics")
        w.add_embedding(torch.from_numpy(rng.standard_normal((3, 2)).astype(np.float32)),
                        metadata=[["cat", 1], ["dog", 2], ["<b>eel</b>", 3]], metadata_header=["animal", "id"],
                        global_step=2, tag="table")
        w.add_embedding(torch.from_numpy(rng.standard_normal((3, 2)).astype(np.float32)), tag="bare")
    return root


@pytest.fixture(scope="module")
def url(logdir: Path, tmp_path_factory: pytest.TempPathFactory):
    from tests.conftest import spawn_server

    server = spawn_server(logdir, tmp_path_factory.mktemp("bulk-data"), probe="/api/projector",
                          probe_query={"run": "run1", "tag": "pics"})
    yield server.url
    server.stop()


def test_atlas_holds_each_thumbnail_at_its_cell(url: str) -> None:
    r = httpx.get(url + "/api/projector_sprite", params={"run": "run1", "tag": "pics", "size": 16})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    # 8-px images in 8-px cells: never scaled up (the page scales them when it draws)
    assert (r.headers["x-sprite-columns"], r.headers["x-sprite-cell"]) == ("4", "8")
    assert (r.headers["x-sprite-count"], r.headers["x-sprite-total"]) == ("10", "10")
    atlas = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
    assert atlas.shape == (3 * 8, 4 * 8, 4)
    for i in range(10):
        sample = httpx.get(url + "/api/projector_sample", params={"run": "run1", "tag": "pics", "index": i}).json()
        png = Image.open(io.BytesIO(base64.b64decode(sample["data"].split(",", 1)[1])))
        y, x = (i // 4) * 8, (i % 4) * 8
        np.testing.assert_array_equal(atlas[y:y + 8, x:x + 8], np.asarray(png.convert("RGBA")), err_msg=str(i))
    assert atlas[2 * 8:, 2 * 8:, 3].max() == 0  # cells past the last thumbnail stay transparent
    smaller = httpx.get(url + "/api/projector_sprite", params={"run": "run1", "tag": "pics", "size": 4})
    assert smaller.headers["x-sprite-cell"] == "4"
    assert Image.open(io.BytesIO(smaller.content)).size == (4 * 4, 3 * 4)


def test_atlas_pages_and_refuses_what_does_not_fit(url: str) -> None:
    r = httpx.get(url + "/api/projector_sprite", params={"run": "run1", "tag": "pics", "start": 8, "size": 8})
    assert r.status_code == 200 and r.headers["x-sprite-count"] == "2"
    r = httpx.get(url + "/api/projector_sprite", params={"run": "run1", "tag": "pics", "count": 300000, "size": 16})
    assert r.status_code == 400 and "do not fit" in r.json()["msg"]
    r = httpx.get(url + "/api/projector_sprite", params={"run": "run1", "tag": "pics", "start": 11})
    assert r.status_code == 400 and "past the last sample" in r.json()["msg"]
    r = httpx.get(url + "/api/projector_sprite", params={"run": "run1", "tag": "bare"})
    assert r.status_code == 404 and "no samples" in r.json()["msg"]
    r = httpx.get(url + "/api/projector_sprite", params={"run": "run1", "tag": "pics", "size": 4096})
    assert r.status_code == 400


def test_metadata_table_has_every_column(url: str) -> None:
    data = httpx.get(url + "/api/projector_metadata", params={"run": "run1", "tag": "table", "step": 2}).json()["data"]
    assert data == {"columns": ["animal", "id"], "rows": [["cat", "1"], ["dog", "2"], ["<b>eel</b>", "3"]]}
    data = httpx.get(url + "/api/projector_metadata", params={"run": "run1", "tag": "pics", "step": 1}).json()["data"]
    assert data["columns"] == ["label"] and data["rows"][:2] == [["p0"], ["p1"]] and len(data["rows"]) == 10
    data = httpx.get(url + "/api/projector_metadata", params={"run": "run1", "tag": "bare", "step": 0}).json()["data"]
    assert data == {"columns": [], "rows": []}
    r = httpx.get(url + "/api/projector_metadata", params={"run": "run1", "tag": "table", "step": 5})
    assert r.status_code == 404 and "step 5" in r.json()["msg"]


def test_atlas_of_grey_and_wide_samples() -> None:
    grey = np.zeros((2, 4, 8), dtype=np.uint8)
    grey[1] = 255
    png, columns = atlas_png(grey, 0, 2, 8)
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert columns == 2 and img.shape == (8, 16, 4)
    # a 4x8 image fits its 8 px cell as 8 wide, 4 high, centred: rows 2..5 drawn, the rest clear
    assert img[0, 8:, 3].max() == 0 and img[2:6, 8:, :3].min() == 255 and img[2:6, 8:, 3].min() == 255


def test_metadata_table_with_labels_only() -> None:
    assert metadata_table(["a", "b"], None, None, "digit") == {"columns": ["digit"], "rows": [["a"], ["b"]]}
