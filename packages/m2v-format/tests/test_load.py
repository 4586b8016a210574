"""load_model: memory-mapped, no copy, fast; every bad input ends in its typed error."""

from __future__ import annotations

import gc
import json
import mmap
import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import (
    FormatError,
    HeaderTooLargeError,
    InvalidConfigValueError,
    InvalidFormatVersionError,
    InvalidJSONError,
    InvalidScaleError,
    InvalidTokenizerError,
    Layout,
    MappingOutOfRangeError,
    MissingTensorError,
    NonFiniteValueError,
    SafetensorsHeaderError,
    TensorShapeError,
    TruncatedFileError,
    UnsupportedDtypeError,
    UnsupportedFormatVersionError,
    VocabularySizeMismatchError,
    load_model,
    save_model,
)
from m2v_testkit import (
    TINY_WORDS,
    RawTensor,
    header_bytes,
    raw_safetensors,
    tensor_entry,
    tiny_model,
    tiny_tokenizer,
    valid_embeddings,
    write_raw_model,
)

V = len(TINY_WORDS)


def _root_buffer(array: np.ndarray[Any, Any]) -> object:
    base: Any = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


def test_potion_loads_memory_mapped(potion_path: Path) -> None:
    model = load_model(potion_path)
    assert model.layout is Layout.NATIVE
    assert (model.rows, model.dim, model.vocab_size) == (29528, 256, 29528)
    assert model.dtype == np.dtype("<f4")
    assert model.normalize is True
    assert model.unknown_token_id == 1
    assert model.median_token_length == 6
    assert model.weights is None
    assert model.mapping is None
    assert model.embeddings_scale is None
    embeddings = model.embeddings
    assert not embeddings.flags.owndata
    assert not embeddings.flags.writeable
    assert isinstance(_root_buffer(embeddings), mmap.mmap)
    assert model.dequantized_embeddings() is embeddings
    with pytest.raises(ValueError, match="read-only"):
        embeddings[0, 0] = 1.0


