"""Issue 12 item 1: TF2 hparams across runs, in the standard layout that `tf.summary` with
`hp.hparams_config` / `hp.hparams` and the Keras callback write:

    logs/hparams/            hparams_config (the experiment: hparams and metric list)
    logs/hparams/run-i/      hparams (the session) and the `accuracy` scalar
    logs/hparams/run-i/validation/   the `epoch_loss` scalar (metric group "validation")

TensorFlow is not installed: the same protos come from TensorBoard's own summary_v2
builders, written with TensorBoard's EventFileWriter and its numpy `Writer` (tests/writers.py
does the same). TensorBoard shows each trial with accuracy and validation/epoch_loss.
"""

from __future__ import annotations

import numpy as np
import pytest

TRIALS = [{"num_units": 16, "dropout": 0.1, "optimizer": "adam"},
          {"num_units": 32, "dropout": 0.2, "optimizer": "sgd"}]


def _write(logdir):
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.summary import Writer
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    def emit(directory, summary):
        ev = EventFileWriter(str(directory))
        event = event_pb2.Event(step=0, wall_time=1000.0)
        event.summary.CopyFrom(summary)
        ev.add_event(event)
        ev.close()

    root = logdir / "hparams"
    hparams = [hp.HParam("num_units", hp.Discrete([16, 32])), hp.HParam("dropout", hp.RealInterval(0.1, 0.2)),
               hp.HParam("optimizer", hp.Discrete(["adam", "sgd"]))]
    metrics = [hp.Metric("accuracy", display_name="Accuracy"),
               hp.Metric("epoch_loss", group="validation", display_name="Loss (val.)")]
    emit(root, hp.hparams_config_pb(hparams, metrics, time_created_secs=1000.0))
    expected = []
    for i, values in enumerate(TRIALS):
        run = root / f"run-{i}"
        emit(run, hp.hparams_pb(values, start_time_secs=1000.0 + i))
        acc = [0.5 + 0.1 * i + 0.01 * s for s in range(3)]
        loss = [2.0 - 0.3 * i - 0.1 * s for s in range(3)]
        w = Writer(str(run))
        for step, a in enumerate(acc):
            w.add_scalar("accuracy", a, step)
        w.close()
        w = Writer(str(run / "validation"))
        for step, v in enumerate(loss):
            w.add_scalar("epoch_loss", v, step)
        w.close()
        expected.append((acc[-1], loss[-1]))
    return expected


@pytest.fixture
def hp_server(tmp_path, start_server):
    expected = _write(tmp_path / "logs")
    return start_server(tmp_path / "logs"), expected


def test_each_trial_gets_the_experiment_metrics(hp_server):
    server, expected = hp_server
    for i, (acc, loss) in enumerate(expected):
        data = server.json("/api/hyperparm", run=f"hparams/run-{i}")["data"]
        [info] = data["hparamsInfo"]
        [(group, body)] = info.items()
        assert {h["name"]: h["data"] for h in body["hparams"]} == pytest.approx(TRIALS[i])
        tags = [m["tag"] for m in data["metrics"]]
        assert tags == ["accuracy", "validation/epoch_loss"], data
        values = {m["tag"]: m["value"] for m in data["metrics"]}
        np.testing.assert_allclose(values["accuracy"], [acc], rtol=1e-6)
        np.testing.assert_allclose(values["validation/epoch_loss"], [loss], rtol=1e-6)
        assert data["omittedMetrics"] == []


def test_the_experiment_run_shows_every_trial(hp_server):
    """The parent run (the experiment) lists every trial below it, one group per session
    run, as TensorBoard's hparams table does."""
    server, expected = hp_server
    data = server.json("/api/hyperparm", run="hparams")["data"]
    groups = [next(iter(g)) for g in data["hparamsInfo"]]
    assert groups == ["run-0", "run-1"]
    by_group = [{h["name"]: h["data"] for h in next(iter(g.values()))["hparams"]} for g in data["hparamsInfo"]]
    assert by_group == [pytest.approx(t) for t in TRIALS]
    values = {m["tag"]: m["value"] for m in data["metrics"]}
    np.testing.assert_allclose(values["accuracy"], [a for a, _ in expected], rtol=1e-6)
    np.testing.assert_allclose(values["validation/epoch_loss"], [v for _, v in expected], rtol=1e-6)
    category = server.json("/api/getCategory")["data"]
    assert "hyperparm" in category["hparams"] and "hyperparm" in category["hparams/run-0"]
    assert "hyperparm" not in category["hparams/run-0/validation"]
