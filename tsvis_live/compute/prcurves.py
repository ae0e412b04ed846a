"""PR/ROC curves from TensorBoard ``pr_curves`` tensors, for ``/api/getRoc``.

The TS-VIS frontend defines ``/api/getRoc`` but never calls it (its ROC panel is a
placeholder), so the shape is ours; it is documented in ``docs/frontend-shapes.md``.
A ``pr_curves`` tensor is ``[6, T]`` with rows TP, FP, TN, FN, precision, recall at
thresholds ``i / (T - 1)``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

ROWS = ("tp", "fp", "tn", "fn", "precision", "recall")


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), 0.0)


def _trapezoid_area(x: np.ndarray, y: np.ndarray) -> float:
    order = np.lexsort((y, x))
    xs, ys = x[order], y[order]
    return float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2.0))


def _auc_pr(tp: np.ndarray, fp: np.ndarray, precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under the writer's precision-recall points, walked from the highest threshold.

    Thresholds above every score predict nothing: precision is 0/0 there, which the writers
    store as 0, so the curve ends at (recall 0, precision 0). Integrating that point cost a
    near-perfect class half its area (0.54 with AUC-ROC 0.9999), so those points are dropped
    and the curve starts at recall 0 with the precision of the highest defined threshold.
    Points are taken in threshold order (not sorted by recall, which mixed up the precisions
    of equal recalls); vertical steps add nothing.
    """
    defined = (tp + fp) > 0
    if not np.any(defined):
        return float("nan")
    r = recall[defined][::-1]  # highest threshold first: recall never decreases
    p = precision[defined][::-1]
    r = np.concatenate([[0.0], r])
    p = np.concatenate([[p[0]], p])
    return float(np.sum(np.diff(r) * (p[1:] + p[:-1]) / 2.0))


def curve(tensor: np.ndarray) -> dict:
    """One step's curve: the six rows, thresholds, TPR/FPR and both areas.

    AUC-ROC uses (FPR, TPR) anchored at (0, 0) and (1, 1); AUC-PR integrates the
    writer's precision over its recall where precision is defined (:func:`_auc_pr`).
    Both are NaN when undefined (no positives or no negatives), which the JSON layer
    sends as ``"NaN"``.
    """
    t = np.asarray(tensor, dtype=np.float64)
    if t.ndim != 2 or t.shape[0] != 6:
        raise ValueError(f"pr_curves tensor must be [6, T], got {t.shape}")
    tp, fp, tn, fn, precision, recall = t
    n = t.shape[1]
    thresholds = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(n)
    tpr = _ratio(tp, tp + fn)
    fpr = _ratio(fp, fp + tn)
    pos = float(np.max(tp + fn)) if n else 0.0
    neg = float(np.max(fp + tn)) if n else 0.0
    if pos > 0 and neg > 0:
        auc_roc = _trapezoid_area(np.concatenate([[0.0], fpr, [1.0]]),
                                  np.concatenate([[0.0], tpr, [1.0]]))
    else:
        auc_roc = float("nan")
    auc_pr = _auc_pr(tp, fp, precision, recall) if pos > 0 and n > 1 else float("nan")
    out = {"thresholds": thresholds.tolist()}
    for name, row in zip(ROWS, t):
        out[name] = row.tolist()
    out.update(tpr=tpr.tolist(), fpr=fpr.tolist(), auc_roc=auc_roc, auc_pr=auc_pr)
    return out


def roc_response(tag: str, entries: Iterable[tuple[float, int, np.ndarray]]) -> dict:
    """``{tag: [{"wall_time", "step", "thresholds", "tp", ..., "auc_roc", "auc_pr"}]}``.

    ``entries`` are ``(wall_time, step, tensor[6, T])`` in the order to show them.
    """
    return {tag: [{"wall_time": float(w), "step": int(s), **curve(t)} for w, s, t in entries]}
