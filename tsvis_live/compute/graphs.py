"""Graph JSON for the TS-VIS graph panel: `{"net": [...], "operator": [...]}`.

What the frontend reads (Graphs.vue / GraphsPanel.vue of tsvis 0.4.2): every node is
`{label, parent, uid, op, layer, attrs, inputs, targets: [{id, info, control, num}], sub_net}`.
`uid` is the full '/'-separated path and doubles as the dagre node id; `label` is its last part;
`parent` the parent's uid ('' at the top); `layer` the depth (1 at the top); `sub_net` the
children. A node whose `op` is '' and whose `sub_net` is non-empty is a name scope the user can
expand. The panel draws a node when its parent is expanded and it is not, so an edge must
exist between every pair of ancestors the two ends may be collapsed to: an edge a -> b between
ops is stored from each scope of a below the deepest scope a and b share, to each such scope of
b. `info` is the edge label (the source's output shape "{1,?,3}", several joined by ';'),
`control` the string 'true' for control-only edges, `num` how many op edges were merged.
An op whose name is also a scope (TensorFlow `dense` vs `dense/...`) moves into its own scope
as the leaf `dense/(dense)` (the panel draws labels with '(' as virtual nodes), so every op is a
leaf and every scope is expandable. `operator` maps op names to the 7 colour categories.

s_graph: `net` holds one node list per model of a JSON model file (variables and OneFlow
summary ops removed, isolated layers dropped). c_graph: `net` is one node list, built from a
GraphDef (TensorFlow, PyTorch `add_graph`) or from a JSON model with nothing removed.
Malformed input raises `ValueError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_MAX_EDGE_SHAPES = 4  # distinct shapes listed in a merged edge's label before "..."
_SUMMARY_OPS = frozenset({"create_summary_writer", "flush_summary_writer"})


@dataclass(slots=True)
class _Op:
    name: str
    op: str
    attrs: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    edges: list[tuple[str, int, bool]] = field(default_factory=list)  # source, output, control
    shapes: list[str] = field(default_factory=list)  # output shapes, by output index


def _clean(name: str) -> str:
    """Drop empty path parts ('/a//b/' -> 'a/b') so uids and parents always agree."""
    name = str(name)
    if "//" not in name and not name.startswith("/") and not name.endswith("/"):
        return name
    return "/".join(p for p in name.split("/") if p)


# ---------------------------------------------------------------- the tiered net


def _build_net(ops: list[_Op]) -> list[dict[str, Any]]:
    by_name: dict[str, _Op] = {}
    for op in ops:
        if op.name:
            by_name[op.name] = op
    scopes: set[str] = set()
    for name in by_name:
        cut = name.rfind("/")
        while cut > 0:
            prefix = name[:cut]
            if prefix in scopes:
                break
            scopes.add(prefix)
            cut = prefix.rfind("/")
    moved = {n: f"{n}/({n.rsplit('/', 1)[-1]})" for n in by_name if n in scopes}

    nodes: dict[str, dict[str, Any]] = {}
    top: list[dict[str, Any]] = []
    prefixes: dict[str, list[str]] = {}

    def node(uid: str, parent: str, op: str, attrs: dict, inputs: list) -> dict[str, Any]:
        entry = {"label": uid[len(parent) + 1 :] if parent else uid, "parent": parent, "uid": uid,
                 "op": op, "layer": uid.count("/") + 1, "attrs": attrs, "inputs": inputs,
                 "targets": [], "sub_net": []}
        nodes[uid] = entry
        (nodes[parent]["sub_net"] if parent else top).append(entry)
        return entry

    for name, op in by_name.items():
        uid = moved.get(name, name)
        parts = uid.split("/")
        chain = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        prefixes[uid] = chain
        for i, scope in enumerate(chain[:-1]):
            if scope not in nodes:
                node(scope, chain[i - 1] if i else "", "", {}, [])
        node(uid, chain[-2] if len(chain) > 1 else "", op.op, op.attrs, op.inputs)

    merged: dict[tuple[str, str], list[Any]] = {}  # (from, to) -> [shapes, num, all control]
    for name, op in by_name.items():
        dst = moved.get(name, name)
        d_chain = prefixes[dst]
        for src_name, index, control in op.edges:
            source = by_name.get(src_name)
            if source is None or src_name == name:
                continue
            src = moved.get(src_name, src_name)
            s_chain = prefixes[src]
            common = 0
            limit = min(len(s_chain), len(d_chain))
            while common < limit and s_chain[common] == d_chain[common]:
                common += 1
            if common == limit:  # one end contains the other: nothing to draw
                continue
            shape = source.shapes[index] if 0 <= index < len(source.shapes) else ""
            for a in s_chain[common:]:
                for b in d_chain[common:]:
                    agg = merged.get((a, b))
                    if agg is None:
                        merged[(a, b)] = [[shape] if shape else [], 1, control]
                    else:
                        if shape and shape not in agg[0] and len(agg[0]) <= _MAX_EDGE_SHAPES:
                            agg[0].append(shape)
                        agg[1] += 1
                        agg[2] = agg[2] and control
    for (a, b), (shapes, num, control) in merged.items():
        info = ";".join(shapes[:_MAX_EDGE_SHAPES]) + (";..." if len(shapes) > _MAX_EDGE_SHAPES else "")
        nodes[a]["targets"].append(
            {"id": b, "info": info, "control": "true" if control else "false", "num": num}
        )
    return top


# ---------------------------------------------------------------- GraphDef


def _shape_text(shape: Any) -> str:
    if shape.unknown_rank:
        return "{?}"
    return "{" + ",".join("?" if d.size < 0 else str(d.size) for d in shape.dim) + "}"


def _dtype_name(number: int) -> str:
    from tensorboard.compat.proto import types_pb2

    try:
        return types_pb2.DataType.Name(number)
    except ValueError:
        return str(number)


def _list_text(lst: Any) -> str:
    items: list[str] = [s.decode("utf-8", "replace") for s in lst.s]
    items += [str(i) for i in lst.i] + [f"{f:g}" for f in lst.f]
    items += ["true" if b else "false" for b in lst.b]
    items += [_dtype_name(t) for t in lst.type] + [_shape_text(s) for s in lst.shape]
    items += [f"tensor<{_dtype_name(t.dtype)}>{_shape_text(t.tensor_shape)}" for t in lst.tensor]
    items += [f.name for f in lst.func]
    return "[" + ", ".join(items) + "]"


def _attr_text(value: Any) -> str:
    kind = value.WhichOneof("value")
    if kind == "s":
        return value.s.decode("utf-8", "replace")
    if kind == "i":
        return str(value.i)
    if kind == "f":
        return f"{value.f:g}"
    if kind == "b":
        return "true" if value.b else "false"
    if kind == "type":
        return _dtype_name(value.type)
    if kind == "shape":
        return _shape_text(value.shape)
    if kind == "tensor":
        return f"tensor<{_dtype_name(value.tensor.dtype)}>{_shape_text(value.tensor.tensor_shape)}"
    if kind == "list":
        return _list_text(value.list)
    if kind == "func":
        return value.func.name
    if kind == "placeholder":
        return f"${value.placeholder}"
    return ""


def _split_input(ref: str) -> tuple[str, int, bool]:
    """'^name' (control), 'name:2' (output 2) or 'name' -> (name, output index, control)."""
    control = ref.startswith("^")
    name = ref[1:] if control else ref
    head, sep, tail = name.rpartition(":")
    if sep and tail.isdigit():
        return _clean(head), int(tail), control
    return _clean(name), 0, control


def graphdef_ops(graphdef: bytes) -> list[_Op]:
    from google.protobuf import message as pb_message
    from tensorboard.compat.proto import graph_pb2

    try:
        graph = graph_pb2.GraphDef.FromString(graphdef)
    except (pb_message.Error, RuntimeError, ValueError) as err:
        raise ValueError("The graph is not a serialized GraphDef.") from err
    return graph_ops(graph)


def graph_ops(graph: Any, scope: str = "") -> list[_Op]:
    """The ops of a parsed GraphDef, every name (and input) under `scope` when given."""
    ops = []
    for n in graph.node:
        name = _clean(f"{scope}/{n.name}" if scope else n.name)
        op = _Op(name, n.op, inputs=list(n.input))
        for key, value in n.attr.items():
            if key == "_output_shapes" and value.WhichOneof("value") == "list":
                op.shapes = [_shape_text(s) for s in value.list.shape]
                op.attrs[key] = op.shapes
            else:
                op.attrs[key] = _attr_text(value)
        op.edges = [_split_input(ref) for ref in n.input]
        if scope:
            op.edges = [(_clean(f"{scope}/{src}"), i, c) for src, i, c in op.edges]
        ops.append(op)
    return ops


def ops_graph(ops: list[Any]) -> dict[str, Any]:
    """The c_graph JSON of ops built elsewhere (`graph_ops`), e.g. from a RunMetadata."""
    return {"net": _build_net(ops), "operator": OPERATOR_CATEGORIES}


# ---------------------------------------------------------------- JSON models


def _json_models(json_model: bytes) -> list[dict[str, Any]]:
    try:
        obj = json.loads(json_model)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ValueError("The model graph is not valid JSON.") from err
    models = obj if isinstance(obj, list) else [obj]
    for m in models:
        if not isinstance(m, dict) or not isinstance(m.get("config"), (dict, list)):
            raise ValueError("The model graph is not a list of {class_name, config} models.")
    return models


def _inbound_names(value: Any) -> list[str]:
    """Source layer names in `inbound_nodes` of OneFlow (names), Keras 2 or Keras 3."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        if len(value) >= 2 and isinstance(value[0], str) and isinstance(value[1], int):
            return [value[0]]  # Keras 2: [layer, node_index, tensor_index, kwargs]
        return [n for item in value for n in _inbound_names(item)]
    if isinstance(value, dict):
        history = value.get("keras_history")  # Keras 3 tensor reference
        if isinstance(history, list) and history and isinstance(history[0], str):
            return [history[0]]
        return [n for item in value.values() for n in _inbound_names(item)]
    return []


