"""What a series view shows of a stored series: superseded writes, step range, downsampling.

The one implementation behind every series answer: `/api/scalar`, `/api/histogram`,
`/api/distribution`, `/api/live/scalars`, the `/ws` snapshot, `/ws` replays and the polling
endpoint all read through `Store.scalars` / `Store.histograms`, which apply these functions
to what `reader` loaded. They are pure (numpy in, numpy out), so they run in the reader thread
right after the read.

Order of operations, for scalars: the newest write of a repeated step wins (`every` keeps all
writes), smoothing runs on the whole full-resolution series (so zooming never restarts it),
then the step range is cut, then the points in range are downsampled (M4 buckets, see
`compute.downsample`) with the smoothed values and the optional min/max bands following the
same indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsvis_live.compute.downsample import BucketBands, bucket_bands, downsample, ema_smooth
from tsvis_live.store.reader import HistogramPoint, ScalarSeries, visible_histograms


@dataclass
class ScalarRead:
    """A scalar series as a view shows it."""

    points: ScalarSeries  # the points kept, in write order
    total: int  # points in the step range, before downsampling
    downsampled: bool
    cursor: int  # newest cursor of the stored series: a watermark for live updates
    smoothed: np.ndarray | None = None  # per kept point, when smoothing was asked for
    bands: BucketBands | None = None  # per step bucket, when downsampled and asked for
    resolution: int = 1  # points per stored summary item behind the answer (1: from every point)

    def __len__(self) -> int:
        return len(self.points)


@dataclass
class HistogramRead:
    """A histogram series as a view shows it."""

    points: list[HistogramPoint]
    total: int
    downsampled: bool
    cursor: int

    def __len__(self) -> int:
        return len(self.points)


def step_range(steps: np.ndarray, start: int | None, end: int | None) -> np.ndarray | None:
    """Positions of the points with start <= step <= end (None: no bound asked, keep all)."""
    if start is None and end is None:
        return None
    mask = np.ones(len(steps), dtype=bool)
    if start is not None:
        mask &= steps >= start
    if end is not None:
        mask &= steps <= end
    return np.flatnonzero(mask)


def evenly(n: int, samples: int) -> np.ndarray:
    """`samples` evenly spaced positions of n, always the first and the last (deterministic)."""
    return np.unique(np.linspace(0, n - 1, samples).round().astype(int))


def select_scalars(raw: ScalarSeries, *, every: bool = False, start: int | None = None,
                   end: int | None = None, max_points: int | None = None, smoothing: float = 0.0,
                   bands: bool = False) -> ScalarRead:
    """The view of `raw` (see the module docstring); `smoothing` is an EMA weight in [0, 1)."""
    s = raw if every else raw.visible()
    smoothed = ema_smooth(s.values, smoothing) if smoothing > 0 and len(s) else None
    index = step_range(s.steps, start, end)
    if index is not None:
        s = s.take(index)
        if smoothed is not None:
            smoothed = smoothed[index]
    total = len(s)
    down = max_points is not None and total > max_points
    band = None
    if down:
        if bands:
            band = bucket_bands(s.steps, s.values, max(1, max_points // 4))
        keep = downsample(s.steps, None, s.values, max_points)
        s = s.take(keep)
        if smoothed is not None:
            smoothed = smoothed[keep]
    return ScalarRead(s, total, down, raw.newest_cursor, smoothed, band)


def select_histograms(raw: list[HistogramPoint], *, every: bool = False, start: int | None = None,
                      end: int | None = None, samples: int | None = None) -> HistogramRead:
    """The view of a histogram series: like `select_scalars`, sampled evenly instead of M4."""
    cursor = raw[-1].cursor if raw else 0
    points = raw if every else visible_histograms(raw)
    index = step_range(np.fromiter((p.step for p in points), dtype=np.int64, count=len(points)), start, end)
    if index is not None:
        points = [points[i] for i in index.tolist()]
    total = len(points)
    down = samples is not None and total > samples
    if down:
        points = [points[i] for i in evenly(total, samples).tolist()]
    return HistogramRead(points, total, down, cursor)
