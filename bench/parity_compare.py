"""Value-by-value comparison of two parity views (`bench.parity_read`): TensorBoard's Python
loader (`tb`) against tsvis-live through the TS-VIS API (`sv`).

Each comparator yields `Diff`s with a code; `CAUSES` says what each code means and whether it
is explained (a documented difference or a writer/TensorBoard limitation) or not (a bug until
shown otherwise). N counts TensorBoard's items: scalar points, histogram writes, images, audio
clips, text writes, PR curve writes, layouts, hparams values and metrics, graph nodes,
embedding tensors.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.parity_read import KINDS, View

CAUSES: dict[str, tuple[str, bool]] = {
    "missing": ("TensorBoard has it, tsvis-live does not", False),
    "value": ("values differ", False),
    "extra": ("tsvis-live serves it, TensorBoard does not", False),
    "hist_f32": ("TensorBoard's data_compat stores a legacy HistogramProto as float32 buckets; "
                 "tsvis-live keeps the writer's doubles (equal once rounded to float32)", True),
    "dist_of_hist": ("follows from that write's histogram difference (float32 or clamped "
                     "buckets): tsvis-live's 9 values equal TensorBoard's own compress_histogram "
                     "applied to tsvis-live's buckets (within 16 ulp, see dist_ulp)", True),
    "dist_ulp": ("same buckets, values a few ulp apart (at most 16 accepted): tsvis-live interpolates as "
                 "y0*(1-t) + y1*t (compute/distribution.py: no overflow with +-DBL_MAX edges), "
                 "TensorBoard as y0 + (x-x0)*(y1-y0)/(x1-x0)", True),
    "hist_clamp": ("legacy histogram whose min lies above its first inner bucket edge: "
                   "TensorBoard makes a backwards bucket [min, edge], tsvis-live clamps edges "
                   "to [min, max] (formats/events.py); counts equal", True),
    "hist_empty": ("empty histogram: TensorBoard has no bucket, tsvis-live sends one zero "
                   "bucket [min, max, 0] (docs/api.md: the frontend indexes bucket 0)", True),
    "audio_label": ("audio without a writer label: TensorBoard has an empty label, tsvis-live "
                    "the original TS-VIS text (rate, channels, frames; docs/api.md); bytes equal",
                    True),
    "emb_label_cols": ("metadata with several columns: the TS-VIS API has one label per point, "
                       "the first column (TensorBoard serves the whole table); vectors equal", True),
    "tsvis_only_emb": ("TS-VIS's own embedding events (plugin `embeddings`): TensorBoard's "
                       "projector reads only projector_config.pbtxt", True),
    "tsvis_only_exception": ("TS-VIS exception tensors: TensorBoard has no such plugin", True),
    "tb_int_scalar": ("an untyped rank-0 tensor: tsvis-live shows it as a scalar, TensorBoard "
                      "shows nothing", True),
    "cgraph_fallback": ("c_graph of a run without a GraphDef: tsvis-live draws its JSON model or "
                        "newest trace there (docs/api.md, the TS-VIS panel asks only c_graph/"
                        "s_graph); TensorBoard has no run graph, the same graph under its own tag",
                        True),
    "ckpt_no_config": ("a run without projector_config.pbtxt whose directory or parent holds a "
                       "checkpoint: TensorBoard offers its 2-D variables, tsvis-live reads only "
                       "runs with a config (docs/api.md, embeddings in a checkpoint)", True),
    "restart_purge": ("a restart (a second SessionLog START, as TF1 supervisors write): "
                      "TensorBoard's Python loader purges every tag's points at steps >= the "
                      "restart's written before it; tsvis-live ignores SessionLog: all_writes=1 "
                      "keeps every stored write (docs/api.md), and the default newest-write "
                      "answer drops only points a later write of the same tag supersedes", True),
    "layout_older": ("a run that wrote two layouts: getCustom lists every stored layout "
                     "(docs/api.md), TensorBoard's custom-scalars plugin reads each run's newest",
                     True),
    "tb_error_tsvis": ("TS-VIS writes text tensors without a dtype (DT_INVALID): TensorBoard's "
                       "make_ndarray raises, so its text plugin shows nothing; tsvis-live reads "
                       "the strings", True),
}


@dataclass
class Diff:
    kind: str
    key: str
    code: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        cause, explained = CAUSES.get(self.code, (self.code, False))
        return {"kind": self.kind, "key": self.key.replace("\t", " | "), "code": self.code,
                "detail": self.detail, "cause": cause, "explained": explained}


def same(a: Any, b: Any) -> bool:
    """Exact equality with NaN equal to NaN, ints equal to their floats."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _series(kind: str, tb: dict, sv: dict, item, restarts: dict) -> tuple[int, list[Diff]]:
    """Keyed lists compared in write order; `item(key, a, b)` returns None or a Diff code.
    Points TensorBoard purged at a restart (`restarts[run]`: (step, wall) of each SessionLog
    START after the first: every point at a step >= it written before it) are `restart_purge`."""
    n, diffs = 0, []
    for k in sorted(set(tb) | set(sv)):
        a, b = tb.get(k, []), sv.get(k, [])
        n += len(a)
        cuts = restarts.get(k.split("\t")[0], [])
        if cuts and len(b) > len(a):
            purged = [p for p in b if any(p[1] >= s and p[0] < w for s, w in cuts)]
            diffs += [Diff(kind, k, "restart_purge", f"step {p[1]} at {p[0]}: {_short(p)}")
                      for p in purged]
            b = [p for p in b if p not in purged]
        for i in range(max(len(a), len(b))):
            if i >= len(b):
                diffs.append(Diff(kind, k, "missing", f"write {i}: {_short(a[i])}"))
            elif i >= len(a):
                diffs.append(Diff(kind, k, "extra", f"write {i}: {_short(b[i])}"))
            else:
                code = item(k, a[i], b[i])
                if code:
                    diffs.append(Diff(kind, k, code, f"write {i}: TB {_short(a[i])} / "
                                                      f"tsvis-live {_short(b[i])}"))
    return n, diffs


