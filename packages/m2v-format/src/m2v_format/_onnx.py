"""The ONNX graph of a static model (spec/onnx.md): the one module that imports ``onnx``.

``onnx`` comes with m2v-format's optional extra ``onnx``; it is imported when a graph is
built, checked or saved, and its absence is a :class:`m2v_format.MissingDependencyError`
naming the extra.  Only standard operators of the default domain are used, at opset
:data:`OPSET` (the one model2vec 0.10.0's exporter uses), in a file of IR version
:data:`IR_VERSION` so that older onnxruntime releases (onnxruntime-web included) load it.

The graph does rules I4-I8 of spec/format.md: drop the unknown id, gather the rows
(through ``mapping``), dequantize them in float32 (a float16 table is cast after the
gather, an int8 table is cast and multiplied by its scale), multiply by ``weights``, sum
each text's rows in float64 (a ``Loop`` over the texts: deterministic, unlike scatter-add),
average (a text with no id left is the zero vector) and L2-normalize.  Tokenization and the
cuts (I1-I3) stay with the client.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from m2v_format._errors import MissingDependencyError
from m2v_format._inference import NORM_EPSILON

if TYPE_CHECKING:
    from onnx import ModelProto, NodeProto

INSTALL_HINT = 'pip install "m2v-format[onnx]"'

OPSET = 18
"""The opset of the default domain the graph imports (rule O8)."""
IR_VERSION = 8
"""The ONNX IR version written: the lowest that opset 18 allows."""
ONNX_LAYOUT_VERSION = "1.0"
"""The version of spec/onnx.md the files follow."""

InputForm = Literal["offsets", "padded"]
INPUT_FORMS: tuple[InputForm, ...] = ("offsets", "padded")
"""``offsets``: flat ids plus the start of each text (transformers.js' model2vec form);
``padded``: ``[batch, sequence]`` ids plus an attention mask (model2vec 0.10.0, fastembed)."""

EXTERNAL_DATA_BYTES = 1_800_000_000
"""Tables at least this large go to ``<file>_data`` beside the graph: one protobuf message
cannot exceed 2 GiB."""

OUTPUT = "embeddings"
TABLE = "token_table"
SCALE = "table_scale"
WEIGHTS = "token_weights"
MAPPING = "token_mapping"
UNKNOWN = "unknown_id"


def require_onnx() -> ModuleType:
    """The ``onnx`` module, or MissingDependencyError naming the extra."""
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(
            f"exporting to ONNX needs the onnx package: {INSTALL_HINT}"
        ) from None
    return onnx


@dataclass(frozen=True)
class GraphTables:
    """What the graph stores: the table as stored (float32, float16 or int8) and the rest.

    ``weights`` is float32 and ``mapping`` int32 when present; ``scale`` only with int8.
    """

    table: np.ndarray[Any, Any]
    scale: float | None
    weights: np.ndarray[Any, np.dtype[np.float32]] | None
    mapping: np.ndarray[Any, np.dtype[np.int32]] | None
    unknown_id: int | None
    normalize: bool

    @property
    def dim(self) -> int:
        """Columns of the table: the length of every output vector."""
        return int(self.table.shape[1])


class _Builder:
    """Nodes and initializers of one graph, with generated names for intermediate values."""

    def __init__(self, onnx: ModuleType) -> None:
        self.onnx = onnx
        self.helper = onnx.helper
        self.nodes: list[NodeProto] = []
        self.initializers: list[Any] = []
        self._count = 0

    def node(
        self,
        op: str,
        *inputs: str,
        name: str | None = None,
        into: list[NodeProto] | None = None,
        **attributes: Any,
    ) -> str:
        """Add one node (to ``into``, a subgraph's nodes, when given); return its output."""
        self._count += 1
        output = name or f"{op.lower()}_{self._count}"
        node = self.helper.make_node(
            op, list(inputs), [output], name=f"{op}_{self._count}", **attributes
        )
        (self.nodes if into is None else into).append(node)
        return output

    def constant(self, name: str, value: np.ndarray[Any, Any]) -> str:
        self.initializers.append(self.onnx.numpy_helper.from_array(value, name))
        return name

    def int64(self, name: str, *values: int) -> str:
        return self.constant(name, np.array(values, dtype=np.int64))

    def int64_scalar(self, name: str, value: int) -> str:
        return self.constant(name, np.array(value, dtype=np.int64))


@dataclass(frozen=True)
class _Texts:
    """The flat ids of a batch and where each text's ids lie: positions ``starts[t]`` to
    ``ends[t]`` (exclusive) of ``ids``, and ``keep``, the positions that count (or ``None``)."""

    ids: str
    starts: str
    ends: str
    keep: str | None


def _offsets_texts(b: _Builder) -> _Texts:
    """``input_ids`` + ``offsets``: text t owns ``offsets[t]`` to ``offsets[t+1]`` (the last
    text: to the end), so its ends are the offsets shifted by one, then the number of ids."""
    count = b.node("Shape", "input_ids")
    bounds = b.node("Concat", "offsets", count, axis=0)
    ends = b.node("Slice", bounds, b.int64("one_1d", 1), b.int64("end_1d", np.iinfo(np.int64).max))
    return _Texts("input_ids", "offsets", ends, None)


def _padded_texts(b: _Builder) -> _Texts:
    """``input_ids`` + ``attention_mask``: text t owns row t of the flattened ids; the
    positions whose mask is 0 never count (their ids are never read)."""
    shape = b.node("Shape", "input_ids")
    axis = b.int64("axis_0_1d", 0)
    batch = b.node(
        "Squeeze", b.node("Slice", shape, b.int64("zero_1d", 0), b.int64("one_1d", 1)), axis
    )
    width = b.node(
        "Squeeze", b.node("Slice", shape, b.int64("one_1d", 1), b.int64("two_1d", 2)), axis
    )
    flat = b.int64("flat", -1)
    rows = b.node("Range", b.int64_scalar("zero", 0), batch, b.int64_scalar("one", 1))
    starts = b.node("Mul", rows, width)
    ends = b.node("Add", starts, width)
    mask = b.node("Reshape", "attention_mask", flat)
    keep = b.node("Not", b.node("Equal", mask, b.int64_scalar("zero", 0)))
    return _Texts(b.node("Reshape", "input_ids", flat), starts, ends, keep)


def _text_sums(b: _Builder, rows: str, starts: str, ends: str, dim: int) -> str:
    """Float64 ``[batch, dim]``: the sum of ``rows[starts[t]:ends[t]]`` for every text t.

    A ``Loop`` over the texts: each iteration slices its text's rows, casts them to float64
    (rule I5 allows a wider accumulator) and reduces them.  Scatter-add would need no loop,
    but its result is not deterministic when indices repeat (onnxruntime's CPU ScatterND
    adds from several threads at once and loses additions); float64 prefix sums over the
    whole batch would cost four times the memory of the rows.
    """
    onnx, helper = b.onnx, b.helper
    body: list[NodeProto] = []
    axis = b.int64("axis_0_1d", 0)
    start = b.node(
        "Unsqueeze", b.node("Gather", starts, "text", axis=0, into=body), axis, into=body
    )
    end = b.node("Unsqueeze", b.node("Gather", ends, "text", axis=0, into=body), axis, into=body)
    piece = b.node("Slice", rows, start, end, axis, into=body)
    piece = b.node("Cast", piece, to=onnx.TensorProto.DOUBLE, into=body)
    # one zero row first, so that no reduction is over an empty axis (a text with no id):
    # onnxruntime before 1.18 fails on those
    zero = b.constant("zero_row", np.zeros((1, dim), dtype=np.float64))
    piece = b.node("Concat", zero, piece, axis=0, into=body)
    b.node("ReduceSum", piece, axis, keepdims=0, name="text_sum", into=body)
    b.node("Identity", "going_on", name="still_going", into=body)
    graph = helper.make_graph(
        body,
        "text_sum",
        [
            helper.make_tensor_value_info("text", onnx.TensorProto.INT64, []),
            helper.make_tensor_value_info("going_on", onnx.TensorProto.BOOL, []),
        ],
        [
            helper.make_tensor_value_info("still_going", onnx.TensorProto.BOOL, []),
            helper.make_tensor_value_info("text_sum", onnx.TensorProto.DOUBLE, [dim]),
        ],
    )
    count = b.node("Size", starts)
    sums = b.node("Loop", count, b.constant("true", np.array(True)), body=graph)
    return b.node("Reshape", sums, b.int64("sums_shape", -1, dim))  # [0, dim] for no text


def _pool(b: _Builder, tables: GraphTables, texts: _Texts) -> str:
    """Rules I4-I7: the float32 ``[batch, dim]`` vectors of the texts."""
    onnx = b.onnx
    float32, float64 = onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE
    ids, starts, ends, keep = texts.ids, texts.starts, texts.ends, texts.keep
    axis_1 = b.int64("axis_1", 1)
    if tables.unknown_id is not None:  # I4
        known = b.node("Not", b.node("Equal", ids, b.int64_scalar(UNKNOWN, tables.unknown_id)))
        keep = known if keep is None else b.node("And", keep, known)
    if keep is not None:  # positions become positions among the kept ids
        kept = b.node("Cast", keep, to=onnx.TensorProto.INT64)
        kept = b.node("CumSum", kept, b.int64_scalar("axis_0", 0))
        kept = b.node("Concat", b.int64("zero_1d", 0), kept, axis=0)
        starts = b.node("Gather", kept, starts, axis=0)
        ends = b.node("Gather", kept, ends, axis=0)
        ids = b.node("Compress", ids, keep, axis=0)
    index = ids
    if tables.mapping is not None:
        index = b.node("Gather", b.constant(MAPPING, tables.mapping), ids, axis=0)
    rows = b.node("Gather", b.constant(TABLE, tables.table), index, axis=0)  # I5
    if tables.table.dtype != np.float32:
        rows = b.node("Cast", rows, to=float32)
    if tables.scale is not None:  # T7
        rows = b.node("Mul", rows, b.constant(SCALE, np.array(tables.scale, dtype=np.float32)))
    if tables.weights is not None:
        weight = b.node("Gather", b.constant(WEIGHTS, tables.weights), ids, axis=0)
        rows = b.node("Mul", rows, b.node("Unsqueeze", weight, axis_1))
    sums = _text_sums(b, rows, starts, ends, tables.dim)
    counts = b.node("Max", b.node("Sub", ends, starts), b.int64_scalar("one", 1))  # I6: 0 / 1
    divisor = b.node("Unsqueeze", b.node("Cast", counts, to=float64), axis_1)
    means = b.node("Div", sums, divisor)
    if not tables.normalize:
        return b.node("Cast", means, to=float32, name=OUTPUT)
    means = b.node("Cast", means, to=float32)
    norms = b.node("Sqrt", b.node("ReduceSumSquare", means, axis_1, keepdims=1))
    epsilon = b.constant("norm_epsilon", np.array(NORM_EPSILON, dtype=np.float32))
    return b.node("Div", means, b.node("Add", norms, epsilon), name=OUTPUT)  # I7


def build_graph(
    tables: GraphTables,
    *,
    inputs: InputForm = "offsets",
    name: str = "m2v-static-model",
    metadata: dict[str, str] | None = None,
) -> ModelProto:
    """The ONNX model of ``tables`` with the inputs of ``inputs`` (spec/onnx.md O4-O8).

    Raises:
        MissingDependencyError: onnx is not installed.
    """
    onnx = require_onnx()
    helper = onnx.helper
    int64 = onnx.TensorProto.INT64
    b = _Builder(onnx)
    if inputs == "offsets":
        graph_inputs = [
            helper.make_tensor_value_info("input_ids", int64, ["num_tokens"]),
            helper.make_tensor_value_info("offsets", int64, ["batch_size"]),
        ]
        texts = _offsets_texts(b)
    else:
        graph_inputs = [
            helper.make_tensor_value_info("input_ids", int64, ["batch_size", "sequence_length"]),
            helper.make_tensor_value_info(
                "attention_mask", int64, ["batch_size", "sequence_length"]
            ),
        ]
        texts = _padded_texts(b)
    _pool(b, tables, texts)
    output = helper.make_tensor_value_info(
        OUTPUT, onnx.TensorProto.FLOAT, ["batch_size", tables.dim]
    )
    unique = {init.name: init for init in b.initializers}  # shared constants, once each
    graph = helper.make_graph(b.nodes, name, graph_inputs, [output], list(unique.values()))
    model: ModelProto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="m2v-format",
        doc_string="m2v static embedding model: token ids in, mean-pooled vectors out "
        "(spec/onnx.md)",
    )
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model


def table_bytes(tables: GraphTables) -> int:
    """Bytes of the tensors the graph stores."""
    arrays = (tables.table, tables.weights, tables.mapping)
    return sum(int(array.nbytes) for array in arrays if array is not None)


def save_graph(model: ModelProto, path: Path, *, external_data: bool) -> list[Path]:
    """Write ``model`` to ``path`` (and its tensors to ``<path>_data`` with ``external_data``),
    fsync every file, then check the written model with ``onnx.checker`` (full check).

    Returns the files written.
    """
    onnx = require_onnx()
    files = [path]
    if external_data:
        data = path.with_name(path.name + "_data")
        onnx.save_model(
            model,
            os.fspath(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data.name,
            size_threshold=1024,
        )
        files.append(data)
    else:
        onnx.save_model(model, os.fspath(path))
    for file in files:
        with file.open("rb+") as handle:
            os.fsync(handle.fileno())
    onnx.checker.check_model(os.fspath(path), full_check=True)
    return files
