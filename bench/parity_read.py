"""The two sides of the parity comparison (`bench.parity`), as one normalized view each:
`{kind: {key: value}}`, keys `run<TAB>tag` (or `run` for layouts and hparams).

- `tensorboard_view`: TensorBoard 2.21's Python loader keeping every point
  (`plugin_event_multiplexer` with size guidance 0 for every plugin) and TensorBoard's own
  plugins where they shape the data (hparams session groups, graphs, custom scalars, projector).
- `server_view`: a running tsvis-live through the TS-VIS API only.

Blobs are compared by SHA-256. Run as `python -m bench.parity_read projector LOGDIR` to print
the projector part as JSON (from a venv with TensorFlow: TensorBoard reads checkpoints only
through it).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import urllib.parse
import urllib.request
from typing import Any

import numpy as np

KINDS = ("scalars", "histograms", "distributions", "images", "audio", "text", "pr_curves", "custom_scalars",
         "hparams", "graphs", "embeddings")
View = dict[str, dict[str, Any]]
_PLUGIN_KIND = {"scalars", "histograms", "images", "audio", "text", "pr_curves", "custom_scalars"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key(run: str, tag: str) -> str:
    return f"{run}\t{tag}"


def empty_view() -> View:
    """Every kind empty; `errors` holds what TensorBoard failed to decode, by plugin and key."""
    return {kind: {} for kind in (*KINDS, "errors", "restarts")}


def _strip_input(ref: str) -> str:
    return re.sub(r":\d+$", "", ref.lstrip("^"))


def graphdef_nodes(graph: Any, conceptual: bool = False) -> dict[str, list]:
    """GraphDef -> {node: [op, sorted input nodes]}. A conceptual (Keras) graph's op is the
    layer class, which TensorBoard keeps in the `keras_class` attribute."""
    def op(n: Any) -> str:
        return n.attr["keras_class"].s.decode() if conceptual else n.op

    return {n.name: [op(n), sorted({_strip_input(i) for i in n.input})] for n in graph.node}


def tensorboard_view(logdir: str, projector: bool = True) -> View:
    """Everything TensorBoard's Python loader keeps for `logdir`, shaped by its plugins."""
    from google.protobuf import json_format, text_format
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
    from tensorboard.compat.proto import graph_pb2
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.custom_scalar import layout_pb2
    from tensorboard.plugins.distribution.compressor import compress_histogram
    from tensorboard.plugins.graph import graphs_plugin
    from tensorboard.util import tensor_util

    keep = {"scalars": 0, "histograms": 0, "images": 0, "audio": 0, "tensors": 0,
            "compressedHistograms": 0}
    mux = pem.EventMultiplexer(size_guidance=keep, tensor_size_guidance={})
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    view = empty_view()
    for run in sorted(mux.Runs()):
        acc = mux.GetAccumulator(run)
        for tag in acc.Tags()["tensors"]:
            plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
            if plugin not in _PLUGIN_KIND:
                continue  # hparams, graphs (read below), plugins tsvis-live does not serve
            k = key(run, tag)
            try:
                arrays = [(e.wall_time, e.step, tensor_util.make_ndarray(e.tensor_proto))
                          for e in acc.Tensors(tag)]
            except Exception as exc:  # noqa: BLE001 (TensorBoard's own failure, recorded)
                view["errors"][f"{plugin}\t{k}"] = f"{type(exc).__name__}: {exc}"
                continue
            if plugin == "scalars":
                view["scalars"][k] = [[w, s, float(a.item())] for w, s, a in arrays]
            elif plugin == "histograms":
                view["histograms"][k] = [[w, s, a.astype(float).reshape(-1, 3).tolist()]
                                         for w, s, a in arrays]
                view["distributions"][k] = [  # what TensorBoard's distributions plugin draws
                    [w, s, [[bp, float(v)] for bp, v in compress_histogram(a.tolist())]]
                    for w, s, a in arrays]
            elif plugin == "images":
                view["images"][k] = [[w, s, i, int(a[0]), int(a[1]), sha(img)]
                                     for w, s, a in arrays for i, img in enumerate(a[2:])]
            elif plugin == "audio":
                view["audio"][k] = [[w, s, i, sha(clip[0]), clip[1].decode()]
                                    for w, s, a in arrays for i, clip in enumerate(_clips(a))]
            elif plugin == "text":
                view["text"][k] = [[w, s, [b.decode() for b in a.reshape(-1)]] for w, s, a in arrays]
            elif plugin == "pr_curves":
                view["pr_curves"][k] = [[w, s, a.astype(float).tolist()] for w, s, a in arrays]
            elif plugin == "custom_scalars":
                view["custom_scalars"][run] = [  # every write; the plugin shows the newest
                    json_format.MessageToDict(layout_pb2.Layout.FromString(a.item()))
                    for _w, _s, a in arrays]
    view["restarts"] = _restarts(mux)
    provider = data_provider.MultiplexerDataProvider(mux, logdir)
    tb_context = base_plugin.TBContext(data_provider=provider, logdir=logdir, multiplexer=mux)
    ctx = context.RequestContext()
    graphs = graphs_plugin.GraphsPlugin(tb_context)
    for run, item in graphs.info_impl(ctx, experiment="").items():
        wanted = [(None, False, "c_graph")] if item["run_graph"] else []
        for tag, info in item["tags"].items():
            if info["op_graph"]:
                wanted.append((tag, False, f"trace/{tag}"))
            if info["conceptual_graph"]:
                wanted.append((tag, True, f"keras/{tag}"))
        for tag, conceptual, name in wanted:
            body, _ = graphs.graph_impl(ctx, run, tag, is_conceptual=conceptual, experiment="")
            graph = text_format.Parse(body, graph_pb2.GraphDef())
            view["graphs"][key(run, name)] = graphdef_nodes(graph, conceptual)
    view["hparams"] = _tb_hparams(tb_context, ctx)
    if projector:
        view["embeddings"] = projector_view(logdir, mux)
    return view


