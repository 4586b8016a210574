"""Hub ids (L7) against a local Hugging Face cache built by the test, offline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from m2v_format import (
    HubUnavailableError,
    ModelNotFoundError,
    SubfolderEscapeError,
    load_model,
    resolve_model_path,
    save_model,
)
from m2v_format._hub import looks_like_hub_id
from m2v_testkit import HUB_COMMIT, hub_cache_snapshot, offline_hub_cache, tiny_model


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = offline_hub_cache(tmp_path / "hub-cache", monkeypatch)
    monkeypatch.chdir(tmp_path)  # "org/name" must not exist as a relative local path
    return cache


def test_hub_id_resolves_to_the_cached_snapshot(tmp_path: Path, offline_cache: Path) -> None:
    model = save_model(tmp_path / "src", tiny_model())
    snapshot = hub_cache_snapshot(offline_cache, "org/name", model)
    assert resolve_model_path("org/name") == snapshot
    loaded = load_model("org/name")  # snapshot files are symlinks into blobs/: allowed
    assert loaded.rows == 12
    assert loaded.path == snapshot
    assert load_model("org/name", revision=HUB_COMMIT).rows == 12


def test_hub_subfolder(tmp_path: Path, offline_cache: Path) -> None:
    model = save_model(tmp_path / "src", tiny_model())
    snapshot = hub_cache_snapshot(offline_cache, "org/nested", model, prefix="models/small")
    assert resolve_model_path("org/nested", subfolder="models/small") == snapshot / "models/small"
    with pytest.raises(SubfolderEscapeError):
        resolve_model_path("org/nested", subfolder="../../..")


def test_snapshot_symlink_leaving_the_repo_cache_escapes(
    tmp_path: Path, offline_cache: Path
) -> None:
    model = save_model(tmp_path / "src", tiny_model())
    snapshot = hub_cache_snapshot(offline_cache, "org/evil", model)
    (snapshot / "tokenizer.json").unlink()
    os.symlink(model / "tokenizer.json", snapshot / "tokenizer.json")
    with pytest.raises(SubfolderEscapeError):
        load_model("org/evil")


def test_snapshot_path_given_directly_is_fine(tmp_path: Path, offline_cache: Path) -> None:
    snapshot = hub_cache_snapshot(
        offline_cache, "org/direct", save_model(tmp_path / "src", tiny_model())
    )
    assert load_model(snapshot).rows == 12


@pytest.mark.parametrize("repo", ["org/absent", "absent"])
def test_unknown_repo_offline(offline_cache: Path, repo: str) -> None:
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE") as caught:
        load_model(repo)
    assert (caught.value.code, caught.value.rule) == ("model-not-found", "L1")


def test_unknown_revision_offline(tmp_path: Path, offline_cache: Path) -> None:
    hub_cache_snapshot(offline_cache, "org/name", save_model(tmp_path / "src", tiny_model()))
    with pytest.raises(ModelNotFoundError):
        load_model("org/name", revision="f" * 40)


def test_missing_hub_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import now raises ImportError
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HubUnavailableError, match=r'pip install "m2v-format\[hub\]"') as caught:
        load_model("org/name")
    assert (caught.value.code, caught.value.rule) == ("missing-dependency", "L7")
    assert isinstance(caught.value, ImportError)
    # local folders and paths that cannot be hub ids never need the extra
    assert load_model(save_model(tmp_path / "local", tiny_model())).rows == 12
    for path in ("./org/name", "/abs/path", "a/b/c", "bad..name", "x--y"):
        with pytest.raises(ModelNotFoundError):
            load_model(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("org/name", True),
        ("name", True),
        ("Org-1/model_v2.5", True),
        ("a/b/c", False),
        ("/abs", False),
        ("./rel", False),
        ("../up", False),
        ("org/na..me", False),
        ("org/--x", False),
        ("", False),
        ("org/", False),
    ],
)
def test_hub_id_shape(text: str, expected: bool) -> None:
    assert looks_like_hub_id(text) is expected
