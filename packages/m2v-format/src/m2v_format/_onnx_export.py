"""``export_onnx``: a model folder to an ONNX export folder (spec/onnx.md), atomically (W1)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from m2v_format._errors import InvalidArgumentError, OutputExistsError
from m2v_format._load import load_model
from m2v_format._model import StaticModelData
from m2v_format._onnx import (
    EXTERNAL_DATA_BYTES,
    INPUT_FORMS,
    ONNX_LAYOUT_VERSION,
    GraphTables,
    InputForm,
    build_graph,
    require_onnx,
    save_graph,
    table_bytes,
)
from m2v_format._onnx_files import (
    FILE_NAMES,
    ONNX_FOLDER,
    SPECIAL_TOKENS_MAP,
    TOKENIZER_CONFIG,
    ExportFacts,
    config_json,
    pad_token,
    readme,
    special_tokens_map_json,
    tokenizer_config_json,
    tokenizer_json,
)
from m2v_format._quantize import Precision, quantize
from m2v_format._write import _fsync_folder, _json_bytes, _write_bytes, write_atomically

DTYPES: tuple[Precision, ...] = ("float32", "float16", "int8")
"""The table dtypes a graph can store (rule O6)."""


def _stored_dtype(model: StaticModelData) -> Precision:
    name = model.dtype.name
    return name if name in DTYPES else "float32"  # float64 -> float32


def _checked_dtypes(model: StaticModelData, dtypes: Sequence[str] | None) -> list[Precision]:
    if dtypes is None:
        return [_stored_dtype(model)]
    if isinstance(dtypes, str):
        dtypes = [dtypes]
    chosen: list[Precision] = []
    for dtype in dtypes:
        if dtype not in DTYPES:
            raise InvalidArgumentError(
                f"cannot export a table of dtype {dtype!r}; choose from {', '.join(DTYPES)}"
            )
        if dtype not in chosen:
            chosen.append(dtype)
    if not chosen:
        raise InvalidArgumentError("no dtype to export: give at least one of " + ", ".join(DTYPES))
    return chosen


def graph_tables(model: StaticModelData, dtype: Precision, normalize: bool) -> GraphTables:
    """The tensors of the graph that stores ``model``'s table as ``dtype``.

    A table already stored as ``dtype`` is used as is (an int8 table keeps its scale, or
    its absence); otherwise it is converted with :func:`m2v_format.quantize`.
    """
    source = model if model.dtype.name == dtype else quantize(model, dtype)
    table = np.ascontiguousarray(source.embeddings)
    weights = None
    if source.weights is not None:
        weights = np.ascontiguousarray(source.weights, dtype=np.float32)
    mapping = None
    if source.mapping is not None:
        mapping = np.ascontiguousarray(source.mapping, dtype=np.int32)
    return GraphTables(
        table=table,
        scale=source.embeddings_scale if dtype == "int8" else None,
        weights=weights,
        mapping=mapping,
        unknown_id=model.unknown_token_id,
        normalize=normalize,
    )


def _metadata(tables: GraphTables, inputs: InputForm, dtype: str) -> dict[str, str]:
    """The graph's ``metadata_props`` (informative, rule O8)."""
    return {
        "m2v_onnx_version": ONNX_LAYOUT_VERSION,
        "inputs": inputs,
        "normalize": json.dumps(tables.normalize),
        "unknown_token_id": json.dumps(tables.unknown_id),
        "embedding_dtype": dtype,
        "dim": str(tables.dim),
        "vocabulary_quantization": json.dumps(
            None if tables.mapping is None else int(tables.table.shape[0])
        ),
    }


