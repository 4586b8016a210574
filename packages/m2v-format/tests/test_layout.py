"""Layouts (L2-L5), paths (L1) and path safety (L6)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from m2v_format import (
    Layout,
    MissingFileError,
    ModelNotFoundError,
    StaticModelData,
    SubfolderEscapeError,
    load_model,
    resolve_model_path,
    save_model,
)
from m2v_testkit import tiny_model, tiny_tokenizer, write_raw_model

ST_NORMALIZE_OLD = "sentence_transformers.models.Normalize"
ST_NORMALIZE_NEW = "sentence_transformers.base.modules.normalize.Normalize"


@pytest.fixture
def native(tmp_path: Path) -> Path:
    return save_model(tmp_path / "native", tiny_model())


def _st_files(folder: Path, *, normalize_type: str | None, nested: bool) -> Path:
    """A sentence-transformers folder (tensor ``embedding.weight``) from a tiny model."""
    model = tiny_model()
    folder.mkdir(parents=True)
    (folder / "config_sentence_transformers.json").write_text('{"model_type": "x"}')
    modules = [{"idx": 0, "name": "0", "path": "", "type": "x.StaticEmbedding"}]
    if normalize_type:
        modules.append({"idx": 1, "name": "1", "path": "1_Normalize", "type": normalize_type})
    (folder / "modules.json").write_text(json.dumps(modules))
    target = folder / "0_StaticEmbedding" if nested else folder
    write_raw_model(target, {"embedding.weight": np.asarray(model.embeddings)})
    (target / "config.json").unlink()
    return folder


@pytest.mark.parametrize("normalize_type", [ST_NORMALIZE_OLD, ST_NORMALIZE_NEW, None])
@pytest.mark.parametrize("nested", [False, True])
def test_sentence_transformers_layouts(
    tmp_path: Path, normalize_type: str | None, nested: bool
) -> None:
    folder = _st_files(tmp_path / "st", normalize_type=normalize_type, nested=nested)
    model = load_model(folder)
    assert model.layout is (Layout.NESTED if nested else Layout.SENTENCE_TRANSFORMERS)
    assert model.normalize is (normalize_type is not None)
    np.testing.assert_array_equal(model.embeddings, tiny_model().embeddings)


def test_sentence_transformers_without_modules_is_not_normalized(tmp_path: Path) -> None:
    folder = _st_files(tmp_path / "st", normalize_type=ST_NORMALIZE_OLD, nested=False)
    (folder / "modules.json").unlink()
    assert load_model(folder).normalize is False


def test_static_embedding_folder_itself(tmp_path: Path) -> None:
    folder = _st_files(tmp_path / "st", normalize_type=None, nested=True)
    model = load_model(folder / "0_StaticEmbedding")
    assert model.layout is Layout.STATIC_EMBEDDING_FOLDER
    assert model.rows == 12
    assert load_model(folder, subfolder="0_StaticEmbedding").layout is (
        Layout.STATIC_EMBEDDING_FOLDER
    )


def test_native_wins_over_sentence_transformers(native: Path) -> None:
    (native / "config_sentence_transformers.json").write_text("{}")
    assert load_model(native).layout is Layout.NATIVE


def test_tensor_name_fallback(tmp_path: Path) -> None:
    embeddings = tiny_model().embeddings
    folder = write_raw_model(tmp_path / "m", {"embedding.weight": np.asarray(embeddings)})
    assert load_model(folder).layout is Layout.NATIVE
    st = _st_files(tmp_path / "st", normalize_type=None, nested=False)
    write_raw_model(st, {"embeddings": np.asarray(embeddings)})
    (st / "config.json").unlink()
    assert load_model(st).rows == 12


def test_native_normalize_absent_is_false(tmp_path: Path) -> None:
    folder = write_raw_model(
        tmp_path / "m", {"embeddings": np.ones((12, 2), np.float32)}, config={}
    )
    assert load_model(folder).normalize is False


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors", "tokenizer.json"])
def test_missing_file(native: Path, missing: str) -> None:
    (native / missing).unlink()
    with pytest.raises(MissingFileError, match=missing) as caught:
        load_model(native)
    assert (caught.value.code, caught.value.rule) == ("missing-file", "L2")
    assert caught.value.path == native.absolute()


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="found: nothing"):
        load_model(tmp_path)


def test_a_folder_named_config_json_is_missing(native: Path) -> None:
    (native / "config.json").unlink()
    (native / "config.json").mkdir()
    with pytest.raises(MissingFileError):
        load_model(native)


@pytest.mark.parametrize("path", ["/no/such/folder", "./relative/missing", "a/b/c", "~nobody/x"])
def test_model_not_found(path: str) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model_path(Path(path))
    assert (caught.value.code, caught.value.rule) == ("model-not-found", "L1")


def test_a_file_is_not_a_model(native: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not a folder"):
        load_model(native / "config.json")


def test_subfolder(tmp_path: Path) -> None:
    save_model(tmp_path / "repo" / "models" / "small", tiny_model())
    assert load_model(tmp_path / "repo", subfolder="models/small").rows == 12
    with pytest.raises(ModelNotFoundError):
        load_model(tmp_path / "repo", subfolder="models/absent")


@pytest.mark.parametrize(
    "subfolder", ["../native", "/etc", "a/../../native", "..", "C:\\x", "\\\\server\\share"]
)
def test_subfolder_escape(native: Path, subfolder: str) -> None:
    with pytest.raises(SubfolderEscapeError) as caught:
        load_model(native, subfolder=subfolder)
    assert (caught.value.code, caught.value.rule) == ("subfolder-escape", "L6")


def test_subfolder_symlink_escape(tmp_path: Path, native: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(native, root / "link")
    with pytest.raises(SubfolderEscapeError):
        load_model(root, subfolder="link")


@pytest.mark.parametrize("name", ["tokenizer.json", "model.safetensors", "config.json"])
def test_file_symlink_escape(tmp_path: Path, native: Path, name: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(native / name, outside / name)
    os.symlink(outside / name, native / name)
    with pytest.raises(SubfolderEscapeError, match=name):
        load_model(native)


def test_symlinks_inside_the_folder_are_fine(native: Path) -> None:
    (native / "blobs").mkdir()
    shutil.move(native / "tokenizer.json", native / "blobs" / "abc")
    os.symlink("blobs/abc", native / "tokenizer.json")
    assert load_model(native).rows == 12


def test_symlinked_model_folder_is_fine(tmp_path: Path, native: Path) -> None:
    os.symlink(native, tmp_path / "alias")
    assert load_model(tmp_path / "alias").rows == 12


def test_resolve_model_path_of_local_folder(native: Path) -> None:
    assert resolve_model_path(native) == native.absolute()
    assert resolve_model_path(str(native)) == native.absolute()


def test_model_data_basics(native: Path) -> None:
    model = load_model(native)
    assert isinstance(model, StaticModelData)
    assert (model.rows, model.dim, model.vocab_size) == (12, 8, 12)
    assert model.dtype == np.float32
    assert model.path == native.absolute()
    assert model.tokenizer.get_vocab() == tiny_tokenizer().get_vocab()
