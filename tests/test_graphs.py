"""Graph JSON for the TS-VIS panel: real PyTorch GraphDefs, hand-built TensorFlow-style ones,
OneFlow structure graphs and Keras-style JSON models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tensorboard.compat.proto import event_pb2, graph_pb2

from tsvis_live.compute.graphs import OPERATOR_CATEGORIES, computation_graph, structure_graph
from tsvis_live.formats.tfrecord import scan

NODE_KEYS = {"label", "parent", "uid", "op", "layer", "attrs", "inputs", "targets", "sub_net"}


def walk(nodes: list[dict]) -> list[dict]:
    out = []
    for n in nodes:
        out.append(n)
        out.extend(walk(n["sub_net"]))
    return out


def edges(net: list[dict]) -> set[tuple]:
    return {(n["uid"], t["id"], t["info"], t["control"], t["num"]) for n in walk(net) for t in n["targets"]}


def check_shape(net: list[dict]) -> None:
    """The invariants the panel relies on, for every node."""
    uids = {n["uid"] for n in walk(net)}
    for n in walk(net):
        assert set(n) == NODE_KEYS
        assert n["layer"] == n["uid"].count("/") + 1
        assert n["parent"] == n["uid"].rpartition("/")[0]
        assert n["label"] == n["uid"].rpartition("/")[2]
        for child in n["sub_net"]:
            assert child["parent"] == n["uid"]
        if n["sub_net"]:
            assert n["op"] == "" and n["attrs"] == {}
        for t in n["targets"]:
            assert t["id"] in uids and t["control"] in ("true", "false") and t["num"] >= 1
    json.dumps(net, allow_nan=False)


# ---------------------------------------------------------------- PyTorch add_graph


def torch_graphdef(logdir: Path) -> bytes:
    import torch  # installed by the test command: a missing torch fails here
    from torch import nn
    from torch.utils.tensorboard import SummaryWriter

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.act, self.fc2 = nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    with SummaryWriter(str(logdir)) as w:
        w.add_graph(Net(), torch.zeros(1, 4))
    (path,) = logdir.glob("events.out.tfevents.*")
    for record in scan(path.read_bytes()):
        event = event_pb2.Event.FromString(record.data)
        if event.graph_def:
            return event.graph_def
    raise AssertionError("no GraphDef event written")


def test_pytorch_add_graph(tmp_path: Path) -> None:
    graph = computation_graph(graphdef=torch_graphdef(tmp_path))
    assert graph["operator"] is OPERATOR_CATEGORIES
    net = graph["net"]
    check_shape(net)
    assert [n["label"] for n in net] == ["input", "output", "Net"]
    by_uid = {n["uid"]: n for n in walk(net)}
    assert [n["label"] for n in by_uid["Net"]["sub_net"]] == ["Linear[fc1]", "ReLU[act]", "Linear[fc2]"]
    assert [n["uid"] for n in by_uid["Net/Linear[fc1]"]["sub_net"]] == [
        "Net/Linear[fc1]/bias", "Net/Linear[fc1]/weight", "Net/Linear[fc1]/input.1"]
    leaf = by_uid["Net/Linear[fc1]/input.1"]
    assert (leaf["op"], leaf["layer"], leaf["parent"]) == ("aten::linear", 3, "Net/Linear[fc1]")
    assert leaf["attrs"] == {"attr": "{}", "_output_shapes": ["{1,3}"]}
    assert leaf["inputs"] == ["input/x", "Net/Linear[fc1]/weight/weight.1", "Net/Linear[fc1]/bias/bias.1"]
    assert by_uid["Net/Linear[fc1]/bias/bias.1"]["attrs"] == {"attr": "{ name :  bias }"}
    assert by_uid["input/x"]["op"] == "IO Node"

    def e(a, b, info):
        return (a, b, info, "false", 1)

    fc1, act, fc2 = "Net/Linear[fc1]", "Net/ReLU[act]", "Net/Linear[fc2]"
    expected = {
        # input/x -> fc1/input.1 diverge at the top: every pair of their scopes is linked
        *(e(a, b, "{1,4}") for a in ("input", "input/x") for b in ("Net", fc1, f"{fc1}/input.1")),
        *(e(a, b, "{1,3}") for a in (fc1, f"{fc1}/input.1") for b in (act, f"{act}/input")),
        *(e(a, b, "{1,3}") for a in (act, f"{act}/input") for b in (fc2, f"{fc2}/42")),
        *(e(a, b, "{1,2}") for a in ("Net", fc2, f"{fc2}/42") for b in ("output", "output/output.1")),
        e(f"{fc1}/weight", f"{fc1}/input.1", ""), e(f"{fc1}/weight/weight.1", f"{fc1}/input.1", ""),
        e(f"{fc1}/bias", f"{fc1}/input.1", ""), e(f"{fc1}/bias/bias.1", f"{fc1}/input.1", ""),
        e(f"{fc2}/weight", f"{fc2}/42", ""), e(f"{fc2}/weight/weight", f"{fc2}/42", ""),
        e(f"{fc2}/bias", f"{fc2}/42", ""), e(f"{fc2}/bias/bias", f"{fc2}/42", ""),
    }
    assert edges(net) == expected


def test_operator_categories_match_the_panel_lookup() -> None:
    assert [c["op"] for c in OPERATOR_CATEGORIES] == [
        "Convolution", "Normalization", "Math&Activation&Pooling",
        "Sparse Tensors&Tensor Transformations", "ControlFlow", "Losses&Metrics", "InputsandReaders"]
    category = {k: c["op"] for c in OPERATOR_CATEGORIES for k in c["list"]}
    # the panel looks up op.toLowerCase(), then the same without '_'
    for op, expected in [("aten::linear", "Math&Activation&Pooling"), ("IO Node", "InputsandReaders"),
                         ("Conv2D", "Convolution"), ("BiasAdd", "Math&Activation&Pooling"),
                         ("FusedBatchNormV3", "Normalization"), ("prim::GetAttr", "InputsandReaders"),
                         ("aten::_convolution", "Convolution"), ("max_pool", "Math&Activation&Pooling")]:
        key = op.lower()
        assert category.get(key, category.get(key.replace("_", ""))) == expected, op


# ---------------------------------------------------------------- TensorFlow-style GraphDef


def tf_graphdef() -> bytes:
    g = graph_pb2.GraphDef()

    def node(name, op, inputs=(), shapes=None, **attrs):
        n = g.node.add(name=name, op=op, input=list(inputs))
        if shapes is not None:
            for dims in shapes:
                shape = n.attr["_output_shapes"].list.shape.add()
                for d in dims:
                    shape.dim.add(size=d)
        for key, setter in attrs.items():
            setter(n.attr[key])
        return n

    node("init", "NoOp")
    node("x", "Placeholder", shapes=[[-1, 4]], dtype=lambda a: setattr(a, "type", 1))
    node("split", "Split", ["x"], shapes=[[-1, 2], [-1, 3]], num_split=lambda a: setattr(a, "i", 2))
    node("dense/kernel", "VariableV2", shapes=[[4, 3]],
         shape=lambda a: [a.shape.dim.add(size=s) for s in (4, 3)])
    node("dense", "Identity", ["dense/BiasAdd"], shapes=[[-1, 3]])
    node("dense/MatMul", "MatMul", ["split:1", "dense/kernel", "^init"],
         transpose_a=lambda a: setattr(a, "b", False), T=lambda a: setattr(a, "type", 1))
    node("dense/BiasAdd", "BiasAdd", ["dense/MatMul"], padding=lambda a: setattr(a, "s", b"SAME"),
         strides=lambda a: a.list.i.extend([1, 2, 2, 1]), alpha=lambda a: setattr(a, "f", 0.25))
    node("out", "Relu", ["dense", "^init"])
    node("loss/a", "Add", ["split", "split:1"])
    node("loss/b", "Mul", ["split:1", "ghost:0"], value=lambda a: (
        setattr(a.tensor, "dtype", 1), a.tensor.tensor_shape.dim.add(size=2)))
    node("weird", "Unknown", shapes=[[]], rank=lambda a: setattr(a.shape, "unknown_rank", True))
    return g.SerializeToString()


def test_tensorflow_scopes_and_edges() -> None:
    net = computation_graph(graphdef=tf_graphdef())["net"]
    check_shape(net)
    by_uid = {n["uid"]: n for n in walk(net)}
    assert [n["label"] for n in net] == ["init", "x", "split", "dense", "out", "loss", "weird"]
    # `dense` is an op and a scope: the op moves into the scope as a virtual leaf
    assert [n["label"] for n in by_uid["dense"]["sub_net"]] == ["kernel", "(dense)", "MatMul", "BiasAdd"]
    assert (by_uid["dense"]["op"], by_uid["dense/(dense)"]["op"]) == ("", "Identity")
    assert by_uid["dense/(dense)"]["layer"] == 2
    assert by_uid["dense/kernel"]["attrs"] == {"_output_shapes": ["{4,3}"], "shape": "{4,3}"}
    assert by_uid["dense/MatMul"]["attrs"] == {"transpose_a": "false", "T": "DT_FLOAT"}
    assert by_uid["dense/BiasAdd"]["attrs"] == {"padding": "SAME", "strides": "[1, 2, 2, 1]", "alpha": "0.25"}
    assert by_uid["loss/b"]["attrs"] == {"value": "tensor<DT_FLOAT>{2}"}
    assert by_uid["loss/b"]["inputs"] == ["split:1", "ghost:0"]
    assert by_uid["weird"]["attrs"] == {"_output_shapes": ["{}"], "rank": "{?}"}
    assert by_uid["x"]["attrs"]["dtype"] == "DT_FLOAT"
    assert edges(net) == {
        ("x", "split", "{?,4}", "false", 1),
        ("split", "dense", "{?,3}", "false", 1),  # split:1 picks the second output's shape
        ("split", "dense/MatMul", "{?,3}", "false", 1),
        ("dense/kernel", "dense/MatMul", "{4,3}", "false", 1),
        ("init", "dense", "", "true", 1),
        ("init", "dense/MatMul", "", "true", 1),
        ("dense/MatMul", "dense/BiasAdd", "", "false", 1),
        ("dense/BiasAdd", "dense/(dense)", "", "false", 1),
        ("dense", "out", "{?,3}", "false", 1),
        ("dense/(dense)", "out", "{?,3}", "false", 1),
        ("init", "out", "", "true", 1),
        ("split", "loss", "{?,2};{?,3}", "false", 3),  # three op edges merged
        ("split", "loss/a", "{?,2};{?,3}", "false", 2),
        ("split", "loss/b", "{?,3}", "false", 1),
    }


def test_realistic_5000_node_graph_converts_whole() -> None:
    """Every op of a 5,041-node graph is in the model, in bounded JSON (its time: bench.graph_bench)."""
    from bench.graph_bench import resnet_graphdef

    graph = computation_graph(graphdef=resnet_graphdef(5040))
    assert len([n for n in walk(graph["net"]) if n["op"]]) == 5041
    assert len(json.dumps(graph)) < 20_000_000


# ---------------------------------------------------------------- JSON models

ONEFLOW_GRAPH = [{"class_name": "Model", "backend": "oneflow", "config": {
    "name": "train_job",
    "layers": [
        {"name": "Input_0", "class_name": "input", "config": {"shape": [1, 4]}, "inbound_nodes": []},
        {"name": "conv1-weight", "class_name": "variable", "config": {}, "inbound_nodes": []},
        {"name": "conv1", "class_name": "conv2d", "config": {"kernel_size": [3, 3], "strides": [1, 1]},
         "inbound_nodes": ["Input_0", "conv1-weight"]},
        {"name": "relu1", "class_name": "relu", "config": {}, "inbound_nodes": ["conv1"]},
        {"name": "fc/weight", "class_name": "variable", "config": {}, "inbound_nodes": []},
        {"name": "fc/matmul", "class_name": "matmul", "config": {}, "inbound_nodes": ["relu1", "fc/weight"]},
        {"name": "fc/bias_add", "class_name": "bias_add", "config": {}, "inbound_nodes": ["fc/matmul"]},
        {"name": "loss", "class_name": "softmax_cross_entropy", "config": {}, "inbound_nodes": ["fc/bias_add"]},
        {"name": "loss_summary", "class_name": "summary_write_scalar", "config": {}, "inbound_nodes": ["loss"]},
        {"name": "writer", "class_name": "create_summary_writer", "config": {}, "inbound_nodes": []},
        {"name": "orphan", "class_name": "identity", "config": {}, "inbound_nodes": []},
    ],
    "input_layers": ["Input_0"], "output_layers": ["loss"]}}]


def plain(a: str, b: str, num: int = 1) -> tuple:
    return (a, b, "", "false", num)


def test_oneflow_structure_graph() -> None:
    graph = structure_graph(json.dumps(ONEFLOW_GRAPH).encode())
    assert graph["operator"] is OPERATOR_CATEGORIES
    (net,) = graph["net"]
    check_shape(net)
    assert [n["label"] for n in net] == ["Input_0", "conv1", "relu1", "fc", "loss"]
    by_uid = {n["uid"]: n for n in walk(net)}
    assert [n["uid"] for n in by_uid["fc"]["sub_net"]] == ["fc/matmul", "fc/bias_add"]
    assert by_uid["conv1"]["attrs"] == {"kernel_size": [3, 3], "strides": [1, 1]}
    assert by_uid["conv1"]["inputs"] == ["Input_0"]  # the variable is gone
    assert edges(net) == {
        plain("Input_0", "conv1"), plain("conv1", "relu1"), plain("relu1", "fc"),
        plain("relu1", "fc/matmul"), plain("fc/matmul", "fc/bias_add"),
        plain("fc", "loss"), plain("fc/bias_add", "loss"),
    }


def test_oneflow_computation_graph_keeps_everything() -> None:
    net = computation_graph(json_model=json.dumps(ONEFLOW_GRAPH).encode())["net"]
    check_shape(net)
    assert [n["label"] for n in net] == [
        "Input_0", "conv1-weight", "conv1", "relu1", "fc", "loss", "loss_summary", "writer", "orphan"]
    assert {plain("conv1-weight", "conv1"), plain("fc/weight", "fc/matmul"),
            plain("loss", "loss_summary")} <= edges(net)


KERAS2 = {"class_name": "Functional", "config": {"name": "mlp", "layers": [
    {"class_name": "InputLayer", "name": "x", "inbound_nodes": [], "config": {"name": "x"}},
    {"class_name": "Dense", "name": "h1", "inbound_nodes": [[["x", 0, 0, {}]]], "config": {"units": 8}},
    {"class_name": "Dense", "name": "h2", "inbound_nodes": [[["x", 0, 0, {}]]], "config": {"units": 8}},
    {"class_name": "Add", "name": "sum", "inbound_nodes": [[["h1", 0, 0, {}], ["h2", 0, 0, {}]]],
     "config": {}},
]}}


def keras3_layer(name: str, cls: str, sources: list[str]) -> dict:
    args = [{"class_name": "__keras_tensor__", "config": {"shape": [None, 4], "keras_history": [s, 0, 0]}}
            for s in sources]
    return {"module": "keras.layers", "class_name": cls, "name": name, "config": {"name": name},
            "inbound_nodes": [{"args": args, "kwargs": {}}] if sources else []}


def test_keras_functional_models() -> None:
    keras3 = {"module": "keras", "class_name": "Functional", "config": {"name": "k3", "layers": [
        keras3_layer("inp", "InputLayer", []), keras3_layer("d", "Dense", ["inp"]),
        keras3_layer("cat", "Concatenate", ["inp", "d"])]}}
    graph = structure_graph(json.dumps([KERAS2, keras3]).encode())
    first, second = graph["net"]
    check_shape(first)
    check_shape(second)
    assert edges(first) == {plain("x", "h1"), plain("x", "h2"), plain("h1", "sum"), plain("h2", "sum")}
    assert edges(second) == {plain("inp", "d"), plain("inp", "cat"), plain("d", "cat")}
    # a dict (Keras `model.to_json()`) is one model
    assert len(structure_graph(json.dumps(KERAS2).encode())["net"]) == 1
    # several models in a c_graph get a scope each
    net = computation_graph(json_model=json.dumps([KERAS2, keras3]).encode())["net"]
    assert [n["uid"] for n in net] == ["mlp", "k3"]
    assert plain("mlp/x", "mlp/h1") in edges(net)


def test_keras_sequential_chains_layers() -> None:
    model = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "Dense", "config": {"name": "d1", "units": 3}},
        {"class_name": "Dropout", "config": {"name": "drop", "rate": 0.5}},
        {"class_name": "Dense", "config": {"name": "d2", "units": 1}}]}}
    (net,) = structure_graph(json.dumps(model).encode())["net"]
    check_shape(net)
    assert [n["label"] for n in net] == ["d1", "drop", "d2"]
    assert edges(net) == {plain("d1", "drop"), plain("drop", "d2")}
    assert net[1]["attrs"] == {"name": "drop", "rate": 0.5}


def test_single_layer_model_is_kept() -> None:
    model = [{"class_name": "Model", "config": {"name": "m", "layers": [
        {"name": "only", "class_name": "input", "config": {}, "inbound_nodes": []}]}}]
    (net,) = structure_graph(json.dumps(model).encode())["net"]
    assert [n["uid"] for n in net] == ["only"]


@pytest.mark.parametrize("data", [b"", b"{", b"\xff", b"[1]", b'{"config": 1}', b'[{"config": {"layers": 3}}]',
                                  b'[{"config": {"layers": [1]}}]'])
def test_bad_json_models(data: bytes) -> None:
    with pytest.raises(ValueError):
        structure_graph(data)
    with pytest.raises(ValueError):
        computation_graph(json_model=data)


def test_bad_graphdef_and_arguments() -> None:
    with pytest.raises(ValueError):
        computation_graph(graphdef=b"\xff\xff\xff garbage")
    with pytest.raises(ValueError):
        computation_graph()
    with pytest.raises(ValueError):
        computation_graph(graphdef=b"", json_model=b"{}")
    assert computation_graph(graphdef=b"")["net"] == []


def test_empty_name_parts_are_dropped() -> None:
    g = graph_pb2.GraphDef()
    g.node.add(name="/scope//a/", op="Const")
    g.node.add(name="scope/b", op="Neg", input=["/scope//a/:0"])
    net = computation_graph(graphdef=g.SerializeToString())["net"]
    check_shape(net)
    assert [n["uid"] for n in walk(net)] == ["scope", "scope/a", "scope/b"]
    assert edges(net) == {plain("scope/a", "scope/b")}
