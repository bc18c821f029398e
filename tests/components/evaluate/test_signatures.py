import pytest
from google.protobuf import json_format
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from components.evaluate import serving, signatures
from pipeline.errors import PipelineError


def test_the_signature_defs_are_tensorflows_own_parse(small_serving_dir):
    version = small_serving_dir / "1"
    theirs = saved_model_pb2.SavedModel.FromString((version / serving.SAVED_MODEL).read_bytes())
    (graph,) = theirs.meta_graphs
    expected = {
        name: json_format.MessageToDict(
            signature, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        for name, signature in graph.signature_def.items()
    }
    found = signatures.signature_defs(version)
    assert found == expected
    # What TF Serving's metadata shows of the two signatures export writes.
    assert found["serving_default"]["inputs"]["images"]["dtype"] == "DT_UINT8"
    assert found["predict_png"]["inputs"]["png"]["tensor_shape"]["dim"] == [
        {"size": "-1", "name": ""}
    ]
    assert found["serving_default"]["outputs"]["classes"]["dtype"] == "DT_INT64"


def test_the_data_type_names_are_tensorflows():
    for number, name in enumerate(signatures.DATA_TYPES):
        assert types_pb2.DataType.Name(number) == name


def test_a_file_that_is_no_saved_model_is_one_line(tmp_path):
    (tmp_path / serving.SAVED_MODEL).write_bytes(b"\xff\xff\xff not a protobuf")
    with pytest.raises(PipelineError, match=r"^cannot read .*saved_model\.pb"):
        signatures.signature_defs(tmp_path)
