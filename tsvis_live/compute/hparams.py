"""Shape hyperparameter groups and metric values into the frontend's ``hyperparm`` data.

Frontend contract (``store/modules/hyperparm.js``): ``hparamsInfo`` is a non-empty list
of one-key objects ``{group: {"hparams": [{"name", "data"}], "start_time_secs"}}`` and
``metrics[j]["value"][i]`` is the metric of group ``i``: it calls ``.toFixed`` on every
value, so each must be a finite number and every list must have one value per group.
The original matched metrics to groups by map position; here they are matched by group
name, and a metric that some group lacks (or has as NaN/Inf) is left out of
``metrics`` and listed in ``omittedMetrics`` (a key the frontend ignores) instead of
crashing the page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .natsort import natural_key

MISSING = "N/A"
"""Stands in for an hparam that a group does not have: every group must carry every
name or the parallel-coordinates rows end up ragged; a string makes the axis
categorical, which is honest for a partially-set hparam."""


@dataclass
class HparamGroup:
    """One session/trial: its name (OneFlow/TensorBoard ``group_name``) and values."""

    name: str
    hparams: Mapping[str, Any]
    start_time_secs: float = 0.0
    extra: dict = field(default_factory=dict)


def _data(value: Any) -> Any:
    """numbers stay numbers (bools too: JSON true/false), everything else becomes str."""
    if isinstance(value, bool) or value is None:
        return MISSING if value is None else value
    if isinstance(value, (int, float)):
        return value
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return _data(value.item())
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def _finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def hparams_response(groups: Iterable[HparamGroup],
                     metrics: Mapping[str, Mapping[str, float]]) -> dict:
    """Build ``{"hparamsInfo": [...], "metrics": [...], "omittedMetrics": [...]}``.

    ``metrics`` maps metric tag -> {group name -> value}. Groups are ordered by start
    time then name; hparam names and metric tags naturally. Raises ``ValueError`` when
    there is no group: the frontend crashes on an empty list, so the caller should
    answer with an error (404) instead.
    """
    gs = sorted(groups, key=lambda g: (g.start_time_secs, natural_key(g.name)))
    if not gs:
        raise ValueError("no hyperparameter groups")
    names = sorted({k for g in gs for k in g.hparams}, key=natural_key)
    info = []
    for g in gs:
        hp = [{"name": k, "data": _data(g.hparams[k]) if k in g.hparams else MISSING}
              for k in names]
        info.append({g.name: {"hparams": hp, "start_time_secs": g.start_time_secs}})
    out_metrics = []
    omitted = []
    for tag in sorted(metrics, key=natural_key):
        by_group = metrics[tag]
        values = [by_group.get(g.name) for g in gs]
        values = [v.item() if hasattr(v, "item") else v for v in values]
        bad = [g.name for g, v in zip(gs, values) if not _finite_number(v)]
        if bad:
            omitted.append({"tag": tag, "groups": bad})
            continue
        out_metrics.append({"tag": tag, "value": [float(v) for v in values]})
    return {"hparamsInfo": info, "metrics": out_metrics, "omittedMetrics": omitted}


# -- runs of one experiment ------------------------------------------------------------
# TensorBoard's layout for TF2 hparams: the experiment (hparams_config: the metric list) in a
# parent directory, one session (hparams) per child run, and a metric with a group read from
# the session's `<group>` child run (Keras: `run-0/validation`). Run names here are paths
# relative to the logdir with "/" separators, "." for the logdir itself.

def ancestors(run: str) -> list[str]:
    """The runs above `run`, nearest first, ending with the logdir itself ("." )."""
    if run == ".":
        return []
    parts = run.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)] + ["."]


def is_below(run: str, parent: str) -> bool:
    """Whether `run` lies under `parent` (not `parent` itself)."""
    return run != parent and (parent == "." or run.startswith(parent + "/"))


def relative(run: str, parent: str) -> str:
    return run if parent == "." else run[len(parent) + 1:]


def metric_sources(run: str, metric: str) -> list[tuple[str, str]]:
    """Where a session's metric value may live, in order: ``(run, tag)`` pairs.

    A metric name is stored as ``group/tag`` when it has a group, which cannot be told apart
    from a tag containing "/": first the whole name as a tag of the session run, then each
    split into a child run (the group) and a tag, shortest group first.
    """
    parts = metric.split("/")
    out = [(run, metric)]
    for i in range(1, len(parts)):
        group = "/".join(parts[:i])
        out.append((group if run == "." else f"{run}/{group}", "/".join(parts[i:])))
    return out