def _short(x: Any) -> str:
    text = json.dumps(x, default=str)
    return text if len(text) < 160 else text[:157] + "..."


def _scalar(_k: str, a: list, b: list) -> str | None:
    return None if same(a, b) else "value"


def _histogram(_k: str, a: list, b: list) -> str | None:
    if same(a, b):
        return None
    if a[:2] != b[:2]:
        return "value"
    ta, tb_ = np.asarray(a[2], float).reshape(-1, 3), np.asarray(b[2], float).reshape(-1, 3)
    if len(ta) == 0 and len(tb_) == 1 and tb_[0, 2] == 0:
        return "hist_empty"
    if ta.shape != tb_.shape:
        return "value"
    a32, b32 = ta.astype(np.float32), tb_.astype(np.float32)
    if np.array_equal(a32, b32):
        return "hist_f32"
    lo, hi = a32[0, 0], a32[-1, 1]
    if lo <= hi and np.array_equal(np.clip(a32[:, :2], lo, hi), b32[:, :2]) and \
            np.array_equal(a32[:, 2], b32[:, 2]):
        return "hist_clamp"
    return "value"


def _distribution_item(sv_histograms: dict):
    """Distributions: 9 (basis point, value) pairs per write. One that differs is traced back
    to its histogram when it equals TensorBoard's own `compress_histogram` applied to
    tsvis-live's buckets (the difference is then the histogram's: float32 or clamped edges)."""
    from tensorboard.plugins.distribution.compressor import compress_histogram

    ref = {(k, w, s): [[bp, float(v)] for bp, v in compress_histogram(b)]
           for k, rows in sv_histograms.items() for w, s, b in rows}

    def item(k: str, a: list, b: list) -> str | None:
        if same(a, b):
            return None
        want = ref.get((k, b[0], b[1]))
        if a[:2] != b[:2] or want is None or [p[0] for p in want] != [p[0] for p in b[2]]:
            return "value"
        got, exp = np.asarray([p[1] for p in b[2]]), np.asarray([p[1] for p in want])
        close = np.all(np.abs(got - exp) <= 16 * np.spacing(np.abs(exp)))
        if not close:
            return "value"
        if same(a[2], want):  # TensorBoard's buckets are tsvis-live's: only the arithmetic
            return "dist_ulp"
        return "dist_of_hist"

    return item


