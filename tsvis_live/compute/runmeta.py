"""RunMetadata records: the op graph of a trace, and the step stats of a profiled run.

Who writes them, and what TensorBoard's graphs plugin makes of them (graphs_plugin.py,
graph_util.merge_graph_defs, TensorBoard 2.21):
- `tf.summary.trace_export` writes a summary with plugin `graph_run_metadata_graph` (graph
  only) or, with the profiler on, `graph_run_metadata`. Both have an *op graph*: the
  `pre_optimization_graph` of each entry of `function_graphs`. One is shown as it is; several
  are merged, each under the name scope `graph_<i>` (1-based, in file order), so that equal
  op names of different functions stay apart.
- `Event.tagged_run_metadata` (TF1 `FileWriter.add_run_metadata`, torch and tensorboardX
  `add_graph`, hence PyTorch Lightning) and plugin `graph_tagged_run_metadata` are profiles:
  their step stats (per device, per executed node: times, memory, outputs) are drawn over the
  run graph. torch writes one empty device (`/device:CPU:0`) under the tag `step1`.

We serve the op graph in the TS-VIS node format (`compute.graphs`); a RunMetadata without
function graphs but with `partition_graphs` (a TF1 FULL_TRACE run with
`output_partition_graphs`) gets those merged the same way (TensorBoard shows nothing there).
Step stats are served as JSON (`step_stats_json`) and can be laid over a graph's nodes as
attributes (`annotate`), matched by op name (for a merged graph, also without its `graph_<i>/`
scope). Malformed input raises `ValueError`.
"""

from __future__ import annotations

import re
from typing import Any

from tsvis_live.compute import graphs

PROFILE_PLUGINS = frozenset({"graph_tagged_run_metadata"})
OP_GRAPH_PLUGINS = frozenset({"graph_run_metadata", "graph_run_metadata_graph"})
_SCOPE = re.compile(r"^graph_\d+/")


def parse(data: bytes) -> Any:
    """Bytes -> RunMetadata, or `ValueError` saying it is not one."""
    from google.protobuf import message as pb_message
    from tensorboard.compat.proto import config_pb2

    try:
        return config_pb2.RunMetadata.FromString(data)
    except (pb_message.Error, RuntimeError, ValueError) as err:
        raise ValueError("The record is not a serialized RunMetadata.") from err


def op_graph_ops(meta: Any) -> list[Any]:
    """The ops of a RunMetadata's op graph, merged as TensorBoard merges them."""
    graphs_ = [fg.pre_optimization_graph for fg in meta.function_graphs] or list(meta.partition_graphs)
    if len(graphs_) == 1:
        return graphs.graph_ops(graphs_[0])
    ops: list[Any] = []
    for i, graph in enumerate(graphs_, start=1):
        ops.extend(graphs.graph_ops(graph, scope=f"graph_{i}"))
    return ops


def _micros(stats: Any, name: str) -> int:
    """A micros field, or its nanos twin / 1000 when only that one was written."""
    value = getattr(stats, f"{name}_micros")
    if not value:
        value = getattr(stats, f"{name}_nanos") // 1000
    return int(value)


def _node(ns: Any) -> dict[str, Any]:
    outputs = []
    output_bytes = 0
    for out in ns.output:
        desc = out.tensor_description
        requested = int(desc.allocation_description.requested_bytes)
        output_bytes += requested
        outputs.append({"slot": out.slot, "dtype": graphs._dtype_name(desc.dtype),
                        "shape": graphs._shape_text(desc.shape), "requested_bytes": requested})
    return {
        "node_name": ns.node_name,
        "timeline_label": ns.timeline_label,
        "all_start_micros": _micros(ns, "all_start"),
        "op_start_rel_micros": _micros(ns, "op_start_rel"),
        "op_end_rel_micros": _micros(ns, "op_end_rel"),
        "all_end_rel_micros": _micros(ns, "all_end_rel"),
        "scheduled_micros": _micros(ns, "scheduled"),
        "thread_id": ns.thread_id,
        "memory": [{"allocator_name": m.allocator_name, "total_bytes": int(m.total_bytes),
                    "peak_bytes": int(m.peak_bytes), "live_bytes": int(m.live_bytes)} for m in ns.memory],
        "output_bytes": output_bytes,
        "outputs": outputs,
    }


def step_stats_json(meta: Any) -> dict[str, Any]:
    """What a RunMetadata holds, for `/api/run_metadata`: graph counts and every step stat."""
    return {
        "function_graphs": len(meta.function_graphs),
        "partition_graphs": len(meta.partition_graphs),
        "devices": [
            {"device": dev.device, "nodes": [_node(ns) for ns in dev.node_stats]}
            for dev in meta.step_stats.dev_stats
        ],
    }


def annotate(ops: list[Any], meta: Any) -> int:
    """Lay a RunMetadata's step stats over `ops` as `_stats/...` attributes; returns how many
    ops got some. Times are microseconds; a node run on several devices keeps the last."""
    by_name: dict[str, tuple[str, Any]] = {}
    first = min((ns.all_start_micros for dev in meta.step_stats.dev_stats for ns in dev.node_stats
                 if ns.all_start_micros), default=0)
    for dev in meta.step_stats.dev_stats:
        for ns in dev.node_stats:
            by_name[ns.node_name] = (dev.device, ns)
    hits = 0
    for op in ops:
        found = by_name.get(op.name) or by_name.get(_SCOPE.sub("", op.name))
        if found is None:
            continue
        device, ns = found
        node = _node(ns)
        op.attrs.update({
            "_stats/device": device,
            "_stats/start_us": str(max(0, node["all_start_micros"] - first)),
            "_stats/compute_us": str(max(0, node["op_end_rel_micros"] - node["op_start_rel_micros"])),
            "_stats/total_us": str(node["all_end_rel_micros"]),
            "_stats/memory_bytes": str(sum(m["total_bytes"] for m in node["memory"])),
            "_stats/output_bytes": str(node["output_bytes"]),
        })
        hits += 1
    return hits
