"""Issue 12 item 5: what the TS-VIS frontend shows, side by side with the original server.

Real writers (torch.utils.tensorboard, tensorboardX), a real server process. The audio label
and the histogram bin count follow the original backend's code (tsvis.server.backend:
Audio/audio_read.py, Exception/exception_read.py); the PCA sign follows scikit-learn's PCA.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest


def _audio_logs(logdir):
    import torch
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(logdir))
    mono = torch.from_numpy(np.sin(np.arange(4000) / 7).astype(np.float32)).reshape(1, -1)
    w.add_audio("voice", mono, 3, sample_rate=16000)
    w.close()


def test_audio_label_is_rate_channels_frames_like_the_original(tmp_path, start_server):
    """The original formats Summary.Audio as "采样率: {rate}, 声道: {channels}, 帧长度: {frames}"."""
    logdir = tmp_path / "logs"
    _audio_logs(logdir / "run")
    server = start_server(logdir)
    [entry] = server.json("/api/audio", run="run", tag="voice")["data"]["voice"]
    assert entry["step"] == 3
    assert entry["label"] == "采样率: 16000.0, 声道: 1, 帧长度: 4000"


def test_audio_label_of_a_session_stored_without_channel_counts(tmp_path, start_server):
    """Sessions ingested before the channel count was kept: read from the WAV header."""
    import sqlite3

    from tsvis_live.session import database_path

    logdir, data = tmp_path / "logs", tmp_path / "data"
    _audio_logs(logdir / "run")
    server = start_server(logdir, data)
    server.json("/api/audio", run="run", tag="voice")
    server.stop()
    path = database_path(data, logdir.resolve())
    assert path.exists()
    with sqlite3.connect(path) as db:  # as an older version stored it
        db.execute("UPDATE media SET meta = json_remove(meta, '$.num_channels', '$.length_frames')")
    server = start_server(logdir, data)
    [entry] = server.json("/api/audio", run="run", tag="voice")["data"]["voice"]
    assert entry["label"] == "采样率: 16000.0, 声道: 1, 帧长度: 4000"


def _embedding_logs(logdir, matrix):
    import torch
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(logdir))
    w.add_embedding(torch.from_numpy(matrix), metadata=list(range(len(matrix))), tag="emb", global_step=1)
    w.close()


@pytest.mark.parametrize("n, d", [(60, 8), (40, 64)])
def test_pca_signs_match_scikit_learn(tmp_path, start_server, n, d):
    """Components get scikit-learn's deterministic sign (svd_flip on the components), so a
    PCA plot is never the mirror image of the one a scikit-learn user sees."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(7)
    matrices = [rng.normal(size=(n, d)) * np.linspace(3, 1, d) for _ in range(4)]
    logdir = tmp_path / "logs"
    for i, m in enumerate(matrices):
        _embedding_logs(logdir / f"r{i}", m.astype(np.float32))
    server = start_server(logdir)
    for i, m in enumerate(matrices):
        for dims in (2, 3):
            got = server.json("/api/projector_data", run=f"r{i}", tag="emb", step=1, method="pca",
                              dims=dims)["data"]["1"][0]
            want = PCA(n_components=dims, svd_solver="full").fit_transform(m.astype(np.float32).astype(np.float64))
            np.testing.assert_allclose(got, want, atol=1e-6, err_msg=f"run r{i}, {dims} dims")


def test_exception_hist_has_100_bins_like_the_original(tmp_path, start_server):
    """The original bins every exception histogram with np.histogram(values, bins=100)."""
    from tests.writers import write_tsvis_logs  # tsvis's own writer: add_exception

    logdir = tmp_path / "logs"
    (logdir / "tsvis").mkdir(parents=True)
    write_tsvis_logs(logdir / "tsvis")
    server = start_server(logdir)
    tags = server.json("/api/exception", run="tsvis", tag="grad")["data"]["grad"]
    step = tags["step"][0]
    [hist] = server.json("/api/exception_hist", run="tsvis", tag="grad", step=step)["data"][str(step)]
    values = _tsvis_grad(server, step)
    counts, edges = np.histogram(values, bins=100)
    assert len(hist[2]) == 100
    assert [b[2] for b in hist[2]] == counts.tolist()
    np.testing.assert_allclose([b[0] for b in hist[2]] + [hist[2][-1][1]], edges, rtol=1e-12)
    assert (hist[0], hist[1]) == (values.min(), values.max())
    few = server.json("/api/exception_hist", run="tsvis", tag="grad", step=step, buckets=7)["data"]
    assert len(few[str(step)][0][2]) == 7


def _tsvis_grad(server, step) -> np.ndarray:
    data = server.json("/api/exception_data", run="tsvis", tag="grad", step=step)["data"][str(step)]
    return np.asarray(data[4], dtype=np.float64).ravel()


def _children(pid: int) -> list[int]:
    return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]


def _loaded(pid: int, needle: str) -> bool:
    try:
        return needle in open(f"/proc/{pid}/maps").read()
    except FileNotFoundError:
        return False


def _wait(cond, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def test_first_pca_does_not_import_scikit_learn(tmp_path, start_server):
    """The first PCA took 0.87 s, mostly `import sklearn` for a version string in the cache
    key; PCA itself is numpy. The server process must not load scikit-learn for it."""
    logdir = tmp_path / "logs"
    _embedding_logs(logdir / "run", np.random.default_rng(1).normal(size=(30, 6)).astype(np.float32))
    server = start_server(logdir)
    server.json("/api/projector_data", run="run", tag="emb", step=1, method="pca")
    assert not _loaded(server.proc.pid, "/sklearn/"), "scikit-learn loaded by a PCA request"


def test_category_with_embeddings_starts_the_tsne_worker_and_ctrl_c_stops_it(tmp_path, start_server):
    """The t-SNE worker (spawn + scikit-learn import: seconds on a busy machine) starts when
    getCategory shows an embedding, not inside the first t-SNE request; Ctrl-C does not
    wait for it."""
    plain = tmp_path / "plain"
    _audio_logs(plain / "run")
    server = start_server(plain)
    server.json("/api/getCategory")
    time.sleep(1.0)
    assert _children(server.proc.pid) == [], "no embeddings: no worker"

    logdir = tmp_path / "logs"
    _embedding_logs(logdir / "run", np.random.default_rng(1).normal(size=(30, 6)).astype(np.float32))
    server = start_server(logdir)
    assert _children(server.proc.pid) == []
    assert "embedding" in server.json("/api/getCategory")["data"]["run"]
    assert _wait(lambda: any(_loaded(c, "/sklearn/") for c in _children(server.proc.pid))), \
        "no worker with scikit-learn loaded after getCategory"
    workers = _children(server.proc.pid)
    points = server.json("/api/projector_data", run="run", tag="emb", step=1, method="tsne")["data"]["1"][0]
    assert np.asarray(points).shape == (30, 2)
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(timeout=30) == 0
    assert _wait(lambda: not any(os.path.exists(f"/proc/{c}") and _alive(c) for c in workers), 30)


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