def _restarts(mux: Any) -> dict[str, list]:
    """Each run's SessionLog STARTs after the first: where TensorBoard's loader purges."""
    import glob
    import os

    from tensorboard.backend.event_processing import event_file_loader
    from tensorboard.compat.proto import event_pb2

    out: dict[str, list] = {}
    for run, path in mux.RunPaths().items():
        starts = [(e.step, e.wall_time) for f in sorted(glob.glob(os.path.join(path, "*tfevents*")))
                  for e in event_file_loader.EventFileLoader(f).Load()
                  if e.session_log.status == event_pb2.SessionLog.START]
        if len(starts) > 1:
            out[run] = starts[1:]
    return out


def _clips(a: np.ndarray) -> list:
    """Audio tensor -> [(wav, label)]: (k, 2) as written; a migrated legacy clip is (1,)."""
    return [(x, b"") for x in a] if a.ndim == 1 else list(a.reshape(-1, 2))


def _tb_hparams(tb_context: Any, ctx: Any) -> dict[str, Any]:
    """TensorBoard's hparams table: each session's hyperparameters and metric values."""
    from google.protobuf import json_format
    from tensorboard.plugins.hparams import (
        api_pb2,
        backend_context,
        get_experiment,
        list_session_groups,
    )

    backend = backend_context.Context(tb_context)
    experiment = get_experiment.Handler(ctx, backend, "", api_pb2.GetExperimentRequest()).run()
    request = api_pb2.ListSessionGroupsRequest(start_index=0, slice_size=10**6,
                                               allowed_statuses=[0, 1, 2, 3])
    for info in experiment.hparam_infos:
        request.col_params.add(hparam=info.name)
    for info in experiment.metric_infos:
        request.col_params.add(metric=info.name)
    groups = list_session_groups.Handler(ctx, backend, "", request).run()
    out: dict[str, Any] = {}
    for group in groups.session_groups:
        hparams = {k: json_format.MessageToDict(v) for k, v in group.hparams.items()}
        for session in group.sessions:
            metrics = {"/".join(p for p in (m.name.group, m.name.tag) if p): m.value
                       for m in session.metric_values}
            out[session.name] = {"hparams": hparams, "metrics": metrics}
    return out


def projector_view(logdir: str, mux: Any = None) -> dict[str, Any]:
    """TensorBoard's projector plugin answering its own routes (/runs, /info, /tensor, /metadata)."""
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.projector import projector_plugin
    from werkzeug.test import Client

    if mux is None:
        mux = pem.EventMultiplexer()
        mux.AddRunsFromDirectory(logdir)
        mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, logdir)
    plugin = projector_plugin.ProjectorPlugin(
        base_plugin.TBContext(data_provider=provider, logdir=logdir, multiplexer=mux))
    apps = plugin.get_plugin_apps()

    def get(route: str, **args: str) -> Any:
        r = Client(apps[route]).get(route + "?" + urllib.parse.urlencode(args))
        return r.status_code, r.get_data()

    out: dict[str, Any] = {}
    status, body = get("/runs")
    for run in json.loads(body) if status == 200 else []:
        status, body = get("/info", run=run)
        if status != 200:
            continue
        for emb in json.loads(body).get("embeddings", []):
            name = emb["tensorName"]
            status, data = get("/tensor", run=run, name=name)
            if status != 200:
                out[key(run, name)] = {"error": data.decode(errors="replace")[:200]}
                continue
            shape = [int(d) for d in emb.get("tensorShape", [])]
            vectors = np.frombuffer(data, np.float32).reshape(-1, shape[-1] if shape else 1)
            labels: list = []
            status, meta = get("/metadata", run=run, name=name)
            if status == 200:
                rows = meta.decode().rstrip("\n").split("\n")
                labels = [r.split("\t") for r in rows]
            out[key(run, name)] = {"vectors": vectors.astype(float).tolist(), "metadata": labels}
    return out