def test_potion_load_allocates_almost_nothing(potion_path: Path) -> None:
    load_model(potion_path)  # warm caches (imports, page cache)
    gc.collect()
    tracemalloc.start()
    try:
        model = load_model(potion_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert model.rows == 29528
    assert peak < 1_000_000, f"loading allocated {peak} bytes"


def test_minilm_folder_is_not_a_static_model(minilm_path: Path) -> None:
    with pytest.raises(MissingTensorError) as caught:
        load_model(minilm_path)
    message = str(caught.value)
    assert "'embeddings'" in message
    assert "transformer checkpoint" in message
    assert (caught.value.code, caught.value.rule) == ("missing-tensor", "T1")


# --- bad inputs: each yields its own error class, code and rule ---------------------------


def _folder(tmp_path: Path, **kwargs: Any) -> Path:
    tensors = kwargs.pop("tensors", {"embeddings": valid_embeddings()})
    return write_raw_model(tmp_path / "model", tensors, **kwargs)


def _raw(tmp_path: Path, entries: list[RawTensor]) -> Path:
    return _folder(tmp_path, tensors=raw_safetensors(entries))


def _scale(value: float, dtype: Any = np.float32, shape: tuple[int, ...] = (1,)) -> Any:
    return np.full(shape, value, dtype=dtype)


INT8 = np.ones((V, 4), np.int8)

CASES: dict[str, tuple[type[FormatError], str, str, Callable[[Path], Path]]] = {
    "config-not-json": (
        InvalidJSONError,
        "invalid-json",
        "C1",
        lambda t: _folder(t, config="{normalize: true"),
    ),
    "config-array": (InvalidJSONError, "invalid-json", "C1", lambda t: _folder(t, config="[]")),
    "config-nan": (
        InvalidJSONError,
        "invalid-json",
        "C1",
        lambda t: _folder(t, config='{"sif_coefficient": NaN}'),
    ),
    "config-bad-value": (
        InvalidConfigValueError,
        "invalid-config-value",
        "C2",
        lambda t: _folder(t, config={"normalize": "yes"}),
    ),
    "format-version-malformed": (
        InvalidFormatVersionError,
        "invalid-format-version",
        "V1",
        lambda t: _folder(t, config={"format_version": "1"}),
    ),
    "format-version-major-2": (
        UnsupportedFormatVersionError,
        "unsupported-format-version",
        "V3",
        lambda t: _folder(t, config={"format_version": "2.0"}),
    ),
    "tokenizer-invalid": (
        InvalidTokenizerError,
        "invalid-tokenizer",
        "K1",
        lambda t: _folder(t, tokenizer='{"model": 1}'),
    ),
    "header-corrupt": (
        SafetensorsHeaderError,
        "invalid-safetensors",
        "S1",
        lambda t: _folder(t, tensors=header_bytes(b"{oops")),
    ),
    "header-too-large": (
        HeaderTooLargeError,
        "header-too-large",
        "S2",
        lambda t: _folder(t, tensors=struct.pack("<Q", 10**9) + b"{}"),
    ),
    "truncated": (
        TruncatedFileError,
        "truncated-file",
        "S3",
        lambda t: _folder(
            t, tensors=raw_safetensors([tensor_entry("embeddings", valid_embeddings())])[:-3]
        ),
    ),
    "tensor-missing": (
        MissingTensorError,
        "missing-tensor",
        "T1",
        lambda t: _folder(t, tensors={"vectors": valid_embeddings()}),
    ),
    "rank-1-embeddings": (
        TensorShapeError,
        "invalid-tensor-shape",
        "T2",
        lambda t: _folder(t, tensors={"embeddings": np.ones(V, np.float32)}),
    ),
    "rank-3-embeddings": (
        TensorShapeError,
        "invalid-tensor-shape",
        "T2",
        lambda t: _folder(t, tensors={"embeddings": np.ones((V, 2, 2), np.float32)}),
    ),
    "zero-dim": (
        TensorShapeError,
        "invalid-tensor-shape",
        "T2",
        lambda t: _folder(t, tensors={"embeddings": np.ones((V, 0), np.float32)}),
    ),
    "weights-rank-2": (
        TensorShapeError,
        "invalid-tensor-shape",
        "T2",
        lambda t: _folder(
            t, tensors={"embeddings": valid_embeddings(), "weights": np.ones((V, 1), np.float32)}
        ),
    ),
    "bf16-embeddings": (
        UnsupportedDtypeError,
        "unsupported-dtype",
        "T3",
        lambda t: _raw(t, [RawTensor("embeddings", "BF16", (V, 4), bytes(V * 8))]),
    ),
    "u8-embeddings": (
        UnsupportedDtypeError,
        "unsupported-dtype",
        "T3",
        lambda t: _folder(t, tensors={"embeddings": np.ones((V, 4), np.uint8)}),
    ),
    "i16-embeddings": (
        UnsupportedDtypeError,
        "unsupported-dtype",
        "T3",
        lambda t: _folder(t, tensors={"embeddings": np.ones((V, 4), np.int16)}),
    ),
    "float-mapping": (
        UnsupportedDtypeError,
        "unsupported-dtype",
        "T3",
        lambda t: _folder(
            t,
            tensors={"embeddings": valid_embeddings(4), "mapping": np.zeros(V, np.float32)},
        ),
    ),
    "u8-mapping": (
        UnsupportedDtypeError,
        "unsupported-dtype",
        "T3",
        lambda t: _folder(
            t, tensors={"embeddings": valid_embeddings(4), "mapping": np.zeros(V, np.uint8)}
        ),
    ),
    "int-weights": (
        UnsupportedDtypeError,
        "unsupported-dtype",
        "T3",
        lambda t: _folder(
            t, tensors={"embeddings": valid_embeddings(), "weights": np.ones(V, np.int32)}
        ),
    ),
    "nan-embeddings": (
        NonFiniteValueError,
        "non-finite-values",
        "T4",
        lambda t: _folder(
            t, tensors={"embeddings": np.where(valid_embeddings() > 2, np.nan, 1.0).astype("f4")}
        ),
    ),
    "inf-embeddings-f16": (
        NonFiniteValueError,
        "non-finite-values",
        "T4",
        lambda t: _folder(t, tensors={"embeddings": np.full((V, 4), np.inf, np.float16)}),
    ),
    "nan-weights": (
        NonFiniteValueError,
        "non-finite-values",
        "T4",
        lambda t: _folder(
            t,
            tensors={"embeddings": valid_embeddings(), "weights": np.full(V, np.nan, np.float64)},
        ),
    ),
    "rows-not-vocab": (
        VocabularySizeMismatchError,
        "vocab-size-mismatch",
        "T5",
        lambda t: _folder(t, tensors={"embeddings": valid_embeddings(V + 1)}),
    ),
    "weights-length": (
        VocabularySizeMismatchError,
        "vocab-size-mismatch",
        "T5",
        lambda t: _folder(
            t, tensors={"embeddings": valid_embeddings(), "weights": np.ones(V - 1, np.float32)}
        ),
    ),
    "mapping-length": (
        VocabularySizeMismatchError,
        "vocab-size-mismatch",
        "T5",
        lambda t: _folder(
            t, tensors={"embeddings": valid_embeddings(3), "mapping": np.zeros(V + 2, np.int32)}
        ),
    ),
    "mapping-too-high": (
        MappingOutOfRangeError,
        "mapping-out-of-range",
        "T6",
        lambda t: _folder(
            t, tensors={"embeddings": valid_embeddings(3), "mapping": np.full(V, 3, np.int32)}
        ),
    ),
    "mapping-negative": (
        MappingOutOfRangeError,
        "mapping-out-of-range",
        "T6",
        lambda t: _folder(
            t, tensors={"embeddings": valid_embeddings(3), "mapping": np.full(V, -1, np.int64)}
        ),
    ),
    "scale-f16": (
        InvalidScaleError,
        "invalid-scale",
        "T7",
        lambda t: _folder(
            t, tensors={"embeddings": INT8, "embeddings_scale": _scale(0.1, np.float16)}
        ),
    ),
    "scale-shape": (
        InvalidScaleError,
        "invalid-scale",
        "T7",
        lambda t: _folder(
            t, tensors={"embeddings": INT8, "embeddings_scale": _scale(0.1, shape=(2,))}
        ),
    ),
    "scale-zero": (
        InvalidScaleError,
        "invalid-scale",
        "T7",
        lambda t: _folder(t, tensors={"embeddings": INT8, "embeddings_scale": _scale(0.0)}),
    ),
    "scale-negative": (
        InvalidScaleError,
        "invalid-scale",
        "T7",
        lambda t: _folder(t, tensors={"embeddings": INT8, "embeddings_scale": _scale(-2.0)}),
    ),
    "scale-nan": (
        InvalidScaleError,
        "invalid-scale",
        "T7",
        lambda t: _folder(t, tensors={"embeddings": INT8, "embeddings_scale": _scale(np.nan)}),
    ),
    "scale-with-float-embeddings": (
        InvalidScaleError,
        "invalid-scale",
        "T7",
        lambda t: _folder(
            t, tensors={"embeddings": valid_embeddings(), "embeddings_scale": _scale(1.0)}
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(tmp_path: Path, case: str) -> None:
    error_class, code, rule, build = CASES[case]
    folder = build(tmp_path)
    with pytest.raises(error_class) as caught:
        load_model(folder)
    assert type(caught.value) is error_class
    assert (caught.value.code, caught.value.rule) == (code, rule)
    assert caught.value.path is not None


def test_check_values_false_skips_the_nan_scan(tmp_path: Path) -> None:
    folder = CASES["nan-embeddings"][3](tmp_path)
    model = load_model(folder, check_values=False)
    assert np.isnan(model.embeddings).any()


# --- accepted variations ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int8])
def test_reader_embedding_dtypes(tmp_path: Path, dtype: Any) -> None:
    folder = _folder(tmp_path, tensors={"embeddings": (valid_embeddings() * 3).astype(dtype)})
    model = load_model(folder)
    assert model.dtype == np.dtype(dtype)
    assert model.dequantized_embeddings().dtype == np.float32


@pytest.mark.parametrize("weights_dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("mapping_dtype", [np.int32, np.int64])
def test_reader_weights_and_mapping_dtypes(
    tmp_path: Path, weights_dtype: Any, mapping_dtype: Any
) -> None:
    tensors = {
        "embeddings": valid_embeddings(5),
        "weights": np.linspace(0.5, 1, V).astype(weights_dtype),
        "mapping": (np.arange(V) % 5).astype(mapping_dtype),
    }
    model = load_model(_folder(tmp_path, tensors=tensors))
    assert model.mapping is not None
    assert model.weights is not None
    assert model.mapping.dtype == np.dtype(mapping_dtype)
    assert model.rows == 5


def test_int8_with_scale(tmp_path: Path) -> None:
    tensors = {"embeddings": INT8 * 3, "embeddings_scale": _scale(0.5)}
    model = load_model(_folder(tmp_path, tensors=tensors, config={"format_version": "1.1"}))
    assert model.embeddings_scale == 0.5
    np.testing.assert_array_equal(model.dequantized_embeddings(), np.full((V, 4), 1.5, np.float32))


def test_unknown_tensors_and_keys_are_ignored(tmp_path: Path) -> None:
    tensors = {"embeddings": valid_embeddings(), "future_tensor": np.ones((3, 3, 3), np.uint8)}
    config = {"format_version": "1.7", "normalize": False, "future_key": {"a": [1]}}
    model = load_model(_folder(tmp_path, tensors=tensors, config=config))
    assert model.config.extra == {"future_key": {"a": [1]}}
    assert model.config.format_version == "1.7"


def test_metadata_and_header_padding_are_accepted(tmp_path: Path) -> None:
    header = {
        "__metadata__": {"format": "pt"},
        "embeddings": {"dtype": "F32", "shape": [V, 4], "data_offsets": [0, V * 16]},
    }
    data = header_bytes(json.dumps(header).encode() + b"      ") + valid_embeddings().tobytes()
    assert load_model(_folder(tmp_path, tensors=data)).rows == V


def test_modules_json_is_not_read_for_native_folders(tmp_path: Path) -> None:
    folder = save_model(tmp_path / "m", tiny_model())
    (folder / "modules.json").write_text("not json")
    assert load_model(folder).normalize is True


def test_broken_modules_json_in_sentence_transformers_folder(tmp_path: Path) -> None:
    folder = _folder(tmp_path, tensors={"embedding.weight": valid_embeddings()})
    (folder / "config.json").unlink()
    (folder / "config_sentence_transformers.json").write_text("{}")
    (folder / "modules.json").write_text('{"not": "a list"}')
    with pytest.raises(InvalidJSONError, match="array"):
        load_model(folder)
    (folder / "modules.json").write_text('["not an object"]')
    with pytest.raises(InvalidJSONError, match="entry"):
        load_model(folder)
    (folder / "modules.json").write_text("[]")
    (folder / "config_sentence_transformers.json").write_text("[]")
    with pytest.raises(InvalidJSONError, match="object"):
        load_model(folder)


def test_tokenizer_with_added_tokens_counts_them(tmp_path: Path) -> None:
    tokenizer = tiny_tokenizer()
    tokenizer.add_tokens(["extra"])
    folder = _folder(tmp_path, tokenizer=tokenizer, tensors={"embeddings": valid_embeddings(V + 1)})
    assert load_model(folder).vocab_size == V + 1