def _removed(layer: dict[str, Any]) -> bool:
    kind = str(layer.get("class_name", "")).lower()
    return kind == "variable" or kind.startswith("summary_write_") or kind in _SUMMARY_OPS


def _model_ops(model: dict[str, Any], structure: bool, scope: str = "") -> list[_Op]:
    config = model["config"]
    layers = config.get("layers", []) if isinstance(config, dict) else config
    if not isinstance(layers, list):
        raise ValueError("The model's config.layers is not a list.")
    ops: list[_Op] = []
    removed: set[str] = set()
    sequential = model.get("class_name") == "Sequential" or not any(
        isinstance(layer, dict) and "inbound_nodes" in layer for layer in layers
    )
    previous = ""
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise ValueError(f"Layer {i} of the model is not an object.")
        layer_config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
        name = _clean(layer.get("name") or layer_config.get("name") or f"layer_{i}")
        if structure and _removed(layer):
            removed.add(name)
            continue
        op = _Op(name, str(layer.get("class_name", "")), attrs=layer_config)
        sources = [previous] if sequential and previous else (
            [] if sequential else [_clean(n) for n in _inbound_names(layer.get("inbound_nodes"))]
        )
        op.inputs = [s for s in sources if s not in removed]
        ops.append(op)
        previous = name
    names = {op.name for op in ops}
    for op in ops:
        op.inputs = [s for s in op.inputs if s in names and s not in removed]
        op.edges = [(s, 0, False) for s in op.inputs]
    if structure and any(op.edges for op in ops):
        linked = {s for op in ops for s in op.inputs} | {op.name for op in ops if op.edges}
        ops = [op for op in ops if op.name in linked]
    if scope:
        for op in ops:
            op.name = f"{scope}/{op.name}"
            op.edges = [(f"{scope}/{s}", i, c) for s, i, c in op.edges]
    return ops