class Api:
    """GET + JSON envelope of a tsvis-live server."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=120) as r:
            return r.read()

    def data(self, path: str, **params: Any) -> Any:
        return json.loads(self.get(path, **params), parse_constant=_const)["data"]


def _const(name: str) -> float:
    return float(name)


def _num(value: Any) -> float:
    """JSON number or tsvis-live's "NaN"/"Infinity"/"-Infinity" strings -> float."""
    return float(value) if not isinstance(value, bool) else float(value)


def server_view(url: str) -> View:
    """What tsvis-live serves through the TS-VIS API, in the view's shape."""
    api, view = Api(url), empty_view()
    category = api.data("/api/getCategory")
    for run, sections in category.items():
        for tag in sorted({t for tags in sections.get("scalar", {}).values() for t in tags}):
            points = api.data("/api/scalar", run=run, tag=tag, all_writes=1)[tag]
            view["scalars"][key(run, tag)] = [[p["wall_time"], p["step"], _num(p["value"])]
                                              for p in points]
        for tag in sections.get("statistic", {}).get("histogram", []):
            rows = api.data("/api/histogram", run=run, tag=tag, all_writes=1)[tag]
            view["histograms"][key(run, tag)] = [
                [w, s, [[_num(x) for x in b] for b in buckets]] for w, s, _lo, _hi, buckets in rows]
            rows = api.data("/api/distribution", run=run, tag=tag, all_writes=1)[tag]
            view["distributions"][key(run, tag)] = [
                [w, s, [[bp, _num(v)] for bp, v in points]] for w, s, points in rows]
        media = sections.get("media", {})
        for tag in media.get("image", []):
            view["images"][key(run, tag)] = [
                [e["wall_time"], e["step"], e["index"], e["width"], e["height"],
                 sha(api.get("/api/blob", run=run, tag=tag, step=e["step"], index=e["index"],
                             kind="image"))]
                for e in api.data("/api/image", run=run, tag=tag)[tag]]
        for tag in media.get("audio", []):
            view["audio"][key(run, tag)] = [
                [e["wall_time"], e["step"], e["index"],
                 sha(api.get("/api/blob", run=run, tag=tag, step=e["step"], index=e["index"],
                             kind="audio")), e["label"]]
                for e in api.data("/api/audio", run=run, tag=tag)[tag]]
        for tag in media.get("text", []):
            view["text"][key(run, tag)] = [[e["wall_time"], e["step"], e["value"]]
                                           for e in api.data("/api/text", run=run, tag=tag)[tag]]
        for tag in sections.get("roc", []):
            view["pr_curves"][key(run, tag)] = [
                [c["wall_time"], c["step"],
                 [[_num(x) for x in c[f]] for f in ("tp", "fp", "tn", "fn", "precision", "recall")]]
                for c in api.data("/api/getRoc", run=run, tag=tag)[tag]]
        if "hyperparm" in sections:
            view["hparams"][run] = api.data("/api/hyperparm", run=run)
        for tag in sections.get("graph", []):
            body = json.loads(api.data("/api/graph", run=run, tag=tag))
            view["graphs"][key(run, tag)] = _net_nodes(body["net"])
        for tag in sections.get("embedding", []):
            info = api.data("/api/projector", run=run, tag=tag)
            for step in info[tag]:
                vectors, labels = api.data("/api/getEmbedding", run=run, tag=tag, step=step)[str(step)]
                view["embeddings"][key(run, f"{tag}@{step}")] = {"vectors": vectors, "labels": labels}
    view["custom_scalars"] = {str(i): layout for i, layout in
                              enumerate(api.data("/api/getCustom")["layouts"])}
    return view


def _op_name(uid: str) -> str:
    """The op behind a leaf uid: an op that is also a scope sits at `scope/(name)`."""
    return re.sub(r"/\(([^/]*)\)$", "", uid)


def _net_nodes(nets: list[dict]) -> dict[str, list]:
    """TS-VIS net (nested, scopes as parents) -> {leaf op: [op, sorted input ops]}."""
    out: dict[str, list] = {}
    stack = list(nets)
    while stack:
        node = stack.pop()
        if isinstance(node, list):  # s_graph: one list of layer nodes per model
            stack.extend(node)
        elif node["sub_net"]:
            stack.extend(node["sub_net"])
        else:
            inputs = {_strip_input(_op_name(i)) for i in node["inputs"]}
            out[_op_name(node["uid"])] = [node["op"], sorted(inputs)]
    return out


def is_nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


if __name__ == "__main__":
    if sys.argv[1] == "projector":
        print(json.dumps(projector_view(sys.argv[2])))
