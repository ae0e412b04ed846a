"""tensors.py: TensorProto and TS-VIS Tensor to numpy, every dtype, and refusals."""

from __future__ import annotations

import numpy as np
import pytest
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.util import tensor_util

from tsvis_live.formats.protos import tsvis as tsvis_pb
from tsvis_live.formats.tensors import tensor_proto_to_numpy, tsvis_tensor_to_numpy

ARRAYS = [
    np.float32(2.5),
    np.arange(6, dtype=np.float32).reshape(2, 3),
    np.array([1e300, -0.0]),
    np.arange(-3, 3, dtype=np.int8),
    np.arange(5, dtype=np.uint8),
    np.array([-(2**15), 2**15 - 1], dtype=np.int16),
    np.array([0, 2**16 - 1], dtype=np.uint16),
    np.array([-(2**31), 2**31 - 1], dtype=np.int32),
    np.array([2**63 - 1, -(2**63)], dtype=np.int64),
    np.array([True, False, True]),
    np.array([1.5, -2.25, 65504], dtype=np.float16),
    np.array([1 + 2j, -3j], dtype=np.complex64),
    np.array([[b"a", b"\xff\x00"]], dtype=object),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{list(np.shape(a))}")
def test_round_trip_through_tensorboard_make_tensor_proto(array):
    proto = tensor_util.make_tensor_proto(array)
    out = tensor_proto_to_numpy(proto)
    assert out.shape == np.shape(array) and out.dtype == np.asarray(array).dtype
    np.testing.assert_array_equal(out, array)


def _shape(*dims: int) -> TensorShapeProto:
    return TensorShapeProto(dim=[TensorShapeProto.Dim(size=d) for d in dims])


@pytest.mark.parametrize(
    ("proto", "expected"),
    [
        (
            TensorProto(dtype=1, float_val=[1.5], tensor_shape=_shape(2, 2)),
            np.full((2, 2), 1.5, np.float32),
        ),
        (
            TensorProto(dtype=3, int_val=[1, 2], tensor_shape=_shape(4)),
            np.array([1, 2, 2, 2], np.int32),
        ),
        (TensorProto(dtype=2, tensor_shape=_shape(3)), np.zeros(3)),
        (
            TensorProto(dtype=19, half_val=[15360, 49152], tensor_shape=_shape(2)),
            np.array([1, -2], np.float16),
        ),
        (TensorProto(dtype=14, half_val=[16256]), np.float32(1.0)),
        (TensorProto(dtype=23, uint64_val=[2**64 - 1]), np.uint64(2**64 - 1)),
        (TensorProto(dtype=22, uint32_val=[2**32 - 1]), np.uint32(2**32 - 1)),
        (TensorProto(dtype=18, dcomplex_val=[1, 2]), np.complex128(1 + 2j)),
        (TensorProto(dtype=2, tensor_content=np.float64(0.1).tobytes()), np.float64(0.1)),
        (TensorProto(string_val=[b"untyped"]), np.array(b"untyped", dtype=object)),
    ],
)
def test_value_fields_and_fill_semantics(proto, expected):
    out = tensor_proto_to_numpy(proto)
    assert out.dtype == np.asarray(expected).dtype and out.shape == np.shape(expected)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    "proto",
    [
        TensorProto(dtype=1, float_val=[1.0, 2.0, 3.0], tensor_shape=_shape(2)),
        TensorProto(dtype=1, float_val=[1.0], tensor_shape=_shape(-1)),
        TensorProto(dtype=1, float_val=[1.0], tensor_shape=_shape(1 << 20, 1 << 20)),
        TensorProto(dtype=1, tensor_content=b"\x00" * 5),
        TensorProto(dtype=7, string_val=[b"a"], tensor_shape=_shape(2)),
        TensorProto(dtype=21, tensor_content=b"x"),  # DT_RESOURCE
        TensorProto(dtype=8, scomplex_val=[1.0]),
    ],
)
def test_inconsistent_protos_raise_value_error(proto):
    with pytest.raises(ValueError):
        tensor_proto_to_numpy(proto)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.array(["alpha", "béta"]),
        np.array([b"RIFF\x00x", b"ab"]),
        np.array([[True]]),
        np.float64(3.0),
    ],
)
def test_tsvis_tensor_round_trip(array):
    tensor = tsvis_pb.Tensor(dtype=str(array.dtype), tensor_content=array.tobytes())
    tensor.tensor_shape.dim.extend(tensor.tensor_shape.Dim(size=d) for d in array.shape)
    out = tsvis_tensor_to_numpy(tensor)
    assert out.dtype == array.dtype
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize(
    "dtype", ["object", "O", "float32,int8", "(2)f4", "V8", "nonsense", "U0", ""]
)
def test_tsvis_tensor_refuses_unsafe_dtypes(dtype):
    with pytest.raises(ValueError):
        tsvis_tensor_to_numpy(tsvis_pb.Tensor(dtype=dtype, tensor_content=b"\x00" * 8))
