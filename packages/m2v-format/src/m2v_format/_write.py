"""The atomic writer (W1, W2): native layout + modules.json + README.md, writer dtypes."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from m2v_format._card import ModelCard, render_card
from m2v_format._checks import (
    EMBEDDINGS,
    MAPPING,
    SCALE,
    WEIGHTS,
    check_arrays,
    check_mapping_range,
    first,
)
from m2v_format._errors import OutputExistsError, UnsupportedDtypeError
from m2v_format._layout import CONFIG, MODULES, README, SAFETENSORS, TOKENIZER
from m2v_format._model import StaticModelData
from m2v_format._safetensors import write_safetensors
from m2v_format._tokenizer import copy_tokenizer, model_type, without_padding_or_truncation

STATIC_EMBEDDING_TYPE = "sentence_transformers.models.StaticEmbedding"
NORMALIZE_TYPE = "sentence_transformers.models.Normalize"


def _as_writer_embeddings(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if array.dtype.kind == "f" and array.dtype.itemsize == 8:
        return array.astype("<f4")
    if (array.dtype.kind, array.dtype.itemsize) in {("f", 4), ("f", 2), ("i", 1)}:
        return array
    raise UnsupportedDtypeError(
        f"embeddings of dtype {array.dtype} cannot be written; use float32, float16 or int8"
    )


def _as_writer_weights(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if array.dtype.kind != "f":
        raise UnsupportedDtypeError(
            f"weights of dtype {array.dtype} cannot be written; use a float"
        )
    return array.astype("<f4", copy=False)


def _as_writer_mapping(array: np.ndarray[Any, Any], rows: int) -> np.ndarray[Any, Any]:
    if array.dtype.kind not in "iu":
        raise UnsupportedDtypeError(
            f"mapping of dtype {array.dtype} cannot be written; use an integer dtype"
        )
    first(check_mapping_range(array, rows, None))
    return array.astype("<i4", copy=False)


def writer_tensors(model: StaticModelData) -> dict[str, np.ndarray[Any, Any]]:
    """The tensors to write, in writer dtypes (T3), after checking T2 and T4-T7.

    float64 embeddings are written as float32; weights as float32; mapping as int32.  The
    embedding tensor comes first, so it is the first entry of the header (W3).
    """
    embeddings = _as_writer_embeddings(np.asarray(model.embeddings))
    tensors: dict[str, np.ndarray[Any, Any]] = {EMBEDDINGS: embeddings}
    if model.weights is not None:
        tensors[WEIGHTS] = _as_writer_weights(np.asarray(model.weights))
    if model.mapping is not None:
        rows = int(embeddings.shape[0]) if embeddings.ndim == 2 else 0
        tensors[MAPPING] = _as_writer_mapping(np.asarray(model.mapping), rows)
    if model.embeddings_scale is not None:
        tensors[SCALE] = np.array([model.embeddings_scale], dtype="<f4")

    check_arrays(
        embeddings,
        tensors.get(WEIGHTS),
        tensors.get(MAPPING),
        model.embeddings_scale,
        vocab_size=model.vocab_size,
        largest_token_id=model.largest_token_id,
    )
    return tensors


def writer_config(
    model: StaticModelData, tensors: dict[str, np.ndarray[Any, Any]]
) -> dict[str, Any]:
    """config.json as written: ``format_version`` and ``normalize`` first and always (W2, V4)."""
    config = model.config.to_dict()
    config.pop("format_version", None)
    config.pop("normalize", None)
    embeddings = tensors[EMBEDDINGS]
    config["embedding_dtype"] = embeddings.dtype.name
    if MAPPING in tensors:
        config["vocabulary_quantization"] = int(embeddings.shape[0])
    else:
        config.pop("vocabulary_quantization", None)
    version = "1.1" if SCALE in tensors else "1.0"
    return {"format_version": version, "normalize": model.normalize, **config}


def modules_config(normalize: bool) -> list[dict[str, Any]]:
    """modules.json for sentence-transformers (C5)."""
    modules: list[dict[str, Any]] = [
        {"idx": 0, "name": "0", "path": ".", "type": STATIC_EMBEDDING_TYPE}
    ]
    if normalize:
        modules.append({"idx": 1, "name": "1", "path": "1_Normalize", "type": NORMALIZE_TYPE})
    return modules


def _write_bytes(path: Path, data: bytes | memoryview) -> None:
    with path.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_weights(path: Path, tensors: dict[str, np.ndarray[Any, Any]]) -> None:
    with path.open("xb") as handle:
        write_safetensors(handle, tensors)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(descriptor)


def _json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=4) + "\n").encode("ascii")


def _sentence_transformers_loads(tensors: dict[str, np.ndarray[Any, Any]]) -> bool:
    # StaticEmbedding multiplies int8 rows by `weights` into a float table; without weights it
    # cannot build its EmbeddingBag from integers (observed with sentence-transformers 6.2).
    return bool(tensors[EMBEDDINGS].dtype.kind == "f" or WEIGHTS in tensors)


INT8_SENTENCE_TRANSFORMERS_NOTE = (
    "an int8 table without weights (one global embeddings_scale) loads in m2v-infer and "
    "model2vec but not in sentence-transformers, whose StaticEmbedding needs floating-point "
    "weights; quantize with per-row scales (the default) or write float16 or float32 for it"
)


def _fill(folder: Path, model: StaticModelData, card: ModelCard, name: str) -> None:
    tensors = writer_tensors(model)
    if not _sentence_transformers_loads(tensors):
        # stacklevel: _fill, write_model_files, fill, write_atomically, save_*, the caller
        warnings.warn(INT8_SENTENCE_TRANSFORMERS_NOTE, UserWarning, stacklevel=6)
    config = writer_config(model, tensors)
    _write_weights(folder / SAFETENSORS, tensors)
    tokenizer = model.tokenizer
    if tokenizer.padding is not None or tokenizer.truncation is not None:
        tokenizer = without_padding_or_truncation(copy_tokenizer(tokenizer))
    _write_bytes(folder / TOKENIZER, tokenizer.to_str().encode("utf-8"))
    _write_bytes(folder / CONFIG, _json_bytes(config))
    _write_bytes(folder / MODULES, _json_bytes(modules_config(model.normalize)))
    embeddings = tensors[EMBEDDINGS]
    text = render_card(
        card,
        model_name=name,
        rows=int(embeddings.shape[0]),
        dim=int(embeddings.shape[1]),
        dtype=embeddings.dtype.name,
        tokenizer_type=model_type(model.tokenizer),
        normalize=model.normalize,
        format_version=config["format_version"],
        quantized_vocabulary=MAPPING in tensors,
        sentence_transformers=_sentence_transformers_loads(tensors),
    )
    _write_bytes(folder / README, text.encode("utf-8"))


def write_atomically(
    folder: str | os.PathLike[str], fill: Callable[[Path], None], *, overwrite: bool = False
) -> Path:
    """Create ``folder`` by calling ``fill(staging)`` on a temporary sibling, then renaming it.

    The staging folder is fsynced and renamed into place only once ``fill`` returns.  An
    existing ``folder`` raises ``OutputExistsError`` unless ``overwrite`` is true; it is then
    replaced only once the new folder is complete.  On any failure the staging folder is
    removed and the destination is left as it was (rule W1).
    """
    destination = Path(folder)
    exists = destination.exists() or destination.is_symlink()
    if exists and not overwrite:
        raise OutputExistsError(
            "destination exists (pass overwrite=True, or --overwrite on the command line, "
            "to replace it)",
            path=destination,
        )
    if exists and not destination.is_dir():
        raise OutputExistsError("destination exists and is not a folder", path=destination)
    parent = destination.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(4)
    staging = parent / f".{destination.name}.m2v-tmp-{token}"
    staging.mkdir()
    try:
        fill(staging)
        _fsync_folder(staging)
        if exists:
            backup = parent / f".{destination.name}.m2v-old-{token}"
            os.replace(destination, backup)
            try:
                os.replace(staging, destination)
            except BaseException:
                os.replace(backup, destination)
                raise
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.rename(staging, destination)
        _fsync_folder(parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination


def write_model_files(
    folder: Path, model: StaticModelData, *, card: ModelCard | None = None, name: str
) -> None:
    """Write the native layout's files of ``model`` into the existing ``folder`` (W2)."""
    _fill(folder, model, card or _default_card(model), name)


def save_model(
    folder: str | os.PathLike[str],
    model: StaticModelData,
    *,
    overwrite: bool = False,
    card: ModelCard | None = None,
) -> Path:
    """Write ``model`` as a native m2v folder, atomically (rules W1, W2).

    Everything is written into a temporary sibling folder and fsynced, then renamed into
    place.  An existing ``folder`` raises ``OutputExistsError`` unless ``overwrite`` is
    true; it is then replaced only once the new folder is complete.  On any failure the
    temporary folder is removed and the destination is left as it was.

    Returns:
        The path of the written folder.

    Raises:
        OutputExistsError: ``folder`` exists and ``overwrite`` is false.
        FormatError: the model breaks a rule (dtype, shape, vocabulary size, NaN, ...).
    """
    name = Path(folder).name
    return write_atomically(
        folder,
        lambda staging: write_model_files(staging, model, card=card, name=name),
        overwrite=overwrite,
    )


def _default_card(model: StaticModelData) -> ModelCard:
    language = model.config.language
    return ModelCard(language=language)
