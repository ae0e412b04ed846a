"""The record batch: what the format readers produce and the store consumes.

Data flows one way: files -> records (this module) -> points in the store -> hub -> clients.
A `Batch` collects everything decoded from one file between two byte offsets. Scalars are
kept columnar (plain lists per tag) because they are the bulk of all data; everything else is
a small list of dataclasses. A batch never knows about runs or databases: the ingest layer
attaches it to a file and hands it to the store, which commits the points together with the
file's new offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

BlobKind = Literal["image", "audio", "text"]
TensorKind = Literal["embedding", "exception", "pr_curve", "mesh"]
GraphKind = Literal["graphdef", "run_metadata", "json_model"]


@dataclass(slots=True)
class ScalarColumns:
    steps: list[int] = field(default_factory=list)
    wall_times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass(slots=True)
class HistogramRecord:
    tag: str
    step: int
    wall_time: float
    buckets: np.ndarray  # float64 (k, 3): left edge, right edge, count
    min: float
    max: float
    num: float
    sum: float
    sum_squares: float


@dataclass(slots=True)
class BlobRecord:
    """One image, audio clip or text value. Several may share a step (`index` tells them apart).

    meta: image -> width, height; audio -> sample_rate, label, content_type;
    text -> shape (the text tensor's shape; `data` is the UTF-8 JSON list of its strings).
    """

    kind: BlobKind
    tag: str
    step: int
    wall_time: float
    index: int
    data: bytes
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class TensorRecord:
    """A whole tensor per step: embeddings, exception (anomaly) tensors, PR curves, mesh parts.

    extras: named companion arrays, e.g. "labels" and "sample" for embeddings.
    meta: e.g. sample_type ("image" | "audio" | "text") for embeddings.
    """

    kind: TensorKind
    tag: str
    step: int
    wall_time: float
    value: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class GraphRecord:
    kind: GraphKind
    tag: str
    data: bytes


@dataclass(slots=True)
class HparamsRecord:
    group_name: str
    hparams: dict[str, Any]
    metrics: dict[str, Any]
    start_time: float | None = None


@dataclass
class Batch:
    """Everything decoded from one span of one file, in file order per kind."""

    scalars: dict[str, ScalarColumns] = field(default_factory=dict)
    histograms: list[HistogramRecord] = field(default_factory=list)
    blobs: list[BlobRecord] = field(default_factory=list)
    tensors: list[TensorRecord] = field(default_factory=list)
    graphs: list[GraphRecord] = field(default_factory=list)
    hparams: list[HparamsRecord] = field(default_factory=list)
    layouts: list[dict[str, Any]] = field(default_factory=list)  # custom-scalar layouts as JSON
    plugins: dict[str, str] = field(default_factory=dict)  # tag -> plugin name first seen
    events: int = 0  # Event records decoded (for progress and rates)
    skipped: int = 0  # records dropped as corrupt or undecodable
    problems: list[str] = field(default_factory=list)  # why parts of a whole file were not read

    def scalar(self, tag: str, step: int, wall_time: float, value: float) -> None:
        cols = self.scalars.get(tag)
        if cols is None:
            cols = self.scalars[tag] = ScalarColumns()
        cols.steps.append(step)
        cols.wall_times.append(wall_time)
        cols.values.append(value)

    def point_count(self) -> int:
        return (
            sum(len(c.steps) for c in self.scalars.values())
            + len(self.histograms)
            + len(self.blobs)
            + len(self.tensors)
        )

    def is_empty(self) -> bool:
        return not (
            self.scalars
            or self.histograms
            or self.blobs
            or self.tensors
            or self.graphs
            or self.hparams
            or self.layouts
            or self.plugins
        )
