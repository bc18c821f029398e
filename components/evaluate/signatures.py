"""A version's signature defs read from its `saved_model.pb`, without TensorFlow, as TF
Serving's metadata API shows them.

TensorFlow's own message classes (`tensorflow.core.protobuf.saved_model_pb2`) import all of
TensorFlow with them, which mnist-serve never does. The SavedModel is read with protobuf
alone, through the few messages of TensorFlow's .proto files the signatures need, declared
here with TensorFlow's field numbers: protobuf skips every other field (the graph, the
functions) unread. tests/components/evaluate/test_signatures.py holds the result to
TensorFlow's own parse of the same file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    json_format,
    message,
    message_factory,
    text_format,
)

from components.evaluate.serving import SAVED_MODEL
from pipeline.errors import PipelineError

SERVE_TAG = "serve"  # the meta graph TF Serving loads

# tensorflow/core/framework/types.proto's DataType, up to the unsigned ints.
_DATA_TYPE_NAMES = (
    "DT_INVALID DT_FLOAT DT_DOUBLE DT_INT32 DT_UINT8 DT_INT16 DT_INT8 DT_STRING DT_COMPLEX64 "
    "DT_INT64 DT_BOOL DT_QINT8 DT_QUINT8 DT_QINT32 DT_BFLOAT16 DT_QINT16 DT_QUINT16 DT_UINT16 "
    "DT_COMPLEX128 DT_HALF DT_RESOURCE DT_VARIANT DT_UINT32 DT_UINT64"
)
DATA_TYPES = tuple(_DATA_TYPE_NAMES.split())  # by number, from 0


def _map_entry(name: str, value_type: str) -> str:
    return f"""nested_type {{ name: "{name}" options {{ map_entry: true }}
      field {{ name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }}
      field {{ name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
               type_name: "{value_type}" }} }}"""


# saved_model.proto, meta_graph.proto and tensor_shape.proto: the fields on the way to the
# signature defs, under TensorFlow's numbers; `name` is TensorInfo's oneof `encoding`. A
# signature's `defaults` (export writes none) are listed by name, their values left unread.
_FILE = f"""
name: "mnist_serve_saved_model_subset.proto" package: "tensorflow" syntax: "proto3"
enum_type {{ name: "DataType" {
    " ".join(
        f'value {{ name: "{name}" number: {number} }}' for number, name in enumerate(DATA_TYPES)
    )
} }}
message_type {{ name: "TensorShapeProto"
  nested_type {{ name: "Dim"
    field {{ name: "size" number: 1 label: LABEL_OPTIONAL type: TYPE_INT64 }}
    field {{ name: "name" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }} }}
  field {{ name: "dim" number: 2 label: LABEL_REPEATED type: TYPE_MESSAGE
           type_name: ".tensorflow.TensorShapeProto.Dim" }}
  field {{ name: "unknown_rank" number: 3 label: LABEL_OPTIONAL type: TYPE_BOOL }} }}
message_type {{ name: "TensorInfo"
  oneof_decl {{ name: "encoding" }}
  field {{ name: "name" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING oneof_index: 0 }}
  field {{ name: "dtype" number: 2 label: LABEL_OPTIONAL type: TYPE_ENUM
           type_name: ".tensorflow.DataType" }}
  field {{ name: "tensor_shape" number: 3 label: LABEL_OPTIONAL type: TYPE_MESSAGE
           type_name: ".tensorflow.TensorShapeProto" }} }}
message_type {{ name: "TensorProto" }}
message_type {{ name: "SignatureDef"
  {_map_entry("DefaultsEntry", ".tensorflow.TensorProto")}
  {_map_entry("InputsEntry", ".tensorflow.TensorInfo")}
  {_map_entry("OutputsEntry", ".tensorflow.TensorInfo")}
  field {{ name: "inputs" number: 1 label: LABEL_REPEATED type: TYPE_MESSAGE
           type_name: ".tensorflow.SignatureDef.InputsEntry" }}
  field {{ name: "outputs" number: 2 label: LABEL_REPEATED type: TYPE_MESSAGE
           type_name: ".tensorflow.SignatureDef.OutputsEntry" }}
  field {{ name: "method_name" number: 3 label: LABEL_OPTIONAL type: TYPE_STRING }}
  field {{ name: "defaults" number: 4 label: LABEL_REPEATED type: TYPE_MESSAGE
           type_name: ".tensorflow.SignatureDef.DefaultsEntry" }} }}
message_type {{ name: "MetaGraphDef"
  nested_type {{ name: "MetaInfoDef"
    field {{ name: "tags" number: 4 label: LABEL_REPEATED type: TYPE_STRING }} }}
  {_map_entry("SignatureDefEntry", ".tensorflow.SignatureDef")}
  field {{ name: "meta_info_def" number: 1 label: LABEL_OPTIONAL type: TYPE_MESSAGE
           type_name: ".tensorflow.MetaGraphDef.MetaInfoDef" }}
  field {{ name: "signature_def" number: 5 label: LABEL_REPEATED type: TYPE_MESSAGE
           type_name: ".tensorflow.MetaGraphDef.SignatureDefEntry" }} }}
message_type {{ name: "SavedModel"
  field {{ name: "meta_graphs" number: 2 label: LABEL_REPEATED type: TYPE_MESSAGE
           type_name: ".tensorflow.MetaGraphDef" }} }}
"""


def _saved_model_class() -> type:
    # A pool of its own: TensorFlow's messages of the same names may share the process (tests).
    pool = descriptor_pool.DescriptorPool()
    pool.Add(text_format.Parse(_FILE, descriptor_pb2.FileDescriptorProto()))
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.SavedModel"))


_SavedModel = _saved_model_class()


def signature_defs(version: Path) -> dict[str, Any]:
    """The signature defs of `version`'s SavedModel's `serve` meta graph, by name, as TF
    Serving's metadata API prints them (every field, defaults included).

    Raises:
        PipelineError: for a missing or unreadable `saved_model.pb`, or one with no `serve`
            meta graph.
    """
    path = version / SAVED_MODEL
    saved = _SavedModel()
    try:
        saved.ParseFromString(path.read_bytes())
    except (OSError, message.DecodeError) as error:
        raise PipelineError(f"cannot read {path} ({str(error)[:200]})") from None
    graph = next((g for g in saved.meta_graphs if SERVE_TAG in g.meta_info_def.tags), None)
    if graph is None:
        raise PipelineError(f"{path} has no meta graph tagged {SERVE_TAG!r}, as TF Serving loads")
    return {
        name: json_format.MessageToDict(
            signature, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        for name, signature in sorted(graph.signature_def.items())
    }
