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


def _written_curves(tmp_path, labels, scores, num_thresholds=127):
    """PR tensors as tensorboardX's and torch's add_pr_curve write them, read back from the
    event files by the project's decoder."""
    import torch
    from tensorboardX import SummaryWriter
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    from tests.writers import decode_logdir

    for run, cls in (("tbx", SummaryWriter), ("torch", TorchWriter)):
        w = cls(str(tmp_path / run))
        w.add_pr_curve("pr", torch.tensor(labels), torch.tensor(scores), 0, num_thresholds=num_thresholds)
        w.close()
    batches = decode_logdir(tmp_path)
    return {run: next(t.value for t in batches[run].tensors if t.kind == "pr_curve") for run in ("tbx", "torch")}


def test_auc_pr_of_a_near_perfect_class_written_by_real_writers(tmp_path):
    """The writers end the curve at (recall 0, precision 0) (thresholds above every score: no
    prediction, precision 0/0 written as 0); integrating that point gave about 0.5 here."""
    rng = np.random.default_rng(3)
    labels = rng.random(2000) < 0.3
    # Sigmoid outputs of a confident model: positives in the top bin, two negatives among them.
    scores = np.where(labels, rng.uniform(0.995, 1.0, labels.size), rng.uniform(0.0, 0.3, labels.size))
    scores[np.flatnonzero(~labels)[:2]] = 0.997
    for run, tensor in _written_curves(tmp_path, labels, scores).items():
        assert tensor.shape == (6, 127), run
        assert tensor[4, -1] == 0 and tensor[5, -1] == 0, run  # the writer's end point
        c = curve(tensor)
        assert c["auc_roc"] > 0.999, (run, c["auc_roc"])
        assert c["auc_pr"] > 0.99, (run, c["auc_pr"])
        assert c["precision"] == pytest.approx(tensor[4].tolist()) and c["recall"] == pytest.approx(tensor[5].tolist())


def test_auc_pr_of_a_random_classifier_is_the_positive_rate(tmp_path):
    rng = np.random.default_rng(4)
    labels = rng.random(4000) < 0.25
    scores = rng.random(4000)
    for run, tensor in _written_curves(tmp_path, labels, scores).items():
        assert curve(tensor)["auc_pr"] == pytest.approx(labels.mean(), abs=0.03), run