def _fill(
    folder: Path,
    model: StaticModelData,
    *,
    name: str,
    dtypes: list[Precision],
    inputs: InputForm,
    normalize: bool,
    external_data: bool | None,
) -> None:
    graphs = folder / ONNX_FOLDER
    graphs.mkdir()
    files: dict[str, str] = {}
    external: set[str] = set()
    for dtype in dtypes:
        tables = graph_tables(model, dtype, normalize)
        graph = build_graph(
            tables, inputs=inputs, name=name, metadata=_metadata(tables, inputs, dtype)
        )
        relative = f"{ONNX_FOLDER}/{FILE_NAMES[dtype]}"
        split = (
            table_bytes(tables) >= EXTERNAL_DATA_BYTES if external_data is None else external_data
        )
        save_graph(graph, folder / relative, external_data=split)
        del graph
        files[dtype] = relative
        if split:
            external.add(relative)
    _fsync_folder(graphs)
    token, token_id = pad_token(model)
    facts = ExportFacts(
        inputs=inputs,
        normalize=normalize,
        max_length=model.config.default_max_length,
        median_token_length=model.median_token_length,
        unknown_token_id=model.unknown_token_id,
        vocab_size=model.vocab_size,
        dim=model.dim,
        pad_token=token,
        pad_token_id=token_id,
        files=files,
        external_data=frozenset(external),
    )
    _write_bytes(folder / "tokenizer.json", tokenizer_json(model.tokenizer).encode("utf-8"))
    _write_bytes(folder / "config.json", _json_bytes(config_json(model, facts)))
    _write_bytes(folder / TOKENIZER_CONFIG, _json_bytes(tokenizer_config_json(facts)))
    _write_bytes(folder / SPECIAL_TOKENS_MAP, _json_bytes(special_tokens_map_json(facts)))
    _write_bytes(folder / "README.md", readme(name, model, facts).encode("utf-8"))


def export_onnx(
    model: str | os.PathLike[str] | StaticModelData,
    output: str | os.PathLike[str],
    *,
    dtypes: Sequence[str] | None = None,
    inputs: str = "offsets",
    normalize: bool | None = None,
    overwrite: bool = False,
    subfolder: str | None = None,
    token: str | None = None,
    revision: str | None = None,
    external_data: bool | None = None,
) -> Path:
    """Export a static model as ONNX graphs plus its tokenizer (``spec/onnx.md``).

    ``model`` is a model folder in any layout :func:`load_model` reads, a hub id (with the
    ``hub`` extra), or a loaded :class:`StaticModelData`; it is fully validated first.  The
    folder ``output`` gets ``onnx/model.onnx`` (``model_fp16.onnx``, ``model_int8.onnx`` for
    other table dtypes), ``tokenizer.json``, ``config.json``, ``tokenizer_config.json``,
    ``special_tokens_map.json`` and ``README.md``, written atomically (rule W1).

    Each graph takes token ids and returns float32 ``[batch, dim]`` vectors equal to
    :func:`reference_encode`'s for the same ids: it drops the unknown id, dequantizes,
    applies ``mapping`` and ``weights``, averages and normalizes.  The client tokenizes
    (``add_special_tokens=False``) and applies the ``max_length`` cuts (rules I1-I3).

    Args:
        dtypes: table dtypes to write, one graph each (``float32``, ``float16``, ``int8``);
            default: the stored dtype (float64 is written as float32).  A conversion uses
            :func:`quantize` (int8: one global scale).
        inputs: ``"offsets"`` (``input_ids`` flat + ``offsets``, as transformers.js runs
            model2vec models) or ``"padded"`` (``input_ids`` + ``attention_mask``, as
            model2vec 0.10.0 exports and fastembed runs).
        normalize: L2-normalize the outputs; ``None`` uses the model's setting (C3, L3).
        overwrite: replace an existing ``output`` (only once the new folder is complete).
        external_data: store the tensors in ``<graph>_data`` files; ``None`` does so only
            for tables too large for one protobuf message (about 1.8 GB).

    Returns:
        The path of the written folder.

    Raises:
        MissingDependencyError: the ``onnx`` package is missing (``m2v-format[onnx]``).
        OutputExistsError: ``output`` exists and ``overwrite`` is false.
        InvalidArgumentError: an unknown dtype or input form, or float16 out of range.
        FormatError: the model breaks a rule of spec/format.md.
    """
    require_onnx()
    if inputs not in INPUT_FORMS:
        raise InvalidArgumentError(
            f"unknown input form {inputs!r}; choose {' or '.join(INPUT_FORMS)}"
        )
    destination = Path(output)
    if (destination.exists() or destination.is_symlink()) and not overwrite:
        raise OutputExistsError(
            "destination exists (pass overwrite=True, or --overwrite on the command line, "
            "to replace it)",
            path=destination,
        )
    if isinstance(model, StaticModelData):
        data = model
        data.check()
    else:
        data = load_model(model, subfolder=subfolder, token=token, revision=revision)
    chosen = _checked_dtypes(data, dtypes)
    settings: dict[str, Any] = {
        "name": destination.absolute().name,
        "dtypes": chosen,
        "inputs": inputs,
        "normalize": data.normalize if normalize is None else bool(normalize),
        "external_data": external_data,
    }
    return write_atomically(
        destination, lambda staging: _fill(staging, data, **settings), overwrite=overwrite
    )
