"""/api/scalar, /api/histogram, /api/distribution against logs of the real writers."""

from __future__ import annotations

import json
import math
from collections import defaultdict

import httpx
import numpy as np
import pytest

from tests.conftest import LONG_STEPS, full_run
from tsvis_live.compute.distribution import BASIS_POINTS


def _wire(x: float) -> float | str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def test_scalar_values_match_what_was_written(api, api_expected):
    series: dict[tuple[str, str], list] = defaultdict(list)
    for writer_run, exp in api_expected.items():
        for sub, tag, step, wall, value in exp.scalars:
            series[(full_run(writer_run, sub), tag)].append((step, wall, value))
    assert len(series) >= 10
    for (run, tag), points in series.items():
        got = api("/api/scalar", run=run, tag=tag)[tag]
        assert [p["step"] for p in got] == [s for s, _w, _v in points], (run, tag)
        for p, (_step, wall, value) in zip(got, points):
            assert set(p) == {"wall_time", "step", "value"}
            if wall is not None:
                assert p["wall_time"] == pytest.approx(wall)
            expected = _wire(float(value))
            if isinstance(expected, str):
                assert p["value"] == expected, (run, tag)
            else:
                assert p["value"] == pytest.approx(expected, rel=1e-6), (run, tag)


def test_nan_and_inf_are_strings_in_valid_json(server):
    r = httpx.get(server + "/api/scalar", params={"run": "special", "tag": "odd/values"})
    text = r.text
    assert "NaN" in text and "Infinity" in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    values = [p["value"] for p in r.json()["data"]["odd/values"]]
    assert values == [1.0, "NaN", "Infinity", "-Infinity", 2.5]


def test_long_series_streams_every_point(server):
    r = httpx.get(server + "/api/scalar", params={"run": "special", "tag": "long"}, timeout=60)
    assert r.status_code == 200 and r.headers["X-Total-Count"] == str(LONG_STEPS)
    points = r.json()["data"]["long"]
    assert len(points) == LONG_STEPS
    assert [p["step"] for p in points[:3]] == [0, 1, 2]
    assert points[12_345]["value"] == 50.0
    assert points[-1]["value"] == pytest.approx(float(np.float32(math.sin((LONG_STEPS - 1) / 100.0))))


def test_scalar_downsampling_keeps_extremes_and_last_point(server):
    r = httpx.get(server + "/api/scalar", params={"run": "special", "tag": "long", "max_points": 2000})
    assert r.status_code == 200 and r.headers["X-Downsampled"] == "true"
    points = r.json()["data"]["long"]
    assert 2 <= len(points) <= 2000
    steps = [p["step"] for p in points]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == LONG_STEPS - 1
    assert max(p["value"] for p in points) == 50.0
    assert min(p["value"] for p in points) == pytest.approx(-1.0, abs=1e-3)


def test_scalar_step_range(api):
    points = api("/api/scalar", run="special", tag="long", start_step=100, end_step=199)["long"]
    assert [p["step"] for p in points] == list(range(100, 200))
    short = api("/api/scalar", run="special", tag="long", start_step=100, end_step=199, max_points=10)["long"]
    assert len(short) <= 10 and short[-1]["step"] == 199


def _histograms(api_expected):
    found = defaultdict(list)
    for writer_run, exp in api_expected.items():
        for sub, tag, step, wall, value in exp.histograms:
            found[(full_run(writer_run, sub), tag)].append((step, wall, value))
    return found


def test_histogram_values_match_what_was_written(api, api_expected):
    hists = _histograms(api_expected)
    assert hists
    for (run, tag), points in hists.items():
        got = api("/api/histogram", run=run, tag=tag)[tag]
        assert [row[1] for row in got] == [s for s, _w, _v in points]
        for row, (_step, wall, value) in zip(got, points):
            wall_time, _s, lo, hi, buckets = row
            if wall is not None:
                assert wall_time == pytest.approx(wall)
            b = np.asarray(buckets, dtype=float)
            assert b.ndim == 2 and b.shape[1] == 3 and len(b) >= 1
            if isinstance(value, np.ndarray):  # tensor form: the buckets as written
                np.testing.assert_allclose(b, value.reshape(-1, 3))
            else:  # HistogramProto: counts, min and max as written
                assert b[:, 2].sum() == pytest.approx(value.num)
                assert (lo, hi) == (pytest.approx(value.min), pytest.approx(value.max))
                assert b[0, 0] == pytest.approx(value.min) and b[-1, 1] == pytest.approx(value.max)


def test_histogram_samples_keeps_first_and_last(api, api_expected):
    (run, tag), points = next(iter(_histograms(api_expected).items()))
    got = api("/api/histogram", run=run, tag=tag, samples=2)[tag]
    assert [row[1] for row in got] == [points[0][0], points[-1][0]]


def test_distribution_has_nine_monotone_basis_points(api, api_expected):
    for (run, tag), points in _histograms(api_expected).items():
        hist = api("/api/histogram", run=run, tag=tag)[tag]
        dist = api("/api/distribution", run=run, tag=tag)[tag]
        assert [row[1] for row in dist] == [s for s, _w, _v in points]
        for h, d in zip(hist, dist):
            assert d[0] == h[0] and d[1] == h[1]
            assert [bp for bp, _v in d[2]] == list(BASIS_POINTS)
            values = [v for _bp, v in d[2]]
            assert all(isinstance(v, float) and math.isfinite(v) for v in values)
            assert values == sorted(values)
            assert values[0] >= h[2] - 1e-9 and values[-1] == pytest.approx(h[3])
