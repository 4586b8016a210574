"""save_model: writer dtypes, config/modules/card contents (W2, C5, C6) and atomicity (W1)."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import m2v_format._write as writer
import numpy as np
import pytest
from m2v_format import (
    ModelCard,
    ModelConfig,
    NonFiniteValueError,
    OutputExistsError,
    StaticModelData,
    UnsupportedDtypeError,
    VocabularySizeMismatchError,
    load_model,
    quantize,
    save_model,
    validate_model,
)
from m2v_format._safetensors import MappedSafetensors
from m2v_testkit import TINY_WORDS, tiny_model


def _header(folder: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    mapped = MappedSafetensors(folder / "model.safetensors")
    return {name: (info.dtype, info.shape) for name, info in mapped.tensors.items()}


def _config(folder: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((folder / "config.json").read_text())
    return result


def _siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir())


def test_float32_round_trip(tmp_path: Path) -> None:
    model = tiny_model(weights=True)
    folder = save_model(tmp_path / "out", model)
    assert folder == tmp_path / "out"
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "modules.json",
        "tokenizer.json",
    ]
    assert _header(folder) == {"embeddings": ("F32", (12, 8)), "weights": ("F32", (12,))}
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.embeddings, model.embeddings)
    assert loaded.weights is not None
    assert model.weights is not None
    np.testing.assert_array_equal(loaded.weights, model.weights)
    assert loaded.tokenizer.get_vocab() == model.tokenizer.get_vocab()
    report = validate_model(folder)
    assert report.ok, report.violations
    assert report.warnings == []


def test_config_contents(tmp_path: Path) -> None:
    config = ModelConfig(
        model_type="model2vec",
        max_length=128,
        hidden_dim=8,
        extra={"custom": {"nested": [1, 2]}, "note": "kept"},
        vocabulary_quantization=99,
    )
    folder = save_model(tmp_path / "out", tiny_model(config=config, normalize=False))
    written = _config(folder)
    assert list(written)[:2] == ["format_version", "normalize"]
    assert written["format_version"] == "1.0"
    assert written["normalize"] is False
    assert written["max_length"] == 128
    assert written["embedding_dtype"] == "float32"
    assert "vocabulary_quantization" not in written  # stale value dropped: no mapping
    assert written["custom"] == {"nested": [1, 2]}
    assert written["note"] == "kept"
    assert load_model(folder).config.extra == {"custom": {"nested": [1, 2]}, "note": "kept"}


def test_normalize_is_always_written(tmp_path: Path) -> None:
    model = tiny_model()
    model.config = ModelConfig()  # normalize absent: resolved to false (C3)
    assert _config(save_model(tmp_path / "out", model))["normalize"] is False


def test_vocabulary_quantized_model(tmp_path: Path) -> None:
    model = tiny_model(clusters=5, weights=True)
    model.mapping = np.asarray(model.mapping, dtype=np.int64)
    folder = save_model(tmp_path / "out", model)
    assert _header(folder) == {
        "embeddings": ("F32", (5, 8)),
        "mapping": ("I32", (12,)),
        "weights": ("F32", (12,)),
    }
    assert _config(folder)["vocabulary_quantization"] == 5
    assert validate_model(folder).ok


def test_writer_dtypes(tmp_path: Path) -> None:
    model = tiny_model(weights=True, dtype=np.float64)
    model.weights = np.asarray(model.weights, dtype=np.float16)
    folder = save_model(tmp_path / "f64", model)
    assert _header(folder)["embeddings"][0] == "F32"
    assert _header(folder)["weights"][0] == "F32"
    assert _config(folder)["embedding_dtype"] == "float32"
    f16 = save_model(tmp_path / "f16", quantize(tiny_model(), "float16"))
    assert _header(f16)["embeddings"][0] == "F16"
    assert _config(f16)["embedding_dtype"] == "float16"


def test_int8_writes_scale_and_version_1_1(tmp_path: Path) -> None:
    folder = save_model(tmp_path / "i8", quantize(tiny_model(), "int8", int8_scale="global"))
    assert _header(folder)["embeddings"] == ("I8", (12, 8))
    assert _header(folder)["embeddings_scale"] == ("F32", (1,))
    assert _config(folder)["format_version"] == "1.1"
    assert _config(folder)["embedding_dtype"] == "int8"
    assert validate_model(folder).ok


def test_int8_with_row_scales_writes_weights_and_version_1_0(tmp_path: Path) -> None:
    folder = save_model(tmp_path / "i8", quantize(tiny_model(), "int8"))
    assert _header(folder)["embeddings"] == ("I8", (12, 8))
    assert _header(folder)["weights"] == ("F32", (12,))
    assert "embeddings_scale" not in _header(folder)
    assert _config(folder)["format_version"] == "1.0"
    report = validate_model(folder)
    assert report.ok
    assert report.warnings == []


@pytest.mark.parametrize("normalize", [True, False])
def test_modules_json(tmp_path: Path, normalize: bool) -> None:
    folder = save_model(tmp_path / "out", tiny_model(normalize=normalize))
    modules = json.loads((folder / "modules.json").read_text())
    expected = [
        {"idx": 0, "name": "0", "path": ".", "type": "sentence_transformers.models.StaticEmbedding"}
    ]
    if normalize:
        expected.append(
            {
                "idx": 1,
                "name": "1",
                "path": "1_Normalize",
                "type": "sentence_transformers.models.Normalize",
            }
        )
    assert modules == expected


def test_tokenizer_json_has_no_padding_or_truncation(tmp_path: Path) -> None:
    model = tiny_model()
    model.tokenizer.enable_truncation(3)
    folder = save_model(tmp_path / "out", model)
    document = json.loads((folder / "tokenizer.json").read_text())
    assert document["truncation"] is None
    assert document["padding"] is None


def _front_matter(text: str) -> list[str]:
    lines = text.splitlines()
    assert lines[0] == "---"
    return lines[1 : lines.index("---", 1)]


def test_model_card(tmp_path: Path) -> None:
    card = ModelCard(
        base_model="BAAI/bge-base-en-v1.5",
        language=["en", "nl"],
        license="mit",
        tags=["custom", 'quote"d', "ünï", "emoji-\U0001f600"],
    )
    folder = save_model(tmp_path / "out", tiny_model(), card=card)
    text = (folder / "README.md").read_text(encoding="utf-8")
    front = _front_matter(text)
    assert 'library_name: "model2vec"' in front
    assert 'base_model: "BAAI/bge-base-en-v1.5"' in front
    assert 'license: "mit"' in front
    assert front[front.index("language:") + 1 : front.index("language:") + 3] == [
        '- "en"',
        '- "nl"',
    ]
    assert '- "sentence-transformers"' in front
    assert '- "quote\\"d"' in front
    assert "# out" in text
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load("\n".join(front))
    assert data["tags"][-2:] == ["ünï", "emoji-\U0001f600"]
    assert data["base_model"] == "BAAI/bge-base-en-v1.5"
    assert data["language"] == ["en", "nl"]


def test_default_card_and_int8_card(tmp_path: Path) -> None:
    folder = save_model(tmp_path / "i8", quantize(tiny_model(), "int8", int8_scale="global"))
    front = _front_matter((folder / "README.md").read_text())
    assert '- "static-embeddings"' in front
    assert '- "sentence-transformers"' not in front  # it cannot load int8 without weights
    assert not any(line.startswith("base_model") for line in front)
    rows = save_model(tmp_path / "rows", quantize(tiny_model(), "int8"))
    assert '- "sentence-transformers"' in _front_matter((rows / "README.md").read_text())


# --- refusing bad models ---------------------------------------------------------------------


def test_refuses_nan(tmp_path: Path) -> None:
    model = tiny_model()
    model.embeddings[0, 0] = np.nan
    with pytest.raises(NonFiniteValueError):
        save_model(tmp_path / "out", model)
    assert _siblings(tmp_path / "out") == []


def test_refuses_vocabulary_mismatch(tmp_path: Path) -> None:
    model = tiny_model()
    model.embeddings = model.embeddings[:5]
    with pytest.raises(VocabularySizeMismatchError):
        save_model(tmp_path / "out", model)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.complex64, np.bool_])
def test_refuses_unsupported_embedding_dtypes(tmp_path: Path, dtype: Any) -> None:
    model = tiny_model()
    model.embeddings = np.ones((len(TINY_WORDS), 4), dtype=dtype)
    with pytest.raises(UnsupportedDtypeError):
        save_model(tmp_path / "out", model)


def test_refuses_float_mapping(tmp_path: Path) -> None:
    model = tiny_model(clusters=4)
    model.mapping = np.zeros(len(TINY_WORDS), np.float32)
    with pytest.raises(UnsupportedDtypeError):
        save_model(tmp_path / "out", model)


# --- atomicity (W1) ----------------------------------------------------------------------------


def test_existing_destination(tmp_path: Path) -> None:
    folder = save_model(tmp_path / "out", tiny_model(seed=1))
    with pytest.raises(OutputExistsError) as caught:
        save_model(folder, tiny_model(seed=2))
    assert (caught.value.code, caught.value.rule) == ("output-exists", "W1")
    np.testing.assert_array_equal(load_model(folder).embeddings, tiny_model(seed=1).embeddings)
    save_model(folder, tiny_model(seed=2), overwrite=True)
    np.testing.assert_array_equal(load_model(folder).embeddings, tiny_model(seed=2).embeddings)
    assert _siblings(folder) == ["out"]


def test_existing_file_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("precious")
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError):
            save_model(tmp_path / "out", tiny_model(), overwrite=overwrite)
    assert (tmp_path / "out").read_text() == "precious"


def test_creates_missing_parents(tmp_path: Path) -> None:
    assert load_model(save_model(tmp_path / "a" / "b" / "c", tiny_model())).rows == 12


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4])
def test_interrupted_save_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    calls = {"n": 0}
    real = writer._write_bytes

    def flaky(path: Path, data: bytes | memoryview) -> None:
        calls["n"] += 1
        if calls["n"] == fail_at:
            path.write_bytes(bytes(data)[:3])  # a half-written file ...
            raise OSError("disk full")  # ... then the failure
        real(path, data)

    monkeypatch.setattr(writer, "_write_bytes", flaky)
    with pytest.raises(OSError, match="disk full"):
        save_model(tmp_path / "out", tiny_model())
    assert _siblings(tmp_path / "out") == []


def test_interrupted_overwrite_keeps_the_old_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = save_model(tmp_path / "out", tiny_model(seed=1))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def broken(path: Path, tensors: Any) -> None:
        path.write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "_write_weights", broken)
    with pytest.raises(KeyboardInterrupt):
        save_model(folder, tiny_model(seed=2), overwrite=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert _siblings(folder) == ["out"]


def test_failed_final_rename_restores_the_old_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = save_model(tmp_path / "out", tiny_model(seed=1))
    real_replace = os.replace

    def replace(source: Any, target: Any) -> None:
        if ".m2v-tmp-" in str(source):
            raise OSError("rename failed")
        real_replace(source, target)

    monkeypatch.setattr(writer.os, "replace", replace)
    with pytest.raises(OSError, match="rename failed"):
        save_model(folder, tiny_model(seed=2), overwrite=True)
    np.testing.assert_array_equal(load_model(folder).embeddings, tiny_model(seed=1).embeddings)
    assert _siblings(folder) == ["out"]


def test_overwrite_the_folder_a_model_was_loaded_from(tmp_path: Path) -> None:
    folder = save_model(tmp_path / "out", tiny_model())
    loaded = load_model(folder)  # memory-mapped from the folder being replaced
    smaller = quantize(loaded, "float16", dims=4)
    save_model(folder, smaller, overwrite=True)
    assert load_model(folder).dim == 4
    np.testing.assert_array_equal(np.asarray(loaded.embeddings), tiny_model().embeddings)


def test_potion_round_trip(tmp_path: Path, potion_path: Path) -> None:
    potion = load_model(potion_path)
    folder = save_model(tmp_path / "potion", potion)
    again = load_model(folder)
    np.testing.assert_array_equal(again.embeddings, potion.embeddings)
    written, original = _config(folder), _config(potion_path)
    assert written == {"format_version": "1.0", **original}
    assert validate_model(folder).ok


def test_model_data_from_arrays_is_writable(tmp_path: Path) -> None:
    model = StaticModelData(np.ones((12, 3), np.float32), tiny_model().tokenizer)
    assert load_model(save_model(tmp_path / "x", model)).dim == 3


def test_an_int8_table_warns_that_sentence_transformers_cannot_load_it(tmp_path: Path) -> None:
    from m2v_format import quantize

    with pytest.warns(UserWarning, match="not in sentence-transformers"):
        save_model(tmp_path / "int8", quantize(tiny_model(), "int8", int8_scale="global"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_model(tmp_path / "f16", quantize(tiny_model(), "float16"))
        save_model(tmp_path / "rows", quantize(tiny_model(), "int8"))  # weights make it float
