import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tsvis_live.compute.exceptions import (
    MAX_OUTLIERS,
    bounded_histogram,
    box_stats,
    heatmap,
    layout_2d,
    outliers,
)


def test_box_stats_reference():
    x = np.array([1, 2, 3, 4, 100, np.nan, np.inf], dtype=float)
    (up, q3, med, q1, down), pct = box_stats(x)
    fin = np.array([1, 2, 3, 4, 100.0])
    assert (q1, med, q3) == (2.0, 3.0, 4.0)
    assert up == 4 + 1.5 * 2 and down == 1.0  # q1 - 3 = -1 clipped to the min
    assert pct == np.percentile(fin, [0, 5, 10, 90, 95, 100]).tolist()


def test_box_stats_all_nan_and_constant():
    assert box_stats(np.full(4, np.nan)) == [[0.0] * 5, [0.0] * 6]
    assert box_stats(np.full((2, 2), 7.0)) == [[7.0] * 5, [7.0] * 6]


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.integers(1, 60), elements=st.floats(-1e9, 1e9)))
def test_box_whiskers_within_data(x):
    (up, q3, med, q1, down), pct = box_stats(x)
    assert pct[0] <= down <= q1 <= med <= q3 <= up <= pct[5]


def test_layout_ranks():
    assert layout_2d(np.float64(3)).tolist() == [[3.0]]
    assert layout_2d(np.arange(3)).tolist() == [[0, 1, 2]]
    a = np.arange(16).reshape(4, 2, 2)  # 4 tiles of 2x2 -> 2x2 grid
    assert layout_2d(a).tolist() == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
    b = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    g = layout_2d(b)
    assert g.size == b.size and sorted(g.ravel().tolist()) == list(range(b.size))
    # every tile is contiguous: tile t sits at grid cell (t // m, t % m)
    rows, cols = g.shape[0] // 4, g.shape[1] // 5
    assert rows * cols == 6
    for t in range(6):
        r, c = divmod(t, cols)
        np.testing.assert_array_equal(g[r * 4:(r + 1) * 4, c * 5:(c + 1) * 5], b.reshape(6, 4, 5)[t])
    assert layout_2d(np.arange(7 * 2 * 2).reshape(7, 2, 2)).shape == (2, 14)


def test_heatmap_stats_ignore_non_finite():
    shape, lo, hi, mean, m = heatmap(np.array([[1.0, np.nan], [np.inf, 3.0]]))
    assert shape == [2, 2] and (lo, hi, mean) == (1.0, 3.0, 2.0)
    assert math.isnan(m[0][1]) and m[1][0] == math.inf
    assert heatmap(np.array([np.nan]))[1:4] == (0.0, 0.0, 0.0)


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(0, 200),
              elements=st.floats(allow_nan=True, allow_infinity=True)),
       st.integers(1, 40))
def test_histogram_bounded_and_counts_everything_finite(x, k):
    lo, hi, buckets = bounded_histogram(x, k)
    fin = x[np.isfinite(x)]
    assert len(buckets) <= k
    assert sum(b[2] for b in buckets) == fin.size
    if fin.size:
        assert (lo, hi) == (fin.min(), fin.max())
        assert buckets[0][0] <= lo and buckets[-1][1] >= hi
        assert all(math.isfinite(v) for b in buckets for v in b)
        assert all(b[0] <= b[1] for b in buckets)


def test_histogram_matches_numpy_equal_width():
    x = np.array([0.0, 0.0, 1.0, 2.5, -3.0, 7.0])
    lo, hi, buckets = bounded_histogram(x, 5)
    counts, edges = np.histogram(x, bins=5, range=(-3, 7))
    assert [b[2] for b in buckets] == counts.tolist()
    np.testing.assert_allclose([b[0] for b in buckets] + [buckets[-1][1]], edges)
    assert bounded_histogram(np.zeros(3), 30) == [0.0, 0.0, [[-0.5, 0.5, 3]]]


def test_outliers_coordinates_and_nan():
    a = np.array([[1.0, np.nan, 9.0], [-5.0, 2.0, 3.0]])
    vals, coords, total = outliers(a, up=4.0, down=0.0)
    assert coords == [[0, 1], [0, 2], [1, 0]] and total == 3
    assert math.isnan(vals[0]) and vals[1:] == [9.0, -5.0]
    # bounds given in either order
    assert outliers(a, 0.0, 4.0)[1] == coords
    # single-row heat map: the frontend reads coord[0] as the column
    vals, coords, _ = outliers(np.array([0.0, 10.0, 1.0, -10.0]), 5, -5)
    assert coords == [[1], [3]] and vals == [10.0, -10.0]


def test_outliers_match_layout_for_high_rank():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 2, 4, 4))
    vals, coords, total = outliers(a, 1.5, -1.5)
    g = layout_2d(a)
    assert total == int(np.sum(np.abs(a) > 1.5))
    assert [g[r, c] for r, c in coords] == vals


def test_outliers_capped_keeps_most_extreme():
    x = np.arange(MAX_OUTLIERS * 2, dtype=float).reshape(2, -1)
    x[0, 0] = np.nan
    vals, coords, total = outliers(x, 0.5, 0.5)
    assert total == x.size - 0 and len(vals) == MAX_OUTLIERS
    assert math.isnan(vals[0]) and coords[0] == [0, 0]
    assert max(v for v in vals[1:]) == x.size - 1
    assert outliers(np.arange(10.0), 4.5, 4.5, limit=3)[0] == [0.0, 8.0, 9.0]