def structure_graph(json_model: bytes) -> dict[str, Any]:
    """s_graph of a JSON model file: one layer net per model, as the panel's selector expects."""
    nets = [_build_net(_model_ops(m, structure=True)) for m in _json_models(json_model)]
    nets = [net for net in nets if net] or [[]]
    return {"net": nets, "operator": OPERATOR_CATEGORIES}


def computation_graph(graphdef: bytes | None = None, json_model: bytes | None = None) -> dict[str, Any]:
    """c_graph from a GraphDef or a JSON model (exactly one of them)."""
    if (graphdef is None) == (json_model is None):
        raise ValueError("Give exactly one of graphdef and json_model.")
    if graphdef is not None:
        ops = graphdef_ops(graphdef)
    else:
        models = _json_models(json_model or b"")
        ops = []
        for i, m in enumerate(models):
            scope = ""
            if len(models) > 1:
                cfg = m["config"]
                scope = _clean(cfg.get("name", "") if isinstance(cfg, dict) else "") or f"model_{i}"
            ops.extend(_model_ops(m, structure=False, scope=scope))
    return {"net": _build_net(ops), "operator": OPERATOR_CATEGORIES}


# ---------------------------------------------------------------- op colour categories

_CATEGORY_OPS = {
    "Convolution": "conv1d conv2d conv3d conv2d_transpose conv3d_transpose conv_transpose1d "
    "conv_transpose2d conv_transpose3d convolution _convolution depthwise_conv2d "
    "depthwise_conv2d_native separable_conv2d atrous_conv2d conv2d_backprop_input",
    "Normalization": "batch_norm batch_normalization batchnormalization fused_batch_norm "
    "fused_batch_norm_v3 layer_norm layer_normalization layernormalization group_norm "
    "instance_norm local_response_normalization lrn l2_normalize normalization",
    "Math&Activation&Pooling": "abs add add_n addmm add_v2 argmax argmin bias_add ceil cos cumsum "
    "div exp floor floor_div floordiv log matmul mat_mul batch_matmul batch_mat_mul mm bmm "
    "linear dense maximum minimum mean mod mul neg pow real_div reduce_max reduce_mean "
    "reduce_min reduce_prod reduce_sum round rsqrt sign sin sqrt square squared_difference "
    "sub sum tanh truediv relu relu6 elu selu gelu crelu leaky_relu hardtanh sigmoid softmax "
    "log_softmax softplus softsign dropout avg_pool avg_pool1d avg_pool2d avg_pool3d max_pool "
    "max_pool1d max_pool2d max_pool3d adaptive_avg_pool2d adaptive_max_pool2d global_pool "
    "max_pooling2d average_pooling2d",
    "Sparse Tensors&Tensor Transformations": "reshape view flatten transpose permute concat "
    "concat_v2 cat stack unstack pack unpack split chunk squeeze unsqueeze expand_dims slice "
    "strided_slice gather gather_nd pad tile cast to shape size rank one_hot reverse "
    "space_to_depth depth_to_space contiguous numpy_t t select index",
    "ControlFlow": "identity no_op switch merge enter exit next_iteration loop_cond cond "
    "while equal not_equal greater greater_equal less less_equal logical_and logical_not "
    "logical_or where assert check_numerics print",
    "Losses&Metrics": "cross_entropy softmax_cross_entropy_with_logits "
    "sparse_softmax_cross_entropy_with_logits sigmoid_cross_entropy_with_logits nll_loss "
    "mse_loss l1_loss l2_loss smooth_l1_loss binary_cross_entropy log_loss accuracy",
    "InputsandReaders": "placeholder placeholder_with_default const constant variable variable_v2 "
    "var_handle_op read_variable_op input input_layer inputlayer io~node getattr "
    "iterator_get_next decode_raw parse_example read_file fixed_len_feature",
}


def _op_keys(name: str) -> list[str]:
    """Spellings the panel looks up: lower-case, without '_', and PyTorch's aten:: / prim::."""
    name = name.replace("~", " ")  # '~' stands for a space inside an op name ("IO Node")
    keys = []
    for base in (name, name.replace("_", "")):
        for key in (base, f"aten::{base}", f"prim::{base}"):
            if key not in keys:
                keys.append(key)
    return keys


OPERATOR_CATEGORIES: list[dict[str, Any]] = [
    {"op": category, "list": [k for n in names.split() for k in _op_keys(n)]}
    for category, names in _CATEGORY_OPS.items()
]
