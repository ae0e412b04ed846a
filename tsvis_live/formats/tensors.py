"""Tensor protos to numpy: TensorBoard's `TensorProto` and the TS-VIS `Tensor`.

Both come from files we do not trust, so every function checks sizes before it allocates and
raises `ValueError` (with a sentence saying what is wrong) instead of anything else. String
tensors come back as object arrays of `bytes`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_FILL_ELEMENTS = 1 << 24  # a tensor padded from a few values may not exceed this

# TensorBoard DataType enum -> (numpy dtype, repeated field holding the values)
_TB_DTYPES: dict[int, tuple[str, str]] = {
    1: ("float32", "float_val"),  # DT_FLOAT
    2: ("float64", "double_val"),  # DT_DOUBLE
    3: ("int32", "int_val"),  # DT_INT32
    4: ("uint8", "int_val"),  # DT_UINT8
    5: ("int16", "int_val"),  # DT_INT16
    6: ("int8", "int_val"),  # DT_INT8
    9: ("int64", "int64_val"),  # DT_INT64
    10: ("bool", "bool_val"),  # DT_BOOL
    11: ("int8", "int_val"),  # DT_QINT8
    12: ("uint8", "int_val"),  # DT_QUINT8
    13: ("int32", "int_val"),  # DT_QINT32
    15: ("int16", "int_val"),  # DT_QINT16
    16: ("uint16", "int_val"),  # DT_QUINT16
    17: ("uint16", "int_val"),  # DT_UINT16
    19: ("float16", "half_val"),  # DT_HALF: half_val holds the raw 16-bit patterns
    22: ("uint32", "uint32_val"),  # DT_UINT32
    23: ("uint64", "uint64_val"),  # DT_UINT64
}
_DT_STRING, _DT_BFLOAT16, _DT_COMPLEX64, _DT_COMPLEX128 = 7, 14, 8, 18

# TS-VIS Tensor.dtype is `str(ndarray.dtype)`; accept plain numeric, bool, bytes and unicode.
_TSVIS_KINDS = set("biufcSU")


def _shape(dims: list[int]) -> tuple[int, ...]:
    if any(d < 0 for d in dims):
        raise ValueError(f"Tensor shape {dims} has an unknown or negative dimension.")
    return tuple(dims)


def _fill(values: Any, dtype: np.dtype, shape: tuple[int, ...], count: int) -> np.ndarray:
    """TF semantics: fewer values than elements repeat the last one (none means zeros)."""
    arr = np.asarray(values, dtype=dtype) if len(values) else np.zeros(0, dtype=dtype)
    if arr.size == count:
        return arr.reshape(shape)
    if arr.size > count:
        raise ValueError(f"Tensor holds {arr.size} values but its shape {shape} has {count}.")
    if count > MAX_FILL_ELEMENTS:
        raise ValueError(f"Tensor shape {shape} is too large to fill from {arr.size} values.")
    pad = arr[-1] if arr.size else np.zeros((), dtype=dtype)
    return np.concatenate([arr, np.full(count - arr.size, pad, dtype=dtype)]).reshape(shape)


def _from_buffer(content: bytes, dtype: np.dtype, shape: tuple[int, ...], count: int) -> np.ndarray:
    if len(content) != count * dtype.itemsize:
        raise ValueError(
            f"Tensor content has {len(content)} bytes but shape {shape} of {dtype} "
            f"needs {count * dtype.itemsize}."
        )
    return np.frombuffer(content, dtype=dtype).reshape(shape).copy()


def _bfloat16(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def tensor_proto_to_numpy(tensor: Any) -> np.ndarray:
    """Convert a TensorBoard `TensorProto` of any dtype to an ndarray (strings -> bytes objects)."""
    shape = _shape([d.size for d in tensor.tensor_shape.dim])
    count = math.prod(shape)
    dt = tensor.dtype
    if dt == 0 and tensor.string_val:  # DT_INVALID: the TS-VIS writer leaves text untyped
        dt = _DT_STRING
    if dt == _DT_STRING:
        strings = list(tensor.string_val)
        if len(strings) != count:
            raise ValueError(
                f"String tensor holds {len(strings)} values but shape {shape} has {count}."
            )
        out = np.empty(count, dtype=object)
        out[:] = strings
        return out.reshape(shape)
    if dt in (_DT_COMPLEX64, _DT_COMPLEX128):
        np_dtype = np.dtype(np.complex64 if dt == _DT_COMPLEX64 else np.complex128)
        if tensor.tensor_content:
            return _from_buffer(tensor.tensor_content, np_dtype, shape, count)
        pairs = tensor.scomplex_val if dt == _DT_COMPLEX64 else tensor.dcomplex_val
        if len(pairs) % 2:
            raise ValueError("Complex tensor has an odd number of real/imaginary parts.")
        flat = np.asarray(pairs, dtype=np.float64)
        return _fill(flat[0::2] + 1j * flat[1::2], np_dtype, shape, count)
    if dt == _DT_BFLOAT16:
        if tensor.tensor_content:
            bits = _from_buffer(tensor.tensor_content, np.dtype(np.uint16), shape, count)
        else:
            bits = _fill(
                np.asarray(tensor.half_val, dtype=np.int64) & 0xFFFF,
                np.dtype(np.uint16),
                shape,
                count,
            )
        return _bfloat16(bits)
    spec = _TB_DTYPES.get(dt)
    if spec is None:
        raise ValueError(f"Tensor dtype {dt} is not a numeric, boolean or string type we read.")
    np_dtype = np.dtype(spec[0]).newbyteorder("<")
    if tensor.tensor_content:
        return _from_buffer(tensor.tensor_content, np_dtype, shape, count).astype(spec[0])
    values = getattr(tensor, spec[1])
    if spec[1] == "half_val":
        bits = np.asarray(values, dtype=np.int64) & 0xFFFF
        return _fill(bits, np.dtype(np.uint16), shape, count).view(np.float16)
    if spec[0] == "bool":
        return _fill(list(values), np.dtype(bool), shape, count)
    # int_val carries uint8/int8/int16/uint16 too: wrap like TF does, do not raise on overflow
    kind = np.dtype(spec[0]).kind
    raw = np.asarray(values, dtype={"f": np.float64, "u": np.uint64}.get(kind, np.int64))
    return _fill(raw.astype(np_dtype), np_dtype, shape, count).astype(spec[0])


def tsvis_dtype(name: str) -> np.dtype:
    """Validate a TS-VIS dtype name (a numpy dtype string such as "float32" or "<U5")."""
    try:
        dtype = np.dtype(name)
    except (TypeError, ValueError, SyntaxError) as err:
        raise ValueError(f"Tensor dtype {name!r} is not a numpy dtype name.") from err
    if dtype.kind not in _TSVIS_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"Tensor dtype {name!r} is not a plain numeric, bytes or text type.")
    if dtype.itemsize == 0:
        raise ValueError(f"Tensor dtype {name!r} has no size.")
    return dtype


def tsvis_tensor_to_numpy(tensor: Any) -> np.ndarray:
    """Convert a TS-VIS `Tensor` (dtype name, shape, raw C-order bytes) to an ndarray."""
    dtype = tsvis_dtype(tensor.dtype)
    shape = _shape([d.size for d in tensor.tensor_shape.dim])
    return _from_buffer(tensor.tensor_content, dtype, shape, math.prod(shape))
