import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsvis_live.compute.downsample import bucket_bands, downsample, ema_smooth


def ema_reference(values, w):
    """TensorBoard's smoothing loop (vz_line_chart2), transcribed plainly."""
    if all(v == values[0] for v in values):
        return list(values)
    last, k, out = 0.0, 0, []
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * w + (1 - w) * v
        k += 1
        out.append(last / (1 - w**k))
    return out


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64).map(
    lambda v: v if not math.isfinite(v) else max(-1e6, min(1e6, v)))


@settings(max_examples=300, deadline=None)
@given(st.lists(finite_or_not, min_size=1, max_size=300),
       st.sampled_from([0.0, 0.1, 0.5, 0.6, 0.9, 0.99, 0.999]))
def test_ema_matches_tensorboard_loop(vals, w):
    got = ema_smooth(np.array(vals), w)
    if w == 0.0:
        want = vals
    else:
        want = ema_reference(vals, w)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * 1e6)


def test_ema_long_series_blocks_agree_with_loop():
    rng = np.random.default_rng(1)
    v = rng.standard_normal(20000) * 1e3 + 5
    v[::997] = np.nan
    for w in (0.3, 0.9, 0.999):
        np.testing.assert_allclose(ema_smooth(v, w), ema_reference(v.tolist(), w),
                                   rtol=1e-9, atol=1e-8)


def test_ema_rejects_bad_weight():
    with pytest.raises(ValueError):
        ema_smooth(np.ones(3), 1.0)


def brute_m4(steps, values, max_points):
    """Per bucket (same edges) first/last/argmin/argmax, by plain Python."""
    nb = max(1, max_points // 4)
    s0, s1 = steps[0], steps[-1]
    edges = [s0 + (s1 - s0) * (i / nb) for i in range(nb)]
    buckets = {}
    for i, s in enumerate(steps):
        b = max(j for j, e in enumerate(edges) if s >= e) if s1 > s0 else (i * nb) // len(steps)
        buckets.setdefault(b, []).append(i)
    keep = set()
    for idx in buckets.values():
        keep |= {idx[0], idx[-1]}
        fin = [i for i in idx if not math.isnan(values[i])]
        if fin:
            keep.add(max(fin, key=lambda i: (values[i], -i)))
            keep.add(min(fin, key=lambda i: (values[i], i)))
    return sorted(keep)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.floats(-100, 100) | st.sampled_from([math.nan, math.inf, -math.inf])),
                min_size=1, max_size=200),
       st.integers(4, 60))
def test_downsample_keeps_extremes_first_last(points, max_points):
    points.sort(key=lambda p: p[0])
    steps = np.array([p[0] for p in points])
    values = np.array([p[1] for p in points])
    keep = downsample(steps, None, values, max_points)
    assert len(keep) <= max(max_points, len(points))
    assert keep[0] == 0 and keep[-1] == len(points) - 1
    if len(points) > max_points:
        assert keep.tolist() == brute_m4(steps.tolist(), values.tolist(), max_points)
        fin = values[~np.isnan(values)]
        if fin.size:
            assert np.nanmax(values[keep]) == fin.max()
            assert np.nanmin(values[keep]) == fin.min()


def test_downsample_unsorted_and_tiny_budget():
    steps = np.array([5, 1, 3, 2, 4, 0])
    values = np.array([0.0, 9.0, -9.0, 1.0, 2.0, 3.0])
    keep = downsample(steps, None, values, 4)
    assert set(keep.tolist()) == {5, 1, 2, 0}  # first(0), max(1), min(3), last(5)
    assert downsample(steps, None, values, 1).tolist() == [0]  # last by step is index 0
    assert len(downsample(steps, None, values, 2)) == 2


def test_an_infinite_extreme_is_kept_when_another_bucket_is_all_nan():
    """An all-NaN bucket once made every NaN count as +inf when extremes were looked for, so a
    bucket whose maximum is +inf kept its first NaN instead (the +inf point was lost)."""
    nan, inf = math.nan, math.inf
    values = np.array([nan] * 10 + [nan, nan, inf, nan, -inf, nan, 1.0, nan, 2.0, nan])
    keep = downsample(np.arange(20), None, values, 8).tolist()  # 2 buckets: 0-9 and 10-19
    assert 12 in keep and 14 in keep, keep
    assert keep == brute_m4(list(range(20)), values.tolist(), 8)


def test_spike_survives():
    n = 100_000
    v = np.zeros(n)
    v[54321] = 1e9
    keep = downsample(np.arange(n), None, v, 400)
    assert 54321 in keep and n - 1 in keep and len(keep) <= 400


def test_bucket_bands_reference():
    steps = np.arange(10)
    values = np.array([1, 5, 2, np.nan, np.nan, 3, -1, 0, 7, 2], dtype=float)
    b = bucket_bands(steps, values, 5)
    assert b.step_start.tolist() == [0, 2, 4, 6, 8]
    assert b.step_end.tolist() == [1, 3, 5, 7, 9]
    np.testing.assert_array_equal(b.min, [1, 2, 3, -1, 2])
    np.testing.assert_array_equal(b.max, [5, 2, 3, 0, 7])
    np.testing.assert_array_equal(b.last, [5, np.nan, 3, 0, 2])
    assert b.count.tolist() == [2, 2, 2, 2, 2]
    allnan = bucket_bands(np.arange(4), np.array([np.nan, np.nan, 1, 2]), 2)
    assert math.isnan(allnan.min[0]) and math.isnan(allnan.max[0])


def test_speed_one_million_points():
    n = 1_000_000
    rng = np.random.default_rng(0)
    steps = np.arange(n)
    v = np.cumsum(rng.standard_normal(n))
    v[rng.integers(0, n, 100)] = np.nan

    def best(f):
        ts = []
        for _ in range(5):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        return min(ts) * 1e3

    t_ds = best(lambda: downsample(steps, None, v, 2000))
    t_bb = best(lambda: bucket_bands(steps, v, 1000))
    t_ema = best(lambda: ema_smooth(v, 0.9))
    print(f"1M points: downsample {t_ds:.1f} ms, bands {t_bb:.1f} ms, ema {t_ema:.1f} ms")
    assert t_ds < 100 and t_ema < 200  # generous: shared CI machines