def _audio(_k: str, a: list, b: list) -> str | None:
    if same(a, b):
        return None
    if same(a[:4], b[:4]) and a[4] == "" and b[4].startswith("采样率"):
        return "audio_label"
    return "value"


def compare_hparams(tb: dict, sv: dict) -> tuple[int, list[Diff]]:
    """Per TensorBoard session run: each hyperparameter and metric value of its group."""
    n, diffs = 0, []
    for run, want in sorted(tb.items()):
        got_h, got_m = _server_session(sv.get(run))
        for name, value in sorted(want["hparams"].items()):
            n += 1
            if name not in got_h:
                diffs.append(Diff("hparams", run, "missing", f"hparam {name}={value}"))
            elif not same(float(value) if isinstance(value, bool) else value, got_h[name]):
                diffs.append(Diff("hparams", run, "value", f"hparam {name}: TB {value!r} / "
                                                           f"tsvis-live {got_h[name]!r}"))
        for name, value in sorted(want["metrics"].items()):
            n += 1
            if name not in got_m:
                diffs.append(Diff("hparams", run, "missing", f"metric {name}={value}"))
            elif not same(float(value), float(got_m[name])):
                diffs.append(Diff("hparams", run, "value", f"metric {name}: TB {value!r} / "
                                                           f"tsvis-live {got_m[name]!r}"))
    return n, diffs


def _server_session(answer: dict | None) -> tuple[dict, dict]:
    """tsvis-live's hyperparm of a session run -> ({hparam: value}, {metric: value}) of the
    run's own group (the only one, or the one named like the run)."""
    if not answer:
        return {}, {}
    groups = [g for info in answer["hparamsInfo"] for g in info.items()]
    if not groups:
        return {}, {}
    index, (_name, group) = 0, groups[0]
    hparams = {h["name"]: h["data"] for h in group["hparams"]}
    metrics = {m["tag"]: m["value"][index] for m in answer["metrics"]}
    return hparams, metrics


def compare_layouts(tb: dict, sv: dict) -> tuple[int, list[Diff]]:
    """Each run's newest layout (what TensorBoard's custom-scalars plugin reads) against
    getCustom's list, as multisets; an extra one equal to an older write is that write."""
    def dump(layout: dict) -> str:
        return json.dumps(layout, sort_keys=True, ensure_ascii=False)

    want = Counter(dump(writes[-1]) for writes in tb.values())
    older = Counter(dump(w) for writes in tb.values() for w in writes[:-1])
    got = Counter(dump(v) for v in sv.values())
    diffs = [Diff("custom_scalars", "layouts", "missing", t) for t in (want - got).elements()]
    for t in (got - want).elements():
        code = "layout_older" if older[t] > 0 else "extra"
        older[t] -= 1
        diffs.append(Diff("custom_scalars", "layouts", code, t))
    return sum(want.values()), diffs


def compare_graphs(tb: dict, sv: dict) -> tuple[int, list[Diff]]:
    """Every node of each graph: op and input nodes. TensorBoard's keras/<tag> (conceptual)
    graph is tsvis-live's s_graph."""
    n, diffs = 0, []
    for k, nodes in sorted(tb.items()):
        run, tag = k.split("\t")
        sk = k
        if tag.startswith("keras/"):  # s_graph: one net per model, layers without its scope
            sk, nodes = f"{run}\ts_graph", _unscoped(nodes)
        got = sv.get(sk)
        n += len(nodes)
        if got is None:
            diffs.append(Diff("graphs", k, "missing", f"{len(nodes)} nodes"))
            continue
        for name, spec in sorted(nodes.items()):
            if name not in got:
                diffs.append(Diff("graphs", k, "missing", f"node {name} ({spec[0]})"))
            elif got[name] != spec:
                diffs.append(Diff("graphs", k, "value", f"node {name}: TB {spec} / "
                                                        f"tsvis-live {got[name]}"))
        for name in sorted(set(got) - set(nodes)):
            diffs.append(Diff("graphs", k, "extra", f"node {name} ({got[name][0]})"))
    for k in sorted(set(sv) - set(tb)):
        run, tag = k.split("\t")
        if tag == "s_graph" and any(t.startswith(f"{run}\tkeras/") for t in tb):
            continue
        fallback = tag == "c_graph" and any(t.split("\t")[0] == run for t in tb)
        diffs.append(Diff("graphs", k, "cgraph_fallback" if fallback else "extra",
                          f"{len(sv[k])} nodes"))
    return n, diffs


