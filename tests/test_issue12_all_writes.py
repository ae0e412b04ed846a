"""Issue 12 item 4: repeated steps. Series views show the newest write per step (TensorBoard's
Rust loader); `all_writes=1` returns every stored write (what its Python loader keeps), so
nothing stored is unreachable. Real writer (torch.utils.tensorboard), real server.
"""

from __future__ import annotations

import numpy as np
import pytest

STEPS = 4
WRITES = 3  # PyTorch Lightning logs `epoch` this many times per step


def _write(logdir):
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(logdir))
    order = []
    for step in range(STEPS):
        for k in range(WRITES):
            value = step + k / 10
            w.add_scalar("epoch", value, step, walltime=1000.0 + len(order))
            order.append((step, value))
    w.add_scalar("epoch", 99.0, 1, walltime=2000.0)  # a resumed job going back to step 1
    order.append((1, 99.0))
    rng = np.random.default_rng(0)
    hists = []
    for step, scale in ((0, 1.0), (1, 2.0), (1, 3.0), (2, 4.0)):
        values = rng.normal(size=200) * scale
        w.add_histogram("w", values, step)
        hists.append((step, float(values.max())))
    w.close()
    return order, hists


@pytest.fixture
def server(tmp_path, start_server):
    order, hists = _write(tmp_path / "logs" / "run")
    return start_server(tmp_path / "logs"), order, hists


def _same(got, want):
    """(step, value) pairs: equal steps, values equal to float32 precision."""
    got, want = list(got), list(want)
    assert [s for s, _ in got] == [s for s, _ in want], (got, want)
    np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-6)


def _newest_per_step(order):
    """The Rust loader's rule: a write at step s supersedes earlier writes at steps >= s."""
    kept = []
    for step, value in order:
        kept = [(s, v) for s, v in kept if s < step] + [(step, value)]
    return kept


def test_scalar_default_is_newest_write_and_all_writes_is_every_write(server):
    srv, order, _ = server
    default = srv.json("/api/scalar", run="run", tag="epoch")["data"]["epoch"]
    _same([(p["step"], p["value"]) for p in default], _newest_per_step(order))
    r = srv.get("/api/scalar", run="run", tag="epoch", all_writes=1)
    assert r.status_code == 200, r.text
    every = r.json()["data"]["epoch"]
    _same([(p["step"], p["value"]) for p in every], order)
    assert r.headers["X-Total-Count"] == str(len(order)) == str(STEPS * WRITES + 1)
    assert [p["wall_time"] for p in every] == sorted(p["wall_time"] for p in every)
    ranged = srv.json("/api/scalar", run="run", tag="epoch", all_writes="true", start_step=1,
                      end_step=1)["data"]["epoch"]
    assert [p["value"] for p in ranged] == pytest.approx([1.0, 1.1, 1.2, 99.0])


def test_live_scalars_all_writes(server):
    srv, order, _ = server
    default = srv.json("/api/live/scalars", run="run", tag="epoch")["data"]
    _same(list(zip(default["steps"], default["values"])), _newest_per_step(order))
    every = srv.json("/api/live/scalars", run="run", tag="epoch", all_writes=1)["data"]
    _same(list(zip(every["steps"], every["values"])), order)
    assert every["total"] == len(order)


def test_histogram_and_distribution_follow_the_same_rule(server):
    srv, _, hists = server
    newest = [(0, hists[0][1]), (1, hists[2][1]), (2, hists[3][1])]
    rows = srv.json("/api/histogram", run="run", tag="w")["data"]["w"]
    _same([(r[1], r[3]) for r in rows], newest)
    rows = srv.json("/api/histogram", run="run", tag="w", all_writes=1)["data"]["w"]
    _same([(r[1], r[3]) for r in rows], hists)
    assert [r[1] for r in srv.json("/api/distribution", run="run", tag="w")["data"]["w"]] == [0, 1, 2]
    every = srv.json("/api/distribution", run="run", tag="w", all_writes=1)["data"]["w"]
    assert [r[1] for r in every] == [0, 1, 1, 2]


def test_bad_all_writes_is_a_400_sentence(server):
    srv, _, _ = server
    for path in ("/api/scalar", "/api/histogram", "/api/live/scalars"):
        r = srv.get(path, run="run", tag="epoch" if "scalar" in path else "w", all_writes="maybe")
        assert r.status_code == 400, (path, r.status_code)
        assert "all_writes" in r.json()["msg"]
