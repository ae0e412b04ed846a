"""Anomaly ("exception") view of one tensor per step: box plot, heat map, histogram.

All statistics use finite values only: NaN and +-Inf are the anomalies this view
exists to show, so they are reported by :func:`outliers` (always) and never poison the
quartiles, the colour scale or the histogram.
"""

from __future__ import annotations

import math

import numpy as np

PERCENTILES = (0, 5, 10, 25, 50, 75, 90, 95, 100)
TUKEY_K = 1.5
MAX_OUTLIERS = 10_000
"""Cap on points returned by :func:`outliers`. The frontend draws one canvas rect per
point and ships them in one JSON response; beyond ~10k the page stalls while adding
nothing visible. When capped, the points farthest outside the bounds are kept (NaN and
+-Inf first) and ``total`` tells the true count."""


def _finite(arr: np.ndarray) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def box_stats(arr: np.ndarray) -> list[list[float]]:
    """``[[up, q3, median, q1, down], [p0, p5, p10, p90, p95, p100]]`` of finite values.

    Tukey whiskers: ``up = min(q3 + 1.5 IQR, max)``, ``down = max(q1 - 1.5 IQR, min)``.
    Percentiles use numpy's default linear interpolation (the original asked for
    ``interpolation='midpoint'``, a keyword NumPy 2 removed; linear is the common
    definition). No finite value at all gives zeros, because the frontend does arithmetic
    on every number of every step.
    """
    x = _finite(arr)
    if x.size == 0:
        return [[0.0] * 5, [0.0] * 6]
    p = np.percentile(x, PERCENTILES).tolist()
    q1, med, q3 = p[3], p[4], p[5]
    iqr = q3 - q1
    up = min(q3 + TUKEY_K * iqr, p[8])
    down = max(q1 - TUKEY_K * iqr, p[0])
    return [[up, q3, med, q1, down], [p[0], p[1], p[2], p[6], p[7], p[8]]]


def _grid(k: int, h: int, w: int) -> tuple[int, int]:
    """Tile rows/cols ``(n, m)`` with ``n * m == k`` making the mosaic closest to square.

    Only exact divisors are used so that no padding cell is invented (a padded NaN
    would show up as an outlier).
    """
    best = (math.inf, 0)
    for n in range(1, math.isqrt(k) + 1):
        if k % n:
            continue
        for rows in (n, k // n):
            # ties (e.g. 1x7 vs 7x1 square tiles) go to fewer rows: screens are wide
            score = (round(abs(math.log((rows * h) / ((k // rows) * w))), 9), rows)
            best = min(best, score)
    return best[1], k // best[1]


def layout_2d(arr: np.ndarray) -> np.ndarray:
    """The heat-map layout of any tensor as a 2-D array.

    Rank 0 -> 1x1, rank 1 -> one row, rank 2 as is. Higher ranks: the last two axes are
    one tile (``h x w``) and all leading axes are flattened into ``k`` tiles arranged in a
    near-square ``n x m`` grid (row-major). The original assumed channels-last for 4-D
    (NHWC) and picked ``n = floor(sqrt(k/2))``; here every rank is treated alike (the
    last two axes are the spatial ones, as in NCHW activations and OIHW conv weights).
    """
    a = np.asarray(arr)
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    if a.ndim == 2:
        return a
    h, w = a.shape[-2], a.shape[-1]
    k = int(np.prod(a.shape[:-2]))
    if k == 0 or h == 0 or w == 0:
        return a.reshape(0, 0)
    n, m = _grid(k, h, w)
    return a.reshape(n, m, h, w).transpose(0, 2, 1, 3).reshape(n * h, m * w)


def heatmap(arr: np.ndarray) -> tuple[list[int], float, float, float, list[list]]:
    """``(shape, min, max, mean, matrix)`` for ``exception_data``.

    ``shape`` is the tensor's own shape (the frontend overwrites its first two entries
    with the matrix size); min/max/mean are over finite values (0.0 if none) so the
    colour scale stays usable; the matrix keeps NaN/Inf (encoded as strings).
    """
    a = np.asarray(arr)
    x = _finite(a)
    if x.size:
        lo, hi, mean = float(x.min()), float(x.max()), float(x.mean())
    else:
        lo = hi = mean = 0.0
    return list(a.shape), lo, hi, mean, layout_2d(a).tolist()


HIST_BUCKETS = 100
"""The original's exception histogram: ``np.histogram(values, bins=100)``."""


def bounded_histogram(arr: np.ndarray, max_buckets: int = HIST_BUCKETS) -> list:
    """``[min, max, [[left, right, count], ...]]`` of finite values, equal-width buckets.

    ``max_buckets`` buckets from min to max, as ``np.histogram(values, bins=max_buckets)``
    makes them (the original's 100 bins, empty ones included, so the frontend draws the
    same bars). A constant array gives one bucket ``[v - 0.5, v + 0.5]`` (TensorBoard's
    convention). Data is scaled to ``[-1, 1]`` before binning so that ranges like
    ``-1e308..1e308`` cannot overflow. No finite value gives ``[0.0, 0.0, []]``. NaN and
    +-Inf are left out (the original's np.histogram failed on them).
    """
    if max_buckets < 1:
        raise ValueError("max_buckets must be >= 1")
    x = _finite(arr)
    if x.size == 0:
        return [0.0, 0.0, []]
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        return [lo, hi, [[lo - 0.5, hi + 0.5, int(x.size)]]]
    k = int(max_buckets)
    s = max(abs(lo), abs(hi))
    xs = x / s
    lo_s, hi_s = lo / s, hi / s
    width = (hi_s - lo_s) / k
    idx = np.floor((xs - lo_s) / width).astype(np.int64)
    np.clip(idx, 0, k - 1, out=idx)
    counts = np.bincount(idx, minlength=k)
    edges = (lo_s + width * np.arange(k + 1)) * s
    edges[0], edges[-1] = lo, hi
    return [lo, hi, [[float(edges[i]), float(edges[i + 1]), int(counts[i])] for i in range(k)]]


def outliers(arr: np.ndarray, up: float, down: float,
             limit: int = MAX_OUTLIERS) -> tuple[list[float], list[list[int]], int]:
    """Values outside ``[min(up, down), max(up, down)]`` plus every NaN/Inf.

    Returns ``(values, coords, total)`` in row-major heat-map order, where ``coords``
    are ``[row, col]`` in :func:`layout_2d` coordinates, except that a single-row heat
    map gives ``[col]``: the frontend reads ``coord[0]`` as the column when the map
    has one row. ``total`` is the count before the :data:`MAX_OUTLIERS` cap.
    """
    hi_b, lo_b = max(up, down), min(up, down)
    grid = layout_2d(np.asarray(arr, dtype=np.float64))
    flat = grid.ravel()
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(flat) | (flat > hi_b) | (flat < lo_b)
    pos = np.flatnonzero(bad)
    total = int(pos.size)
    if total > limit:
        v = flat[pos]
        with np.errstate(invalid="ignore"):
            dist = np.where(np.isfinite(v), np.maximum(v - hi_b, lo_b - v), np.inf)
        keep = np.argpartition(-dist, limit - 1)[:limit]
        pos = np.sort(pos[keep])
    cols = grid.shape[1] if grid.ndim == 2 else 1
    values = flat[pos].tolist()
    if grid.shape[0] == 1:
        coords = [[int(c)] for c in pos.tolist()]
    else:
        r, c = np.divmod(pos, cols)
        coords = np.stack([r, c], axis=1).tolist()
    return values, coords, total