def _unscoped(nodes: dict[str, list]) -> dict[str, list]:
    """TensorBoard's conceptual graph names layers `<model>/<layer>`; drop that first scope."""
    def strip(name: str) -> str:
        return name.split("/", 1)[1] if "/" in name else name

    return {strip(n): [op, sorted(strip(i) for i in inputs)] for n, (op, inputs) in nodes.items()}


def _embedding_key(k: str, sv: dict) -> str | None:
    """TensorBoard's tensor name -> tsvis-live's `tag@step`: `tag:00003` (torch, tensorboardX)
    is tag `tag` at step 3; a checkpoint tensor (`:0` dropped) is its tag at any step."""
    run, name = k.split("\t")
    m = re.fullmatch(r"(.*):(\d{5})", name)
    if m:
        cand = f"{run}\t{m.group(1)}@{int(m.group(2))}"
        return cand if cand in sv else None
    name = re.sub(r":0$", "", name)
    found = [s for s in sv if s.rsplit("@", 1)[0] == f"{run}\t{name}"]
    return found[-1] if found else None


def compare_embeddings(tb: dict, sv: dict) -> tuple[int, list[Diff]]:
    n, diffs, matched = 0, [], set()
    for k, want in sorted(tb.items()):
        n += 1
        sk = _embedding_key(k, sv)
        if "error" in want:
            diffs.append(Diff("embeddings", k, "missing" if sk is None else "extra",
                              "TensorBoard: " + want["error"]))
            matched.add(sk)
            continue
        if sk is None:
            diffs.append(Diff("embeddings", k, "missing", f"{len(want['vectors'])} vectors"))
            continue
        matched.add(sk)
        got = sv[sk]
        if not np.array_equal(np.asarray(want["vectors"], np.float32),
                              np.asarray(got["vectors"], np.float32)):
            diffs.append(Diff("embeddings", k, "value", "vectors differ"))
            continue
        rows = want["metadata"]
        cols = len(rows[0]) if rows else 0
        labels = [r[0] for r in (rows[1:] if cols > 1 else rows)]
        got_labels = [str(x) for x in got["labels"]]
        if labels != got_labels and not (not labels and not got_labels):
            diffs.append(Diff("embeddings", k, "value", f"labels TB {labels[:5]} / "
                                                        f"tsvis-live {got_labels[:5]}"))
        elif cols > 1:
            diffs.append(Diff("embeddings", k, "emb_label_cols", f"{cols} columns"))
    for sk in sorted(set(sv) - matched):
        diffs.append(Diff("embeddings", sk, "extra", f"{len(sv[sk]['vectors'])} vectors"))
    return n, diffs


def compare(tb: View, sv: View) -> dict[str, tuple[int, list[Diff]]]:
    """kind -> (N, diffs)."""
    cuts = tb["restarts"]
    out = {
        "scalars": _series("scalars", tb["scalars"], sv["scalars"], _scalar, cuts),
        "histograms": _series("histograms", tb["histograms"], sv["histograms"], _histogram, cuts),
        "distributions": _series("distributions", tb["distributions"], sv["distributions"],
                                 _distribution_item(sv["histograms"]), cuts),
        "images": _series("images", tb["images"], sv["images"], _scalar, cuts),
        "audio": _series("audio", tb["audio"], sv["audio"], _audio, cuts),
        "text": _series("text", tb["text"], sv["text"], _scalar, cuts),
        "pr_curves": _series("pr_curves", tb["pr_curves"], sv["pr_curves"], _scalar, cuts),
        "custom_scalars": compare_layouts(tb["custom_scalars"], sv["custom_scalars"]),
        "hparams": compare_hparams(tb["hparams"], sv["hparams"]),
        "graphs": compare_graphs(tb["graphs"], sv["graphs"]),
        "embeddings": compare_embeddings(tb["embeddings"], sv["embeddings"]),
    }
    assert set(out) == set(KINDS)
    return out
