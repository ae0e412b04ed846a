import math

import numpy as np
import pytest

from tsvis_live.compute.prcurves import curve, roc_response


def pr_tensor(labels, scores, t=11):
    """Build a TensorBoard-style [6, T] pr_curves tensor by brute force."""
    labels = np.asarray(labels, bool)
    scores = np.asarray(scores, float)
    rows = []
    for th in np.linspace(0, 1, t):
        pred = scores >= th
        tp = float(np.sum(pred & labels))
        fp = float(np.sum(pred & ~labels))
        tn = float(np.sum(~pred & ~labels))
        fn = float(np.sum(~pred & labels))
        rows.append([tp, fp, tn, fn, tp / max(tp + fp, 1e-7), tp / max(tp + fn, 1e-7)])
    return np.array(rows).T


def test_perfect_classifier_has_unit_auc():
    t = pr_tensor([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    c = curve(t)
    assert c["auc_roc"] == pytest.approx(1.0)
    assert c["tpr"][0] == 1.0 and c["fpr"][0] == 1.0
    assert c["thresholds"] == pytest.approx(np.linspace(0, 1, 11).tolist())
    assert c["tp"] == t[0].tolist()


def test_auc_roc_matches_rank_statistic():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    scores = np.clip(rng.normal(0.4 + 0.2 * labels, 0.2), 0, 1)
    t = pr_tensor(labels, scores, t=201)
    pos, neg = scores[labels == 1], scores[labels == 0]
    mw = np.mean(pos[:, None] > neg[None, :]) + 0.5 * np.mean(pos[:, None] == neg[None, :])
    assert curve(t)["auc_roc"] == pytest.approx(mw, abs=0.01)


def test_undefined_auc_is_nan_and_response_shape():
    t = pr_tensor([0, 0], [0.1, 0.7])
    c = curve(t)
    assert math.isnan(c["auc_roc"]) and math.isnan(c["auc_pr"])
    r = roc_response("pr/a", [(1.5, 3, t)])
    assert list(r) == ["pr/a"] and r["pr/a"][0]["step"] == 3 and r["pr/a"][0]["wall_time"] == 1.5
    with pytest.raises(ValueError):
        curve(np.zeros((5, 3)))
