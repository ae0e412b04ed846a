import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tsvis_live.compute.distribution import (
    BASIS_POINTS,
    compress_histogram,
    compress_histogram_list,
    compress_histograms,
)


def reference(buckets, bps=BASIS_POINTS):
    """TensorBoard's compress_histogram written out as a plain loop."""
    buckets = [list(map(float, b)) for b in buckets]
    if not buckets:
        return [0.0] * len(bps)
    minmin, maxmax = buckets[0][0], buckets[-1][1]
    counts = [b[2] for b in buckets]
    total = sum(counts) or 1.0
    weights, acc = [], 0.0
    for c in counts:
        acc += c * bps[-1] / total
        weights.append(acc)
    out, j = [], 0
    while j < len(bps):
        i = sum(1 for w in weights if w <= bps[j])
        done = False
        while i < len(weights):
            cum, prev = weights[i], (weights[i - 1] if i > 0 else 0.0)
            if cum == prev:
                i += 1
                continue
            lhs = minmin if (i == 0 or prev == 0) else max(buckets[i - 1][1], minmin)
            rhs = min(buckets[i][1], maxmax)
            out.append(lhs + (bps[j] - prev) * (rhs - lhs) / (cum - prev))
            j += 1
            done = True
            break
        if not done:
            break
    out += [maxmax] * (len(bps) - len(out))
    return out


def values(result):
    assert [bp for bp, _ in result] == list(BASIS_POINTS)
    return [v for _, v in result]


def test_two_buckets_matches_tensorboard_not_tsvis():
    got = values(compress_histogram(np.array([[0, 1, 50], [1, 2, 50]])))
    assert got == pytest_approx([0.0, 0.1336, 0.3174, 0.617, 1.0, 1.383, 1.6826, 1.8664, 2.0])


def pytest_approx(xs):
    import pytest

    return pytest.approx(xs, rel=1e-12, abs=1e-12)


def test_empty_and_all_zero_are_finite():
    assert values(compress_histogram(np.zeros((0, 3)))) == [0.0] * 9
    assert values(compress_histogram(np.array([[0, 1, 0], [1, 2, 0]]))) == [2.0] * 9


def test_leading_zero_bucket_starts_at_min():
    # TF/OneFlow histos start with an empty bucket: bp 0 must be the min
    got = values(compress_histogram(np.array([[-1, 0, 0], [0, 1, 10]]), hmin=0.2, hmax=0.8))
    assert got[0] == 0.2 and got[-1] == 0.8
    assert all(a <= b for a, b in zip(got, got[1:]))


def test_nan_counts_and_infinite_edges_stay_finite():
    got = values(compress_histogram(np.array([[-np.inf, 0, np.nan], [0, np.inf, 3]])))
    assert all(math.isfinite(v) for v in got)


bucket_lists = st.integers(1, 12).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-1e6, 1e6), min_size=k + 1, max_size=k + 1, unique=True),
        st.lists(st.integers(0, 1000), min_size=k, max_size=k),
    )
)


def to_buckets(edges_counts):
    edges, counts = edges_counts
    e = sorted(edges)
    return [[e[i], e[i + 1], counts[i]] for i in range(len(counts))]


@settings(max_examples=200, deadline=None)
@given(bucket_lists)
def test_matches_reference_loop(ec):
    b = to_buckets(ec)
    got = values(compress_histogram(np.array(b)))
    want = reference(b)
    assert np.allclose(got, want, rtol=1e-9, atol=1e-6)


@settings(max_examples=50, deadline=None)
@given(st.lists(bucket_lists, min_size=1, max_size=6))
def test_ragged_list_matches_single(ecs):
    hs = [np.array(to_buckets(ec)) for ec in ecs]
    many = compress_histogram_list(hs + [np.zeros((0, 3))])
    for h, row in zip(hs, many):
        assert np.allclose(values(row), values(compress_histogram(h)), atol=1e-6)
    assert values(many[-1]) == [0.0] * 9


def test_vectorised_shape():
    b = np.tile(np.array([[[0, 1, 1], [1, 2, 3]]], dtype=float), (5, 1, 1))
    out = compress_histograms(b)
    assert out.shape == (5, 9)
    assert np.allclose(out[0], reference(b[0]))
