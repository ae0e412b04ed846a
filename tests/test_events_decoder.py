"""EventDecoder on hand-built events: the edge cases the real writers do not produce."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

from tsvis_live.formats.events import DecodeError, EventDecoder
from tsvis_live.formats.protos import tsvis as tsvis_pb
from tsvis_live.records import Batch

DBL_MAX = sys.float_info.max


def _event(*values: summary_pb2.Summary.Value, step: int = 1, wall: float = 10.5) -> bytes:
    event = event_pb2.Event(step=step, wall_time=wall)
    event.summary.value.extend(values)
    return event.SerializeToString()


def _tensor_value(tag: str, array, plugin: str | None = None) -> summary_pb2.Summary.Value:
    value = summary_pb2.Summary.Value(tag=tag, tensor=tensor_util.make_tensor_proto(array))
    if plugin is not None:
        value.metadata.plugin_data.plugin_name = plugin
    return value


def _decode(data: bytes, decoder: EventDecoder | None = None) -> Batch:
    batch = Batch()
    (decoder or EventDecoder()).decode(data, batch)
    return batch


def test_legacy_histogram_drops_empty_ends_and_replaces_dbl_max():
    histo = summary_pb2.HistogramProto(
        min=-3.0, max=5.0, num=6, sum=4.0, sum_squares=40.0,
        bucket_limit=[-DBL_MAX, -1.0, 0.0, 2.0, DBL_MAX], bucket=[0, 2, 0, 3, 1],
    )  # fmt: skip
    rec = _decode(_event(summary_pb2.Summary.Value(tag="h", histo=histo))).histograms[0]
    expected = [[-3.0, -1.0, 2], [-1.0, 0.0, 0], [0.0, 2.0, 3], [2.0, 5.0, 1]]
    np.testing.assert_array_equal(rec.buckets, expected)
    assert (rec.min, rec.max, rec.num, rec.sum, rec.sum_squares) == (-3, 5, 6, 4, 40)


def test_legacy_histogram_edge_outside_range_is_clamped_and_empty_is_empty():
    histo = summary_pb2.HistogramProto(
        min=1.0, max=1.0, num=1, bucket_limit=[0.5, 2.0], bucket=[1, 0]
    )
    np.testing.assert_array_equal(
        _decode(_event(summary_pb2.Summary.Value(tag="h", histo=histo))).histograms[0].buckets,
        [[1.0, 1.0, 1.0]],
    )
    empty = summary_pb2.HistogramProto(bucket_limit=[1.0], bucket=[0])
    assert _decode(_event(summary_pb2.Summary.Value(tag="h", histo=empty))).histograms[
        0
    ].buckets.shape == (0, 3)


def test_plugin_memory_and_resume_with_known_plugins():
    decoder = EventDecoder()
    first = _decode(_event(_tensor_value("t", np.array(["x"]), "text")), decoder)
    assert first.plugins == {"t": "text"} and decoder.plugins == {"t": "text"}
    second = _decode(_event(_tensor_value("t", np.array(["y", "z"]))), decoder)
    assert second.plugins == {} and second.blobs[0].data == b'["y", "z"]'
    resumed = EventDecoder({"t": "text", "h": "histograms"})
    batch = _decode(_event(_tensor_value("h", np.array([[0.0, 1.0, 4.0]]))), resumed)
    assert batch.plugins == {} and batch.histograms[0].num == 4.0


def test_rank0_tensor_without_plugin_is_a_scalar_but_vectors_are_ignored():
    batch = _decode(_event(_tensor_value("i", np.int32(-4)), _tensor_value("v", np.arange(3.0))))
    assert batch.scalars["i"].values == [-4.0] and "v" not in batch.scalars
    assert batch.plugins == {"i": "scalars"} and batch.events == 1


@pytest.mark.parametrize(
    "array", [np.float16(1.5), np.uint8(200), np.int64(2**40), np.bool_(True), np.float64(0.1)]
)
def test_scalar_tensors_of_any_numeric_dtype(array):
    batch = _decode(_event(_tensor_value("s", array, "scalars"), step=7, wall=3.25))
    cols = batch.scalars["s"]
    assert (cols.steps, cols.wall_times, cols.values) == ([7], [3.25], [float(array)])


def test_unknown_plugins_and_events_without_summary_add_nothing_but_count():
    batch = Batch()
    decoder = EventDecoder()
    decoder.decode(_event(_tensor_value("m", np.zeros((2, 3)), "no_such_plugin")), batch)  # meshes are known now
    decoder.decode(event_pb2.Event(file_version="brain.Event:2").SerializeToString(), batch)
    decoder.decode(event_pb2.Event(step=3).SerializeToString(), batch)
    assert batch.events == 3 and batch.point_count() == 0 and batch.plugins == {"m": "no_such_plugin"}


def test_malformed_value_raises_but_keeps_the_good_values():
    bad = _tensor_value("h", np.zeros(4), "histograms")  # not [k, 3]
    batch = Batch()
    with pytest.raises(DecodeError, match="malformed"):
        EventDecoder().decode(
            _event(summary_pb2.Summary.Value(tag="ok", simple_value=2.0), bad), batch
        )
    assert batch.scalars["ok"].values == [2.0] and batch.events == 0


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"\x0a\x05ab", b"\x2a\x02\x0a\xff"])
def test_garbage_raises_decode_error(data):
    with pytest.raises(DecodeError):
        _decode(data)


def _hparams_event(content: bytes) -> bytes:
    value = summary_pb2.Summary.Value(tag="_hparams_/session_start_info")
    value.metadata.plugin_data.plugin_name = "hparams"
    value.metadata.plugin_data.content = content
    return _event(value)


def test_tsvis_hparams_metrics_in_field_2():
    ssi = tsvis_pb.SessionStartInfo(group_name="", start_time_secs=12.5)
    ssi.hparams["lr"].number_value = 0.5
    ssi.hparams["layers"].list_value.values.add().number_value = 3
    ssi.metrics["acc"].bool_value = False
    ssi.metrics["loss"].number_value = 0.25
    data = tsvis_pb.HParamsPluginData(version=1, session_start_info=ssi).SerializeToString()
    (rec,) = _decode(_hparams_event(data)).hparams
    assert rec.group_name == "default" and rec.start_time == 12.5
    assert rec.hparams == {"lr": 0.5, "layers": [3.0]}
    assert rec.metrics == {"acc": False, "loss": 0.25}


@pytest.mark.parametrize("uri", ["gs://bucket/model", "/abs/path", "http://x", "model", "\n\x01k"])
def test_tensorboard_model_uri_in_field_2_is_not_metrics(uri):
    ssi = plugin_data_pb2.SessionStartInfo(model_uri=uri, group_name="g")
    ssi.hparams["opt"].string_value = "adam"
    content = plugin_data_pb2.HParamsPluginData(session_start_info=ssi).SerializeToString()
    (rec,) = _decode(_hparams_event(content)).hparams
    assert (rec.group_name, rec.hparams, rec.metrics) == ("g", {"opt": "adam"}, {})


def test_oneflow_hparams_metrics_in_field_6():
    ssi = tsvis_pb.OneFlowSessionStartInfo(group_name="of", model_uri="/m")
    ssi.hparams["bs"].number_value = 64
    ssi.metrics["top1"].number_value = 0.9
    content = tsvis_pb.OneFlowHParamsPluginData(session_start_info=ssi).SerializeToString()
    (rec,) = _decode(_hparams_event(content)).hparams
    assert (rec.group_name, rec.hparams, rec.metrics) == ("of", {"bs": 64.0}, {"top1": 0.9})


def test_session_end_info_yields_nothing():
    content = plugin_data_pb2.HParamsPluginData(
        session_end_info=plugin_data_pb2.SessionEndInfo(status=1, end_time_secs=5.0)
    ).SerializeToString()
    batch = _decode(_hparams_event(content))
    assert batch.hparams == [] and batch.events == 1


def _projector_event(projector) -> bytes:
    event = tsvis_pb.Event(step=4, wall_time=2.5)
    value = event.summary.value.add(tag="p", projector=projector)
    value.metadata.plugin_data.plugin_name = "exceptions"
    return event.SerializeToString()


def _tsvis_tensor(array: np.ndarray):
    tensor = tsvis_pb.Tensor(dtype=str(array.dtype), tensor_content=array.tobytes())
    tensor.tensor_shape.dim.extend(tensor.tensor_shape.Dim(size=d) for d in array.shape)
    return tensor


def test_projector_bytes_that_are_valid_utf8_take_the_node_name_path():
    small = np.arange(6, dtype=np.int8).reshape(2, 3)  # every byte < 0x80: TensorBoard parses it
    data = _projector_event(
        tsvis_pb.Projector(exception=tsvis_pb.Projector.Exception(value=_tsvis_tensor(small)))
    )
    event_pb2.Event.FromString(data)  # proves the other path is taken
    (rec,) = _decode(data).tensors
    assert (rec.kind, rec.tag, rec.step, rec.wall_time) == ("exception", "p", 4, 2.5)
    np.testing.assert_array_equal(rec.value, small)


def test_projector_with_bad_tensor_raises_decode_error():
    tensor = tsvis_pb.Tensor(dtype="float64", tensor_content=b"\xff" * 7)
    data = _projector_event(
        tsvis_pb.Projector(exception=tsvis_pb.Projector.Exception(value=tensor))
    )
    with pytest.raises(DecodeError):
        _decode(data)
