import json
import math
import time

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tsvis_live.compute.jsonsafe import dumps, finite_or_str


def expected(obj):
    if isinstance(obj, float):
        return finite_or_str(obj)
    if isinstance(obj, dict):
        return {k: expected(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [expected(v) for v in obj]
    return obj


def test_non_finite_become_strings_everywhere():
    obj = {
        "NaN": float("nan"),
        'q"NaN\\': [float("inf"), -float("inf"), "Infinity", "-Infinity x NaN"],
        "arr": np.array([[1.0, np.nan], [np.inf, -np.inf]]),
        "np": [np.float32("nan"), np.float64("inf"), np.int64(3), np.bool_(True)],
        "\\": "\\\"NaN\"\\",
    }
    out = json.loads(dumps(obj))
    assert out == {
        "NaN": "NaN",
        'q"NaN\\': ["Infinity", "-Infinity", "Infinity", "-Infinity x NaN"],
        "arr": [[1.0, "NaN"], ["Infinity", "-Infinity"]],
        "np": ["NaN", "Infinity", 3, True],
        "\\": "\\\"NaN\"\\",
    }


def test_output_is_strict_json_bytes():
    b = dumps([float("nan"), "ü", "\ud800"])
    assert isinstance(b, bytes)
    json.loads(b, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


def strict(b):
    return json.loads(b, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@given(json_values)
def test_roundtrip_matches_reference_conversion(obj):
    assert same(strict(dumps(obj)), expected(obj))


def test_throughput_one_million_points():
    n = 1_000_000
    rng = np.random.default_rng(0)
    pts = [{"wall_time": w, "step": s, "value": v}
           for w, s, v in zip((1.6e9 + np.arange(n) * 0.1).tolist(), range(n),
                              rng.standard_normal(n).tolist())]
    t = time.perf_counter()
    clean = dumps({"loss": pts})
    t_clean = time.perf_counter() - t
    pts[n // 2]["value"] = float("nan")
    t = time.perf_counter()
    dirty = dumps({"loss": pts})
    t_dirty = time.perf_counter() - t
    assert json.loads(dirty)["loss"][n // 2]["value"] == "NaN"
    print(f"1M points: {len(clean) / 1e6:.1f} MB, clean {t_clean:.2f} s, with NaN {t_dirty:.2f} s")
    assert t_dirty < 3 * t_clean + 1.0
