"""Graph conversion time by size: `python -m bench.graph_bench [--sizes 1000,5000,20000] [--repeats 5]`.

tsvis-live turns a GraphDef into the TS-VIS computation-graph model on the server
(`compute.graphs.computation_graph`); TensorBoard's graphs plugin answers the same request with
the GraphDef as protobuf text (`text_format`), which its browser then parses and lays out. Both
server-side costs are measured here, in the same process, alternately, on ResNet-like graphs of
growing size (21 ops per unit, 5 units per block), so the report gives the growth, not one point.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from google.protobuf import text_format
from tensorboard.compat.proto import graph_pb2

from tsvis_live.compute.graphs import computation_graph


def resnet_graphdef(ops: int) -> bytes:
    """About `ops` ops: blocks of 5 units x 21 ops (weights, convs, batch norms, relus)."""
    g = graph_pb2.GraphDef()
    prev = "input"
    g.node.add(name=prev, op="Placeholder")
    for b in range(max(1, ops // 105)):
        for u in range(5):
            s = f"resnet/block{b}/unit{u}"
            for k in range(4):
                g.node.add(name=f"{s}/conv{k}/weights", op="VariableV2")
                g.node.add(name=f"{s}/bn{k}/gamma", op="VariableV2")
            cur = prev
            for k in range(4):
                n = g.node.add(name=f"{s}/conv{k}/Conv2D", op="Conv2D", input=[cur, f"{s}/conv{k}/weights"])
                shape = n.attr["_output_shapes"].list.shape.add()
                for size in (-1, 56, 56, 64):
                    shape.dim.add(size=size)
                bn = g.node.add(name=f"{s}/bn{k}/FusedBatchNorm", op="FusedBatchNorm",
                                input=[n.name, f"{s}/bn{k}/gamma"])
                cur = g.node.add(name=f"{s}/relu{k}", op="Relu", input=[bn.name]).name
            prev = g.node.add(name=f"{s}/add", op="AddV2", input=[cur, prev]).name
    return g.SerializeToString()


def _ours(data: bytes) -> int:
    return len(json.dumps(computation_graph(graphdef=data)))


def _tensorboard(data: bytes) -> int:
    return len(text_format.MessageToString(graph_pb2.GraphDef.FromString(data)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000,20000")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; median of {args.repeats}, alternating")
    print(f"{'ops':>7} {'tsvis-live ms':>14} {'MB JSON':>8} {'TensorBoard ms':>15} {'MB pbtxt':>9} {'ratio':>6}")
    for size in (int(s) for s in args.sizes.split(",")):
        data = resnet_graphdef(size)
        ops = len(graph_pb2.GraphDef.FromString(data).node)
        times: dict[str, list[float]] = {"ours": [], "tb": []}
        out = {}
        for _ in range(args.repeats):
            for name, fn in (("ours", _ours), ("tb", _tensorboard)):
                t0 = time.perf_counter()
                out[name] = fn(data)
                times[name].append(time.perf_counter() - t0)
        ours, tb = statistics.median(times["ours"]), statistics.median(times["tb"])
        print(f"{ops:>7} {ours * 1e3:>14.0f} {out['ours'] / 1e6:>8.1f} {tb * 1e3:>15.0f} {out['tb'] / 1e6:>9.1f} "
              f"{ours / tb:>6.2f}")


if __name__ == "__main__":
    main()
