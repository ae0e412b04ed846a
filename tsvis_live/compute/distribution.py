"""Compress histograms into the 9 "distribution" percentiles the frontend draws.

Semantics follow TensorBoard's ``compress_histogram``
(``tensorboard/plugins/distribution/compressor.py``):

* cumulative counts are scaled to 10000 and, for each basis point ``bp``, the bucket is
  ``i = searchsorted(cum, bp, side="right")`` (the first bucket whose cumulative weight
  exceeds ``bp``; it always has a non-zero count);
* the value is a linear interpolation inside that bucket from ``lhs`` to ``rhs`` where
  ``lhs = min`` if ``i == 0`` or nothing precedes it (``cum[i-1] == 0``), else
  ``max(right[i-1], min)``, and ``rhs = min(right[i], max)``;
* once ``i`` runs past the last bucket, the remaining basis points get ``max``;
* no buckets at all gives ``0.0`` for every basis point; all-zero counts give ``max``.

TS-VIS's original differs: for ``i == 0`` it starts from ``right[0]`` instead of ``min``
(so ``[[0,1,50],[1,2,50]]`` yields 1.0 for bps 0..5000 where TensorBoard yields
0.0, 0.1336, ... ), and all-zero counts give NaN plus a duplicated ``[10000, max]``.
We follow TensorBoard: it is the reference users compare against, and its answer is
correct for the first bucket. ``min``/``max`` default to the outer bucket edges
(TensorBoard's choice); explicit finite ``hmin``/``hmax`` override them, which is the same
thing for TF ``histo`` protos. Non-finite results (only possible with infinite edges
and no finite min/max) are mapped to finite numbers: NaN -> 0.0, +-Inf -> +-float max,
because the frontend reads all 9 values as numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BASIS_POINTS: tuple[int, ...] = (0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000)
_BPS = np.asarray(BASIS_POINTS, dtype=np.float64)
_FMAX = float(np.finfo(np.float64).max)


def _lerp(x, x0, x1, y0, y1):
    """Linear interpolation written so that huge edges (+-DBL_MAX) cannot overflow."""
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (x - x0) / (x1 - x0)
        t = np.where(np.isfinite(t), t, 0.0)
        return y0 * (1.0 - t) + y1 * t


def compress_histograms(buckets: np.ndarray, hmins: np.ndarray | None = None,
                        hmaxs: np.ndarray | None = None) -> np.ndarray:
    """Vectorised core: ``buckets`` (n, k, 3) -> values (n, 9) for :data:`BASIS_POINTS`.

    Ragged inputs can be padded at the end with zero-count buckets (see
    :func:`compress_histogram_list`); trailing empty buckets do not change the result.
    """
    b = np.asarray(buckets, dtype=np.float64)
    if b.ndim != 3 or b.shape[2] != 3:
        raise ValueError(f"buckets must have shape (n, k, 3), got {b.shape}")
    n, k, _ = b.shape
    if k == 0:
        return np.zeros((n, len(BASIS_POINTS)))
    right = b[:, :, 1]
    counts = np.nan_to_num(b[:, :, 2], nan=0.0, posinf=0.0, neginf=0.0)
    counts = np.maximum(counts, 0.0)
    lo = b[:, 0, 0].copy()
    hi = b[:, -1, 1].copy()
    if hmins is not None:
        m = np.broadcast_to(np.asarray(hmins, dtype=np.float64), (n,))
        lo = np.where(np.isfinite(m), m, lo)
    if hmaxs is not None:
        m = np.broadcast_to(np.asarray(hmaxs, dtype=np.float64), (n,))
        hi = np.where(np.isfinite(m), m, hi)

    total = counts.sum(axis=1)
    total = np.where(total > 0, total, 1.0)
    # same operation order as TensorBoard (count * 10000 / total, then cumsum) so that
    # the float comparisons at the last basis point come out identically
    cum = np.cumsum(counts * _BPS[-1] / total[:, None], axis=1)            # (n, k)
    # searchsorted(cum[r], bp, "right") for every row r and basis point at once
    idx = (cum[:, None, :] <= _BPS[None, :, None]).sum(axis=2)              # (n, 9)
    past = idx >= k
    i = np.minimum(idx, k - 1)
    rows = np.arange(n)[:, None]
    cum_i = cum[rows, i]
    prev_i = np.maximum(i - 1, 0)
    cum_prev = np.where(i > 0, cum[rows, prev_i], 0.0)
    lo_b = lo[:, None]
    hi_b = hi[:, None]
    lhs = np.where((i == 0) | (cum_prev == 0), lo_b, np.maximum(right[rows, prev_i], lo_b))
    rhs = np.minimum(right[rows, i], hi_b)
    vals = _lerp(_BPS[None, :], cum_prev, cum_i, lhs, rhs)
    vals = np.where(past, hi_b, vals)
    return np.nan_to_num(vals, nan=0.0, posinf=_FMAX, neginf=-_FMAX)


def compress_histogram(buckets: np.ndarray, hmin: float | None = None,
                       hmax: float | None = None) -> list[list]:
    """One histogram ``(k, 3)`` of ``[left, right, count]`` -> ``[[bp, value], ...]`` x 9."""
    b = np.asarray(buckets, dtype=np.float64).reshape(-1, 3)
    vals = compress_histograms(b[None], None if hmin is None else [hmin],
                               None if hmax is None else [hmax])[0]
    return [[bp, float(v)] for bp, v in zip(BASIS_POINTS, vals.tolist())]


def compress_histogram_list(histograms: Sequence[np.ndarray],
                            hmins: Sequence[float | None] | None = None,
                            hmaxs: Sequence[float | None] | None = None) -> list[list[list]]:
    """Many histograms with possibly different bucket counts, in one vectorised pass.

    Shorter histograms are padded with zero-count buckets at their right end, which
    leaves TensorBoard's result unchanged. Empty histograms give 0.0 everywhere.
    """
    n = len(histograms)
    if n == 0:
        return []
    arrs = [np.asarray(h, dtype=np.float64).reshape(-1, 3) for h in histograms]
    k = max(a.shape[0] for a in arrs)
    padded = np.zeros((n, max(k, 1), 3))
    empty = np.zeros(n, dtype=bool)
    for r, a in enumerate(arrs):
        m = a.shape[0]
        if m == 0:
            empty[r] = True
            continue
        padded[r, :m] = a
        padded[r, m:, 0] = a[-1, 1]
        padded[r, m:, 1] = a[-1, 1]

    def _vec(xs):
        if xs is None:
            return None
        return np.asarray([np.nan if x is None else x for x in xs], dtype=np.float64)

    vals = compress_histograms(padded, _vec(hmins), _vec(hmaxs))
    vals[empty] = 0.0
    return [[[bp, v] for bp, v in zip(BASIS_POINTS, row)] for row in vals.tolist()]
