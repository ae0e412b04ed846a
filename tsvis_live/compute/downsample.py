"""Downsampling and smoothing of long scalar series, done server-side on all points.

TensorBoard samples uniformly at random, which drops spikes and (with reservoir
sampling) changes smoothing with series length (tensorboard #1518, #3493, #4047).
Here the step axis is cut into equal-width buckets and each bucket keeps its first,
last, minimum and maximum point (M4), so every extreme and the last point survive
and a line drawn through the kept points is pixel-identical to the full series at the
bucket resolution. Smoothing (TensorBoard's debiased EMA) is meant to run on the full
series *before* downsampling.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


def _order(steps: np.ndarray) -> np.ndarray | None:
    """``None`` if steps are already non-decreasing, else a stable sort order."""
    if steps.size < 2 or bool(np.all(steps[1:] >= steps[:-1])):
        return None
    return np.argsort(steps, kind="stable")


def _bucket_starts(steps: np.ndarray, n_buckets: int) -> np.ndarray:
    """First index of every non-empty equal-width step bucket (steps sorted).

    Found by binary search on the bucket edges, so no per-point bucket id is built.
    If every step is equal the buckets are equal-count instead.
    """
    n = steps.size
    s0 = float(steps[0])
    span = float(steps[-1]) - s0
    if span <= 0 or not math.isfinite(span):
        starts = (np.arange(n_buckets) * n) // n_buckets
    else:
        edges = s0 + span * (np.arange(n_buckets) / n_buckets)
        edges[0] = s0
        starts = np.searchsorted(steps, edges.astype(steps.dtype, copy=False)
                                 if steps.dtype.kind == "f" else np.ceil(edges), side="left")
    starts = np.unique(starts)
    return starts[starts < n]


def _first_hit(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """For each bucket, the first position where ``mask`` holds (one hit is guaranteed)."""
    hits = np.flatnonzero(mask)
    return hits[np.searchsorted(hits, starts)]


def _m4(values: np.ndarray, starts: np.ndarray):
    """Positions of first, last, min and max per bucket, and the NaN-ignoring min/max.

    ``fmin``/``fmax`` skip NaN; an all-NaN bucket has NaN extremes and its first point
    is reported as both argmin and argmax.
    """
    n = values.size
    v = values.astype(np.float64, copy=False)
    sizes = np.diff(np.append(starts, n))
    ends = starts + sizes - 1
    bmax = np.fmax.reduceat(v, starts)
    bmin = np.fmin.reduceat(v, starts)
    # NaN equals nothing, so each hit below is a bucket's real extreme (+-inf included); an
    # all-NaN bucket has none and takes its first point. (Turning NaN into +inf to make that
    # first point a hit also made a NaN the "maximum" of every bucket whose maximum is +inf.)
    first = np.zeros(n, dtype=bool)
    first[starts[np.isnan(bmax)]] = True
    imax = _first_hit((v == np.repeat(bmax, sizes)) | first, starts)
    imin = _first_hit((v == np.repeat(bmin, sizes)) | first, starts)
    return ends, imin, imax, bmin, bmax


def downsample(steps: np.ndarray, wall_times: np.ndarray | None, values: np.ndarray,
               max_points: int) -> np.ndarray:
    """Indices (ascending, into the given arrays) of at most ``max_points`` points to keep.

    Buckets are equal-width in step (``max_points // 4`` of them); each keeps its first,
    last, min and max point. NaN is ignored when looking for extremes (+-Inf count as
    extremes); a NaN still survives if it is a bucket's first or last point. The global
    first and last points are always kept. With ``max_points < 4`` the priority is last,
    max, min, first. ``wall_times`` is accepted for symmetry with the store's columns
    and is not used: the x axis is the step.
    """
    del wall_times
    steps = np.asarray(steps)
    values = np.asarray(values)
    n = steps.size
    if values.size != n:
        raise ValueError("steps and values must have the same length")
    if max_points <= 0:
        raise ValueError("max_points must be positive")
    if n <= max_points:
        return np.arange(n)
    order = _order(steps)
    s = steps if order is None else steps[order]
    v = values if order is None else values[order]
    n_buckets = max(1, max_points // 4)
    starts = _bucket_starts(s, n_buckets)
    ends, imin, imax, _, _ = _m4(v, starts)
    if max_points < 4:
        ranked = [n - 1, int(imax[0]), int(imin[0]), 0]
        keep = np.asarray(list(dict.fromkeys(ranked))[:max_points], dtype=np.int64)
    else:
        keep = np.concatenate([starts, ends, imin, imax])
    keep = np.unique(keep)
    if order is not None:
        keep = np.sort(order[keep])
    return keep


class BucketBands(NamedTuple):
    """Per-bucket envelope for drawing a min/max band under a downsampled line."""

    step_start: np.ndarray  # first step in the bucket
    step_end: np.ndarray    # last step in the bucket
    min: np.ndarray         # NaN-ignoring minimum (NaN if the bucket is all NaN)
    max: np.ndarray
    last: np.ndarray        # value of the bucket's last point
    count: np.ndarray       # points in the bucket


def bucket_bands(steps: np.ndarray, values: np.ndarray, n_buckets: int) -> BucketBands:
    """Min/max/last per equal-width step bucket; only non-empty buckets are returned."""
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    if steps.size != values.size:
        raise ValueError("steps and values must have the same length")
    if n_buckets <= 0:
        raise ValueError("n_buckets must be positive")
    if steps.size == 0:
        e = np.empty(0)
        return BucketBands(e, e, e, e, e, np.empty(0, dtype=np.int64))
    order = _order(steps)
    if order is not None:
        steps, values = steps[order], values[order]
    starts = _bucket_starts(steps, n_buckets)
    ends, _, _, bmin, bmax = _m4(values, starts)
    return BucketBands(steps[starts], steps[ends], bmin, bmax, values[ends],
                       ends - starts + 1)


def ema_smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average, vectorised.

    ``last = last*w + (1-w)*x; smoothed = last / (1 - w**k)`` over finite values only
    (``k`` counts finite values so far); NaN/Inf pass through unchanged and do not
    advance the average, and a constant series is returned as is (TensorBoard does
    both, the latter to avoid float noise). ``weight`` must be in ``[0, 1)``.

    The recurrence is evaluated in blocks of ``L`` points where ``w**L <= e**-600``:
    inside a block ``last_t = w**t * (1-w) * cumsum(w**-j * x_j)`` (bounded by
    ``L * e**600`` after scaling large values down to ``|x| <= 1``; the absolute rounding error
    is ``eps * max|x| / (1-w)`` whatever ``L`` is), and the carry from the previous block
    is added as ``w**(t+1) * carry``; a carry two blocks back is ``e**-600`` relative
    and is dropped. Large blocks keep the 2-D cumsum fast.
    """
    x = np.asarray(values, dtype=np.float64)
    if not 0.0 <= weight < 1.0:
        raise ValueError("weight must be in [0, 1)")
    if x.size == 0 or weight == 0.0 or bool(np.all(x == x[0])):
        return x.copy()
    finite = np.isfinite(x)
    all_finite = bool(finite.all())
    f = x if all_finite else x[finite]
    n = f.size
    if n == 0:
        return x.copy()
    scale = max(1.0, abs(float(f.max())), abs(float(f.min())))  # only shrink, never blow up
    w = float(weight)
    lnw = math.log(w)
    block = max(1, math.ceil(600.0 / -lnw))
    if block >= n:
        grow = np.exp(np.arange(n, dtype=np.float64) * -lnw)   # w**-t
        last = np.cumsum(f * (grow / scale))
        np.divide(last, grow, out=last)
        last *= (1.0 - w) * scale
    else:
        nb = -(-n // block)
        block = -(-n // nb)  # same block count, least padding
        padded = np.zeros(nb * block)
        padded[:n] = f
        blk = padded.reshape(nb, block)
        grow = np.exp(np.arange(block, dtype=np.float64) * -lnw)   # w**-t
        decay = 1.0 / grow                                           # w**t
        local = np.cumsum(blk * (grow / scale), axis=1)
        local *= decay * (1.0 - w)
        ends = local[:, -1]
        carry = np.zeros(nb)
        carry[1:] = ends[:-1]
        carry[2:] += math.exp(block * lnw) * ends[:-2]
        local += carry[:, None] * (decay * w)
        last = local.ravel()[:n]
        last *= scale
    # 1 - w**k is exactly 1.0 in float64 once w**k < 2**-53; only the head needs it
    head = min(n, block + 1)
    last[:head] /= -np.expm1(np.arange(1, head + 1, dtype=np.float64) * lnw)
    if all_finite:
        return last
    out = x.copy()
    out[finite] = last
    return out
