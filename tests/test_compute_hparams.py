import json

import numpy as np
import pytest

from tsvis_live.compute.hparams import MISSING, HparamGroup, hparams_response
from tsvis_live.compute.jsonsafe import dumps


def frontend_rows(data):
    """What store/modules/hyperparm.js setAllData builds; raises where the JS throws."""
    info = data["hparamsInfo"]
    if data["metrics"] and len(data["metrics"][0]["value"]) != len(info):
        raise AssertionError("incomplete")
    rows = []
    for i, entry in enumerate(info):
        (name,) = list(entry)[:1]
        row = {}
        for d in entry[name]["hparams"]:
            v = d["data"]
            row[d["name"]] = round(v, 4) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)
        for m in data["metrics"]:
            v = m["value"][i]
            assert isinstance(v, (int, float)) and not isinstance(v, bool)  # .toFixed
            row["metric/" + m["tag"]] = round(v, 4)
        rows.append(row)
    return rows


def test_shape_and_matching_by_name():
    groups = [
        HparamGroup("g2", {"lr": 0.01, "opt": "adam", "bn": True}, start_time_secs=20),
        HparamGroup("g1", {"lr": 0.1, "layers": np.int64(3)}, start_time_secs=10),
    ]
    metrics = {"loss": {"g1": 0.5, "g2": 0.25}, "acc": {"g2": 0.9}, "f1": {"g1": float("nan"), "g2": 1.0}}
    data = hparams_response(groups, metrics)
    assert list(data["hparamsInfo"][0]) == ["g1"]
    assert data["hparamsInfo"][0]["g1"] == {
        "hparams": [{"name": "bn", "data": MISSING}, {"name": "layers", "data": 3},
                    {"name": "lr", "data": 0.1}, {"name": "opt", "data": MISSING}],
        "start_time_secs": 10,
    }
    assert data["metrics"] == [{"tag": "loss", "value": [0.5, 0.25]}]
    assert data["omittedMetrics"] == [{"tag": "acc", "groups": ["g1"]}, {"tag": "f1", "groups": ["g1"]}]
    rows = frontend_rows(json.loads(dumps(data)))
    assert rows[1] == {"bn": "True", "layers": "N/A", "lr": 0.01, "opt": "adam", "metric/loss": 0.25}


def test_no_groups_is_an_error():
    with pytest.raises(ValueError):
        hparams_response([], {})
