"""save_pretrained (atomic, via m2v_format.save_model) and push_to_hub."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import HubUnavailableError, OutputExistsError, validate_model
from m2v_infer import StaticModel


def test_round_trip(potion: StaticModel, tmp_path: Path, real_corpus: list[str]) -> None:
    folder = potion.save_pretrained(tmp_path / "copy")
    assert validate_model(folder).ok
    again = StaticModel.from_pretrained(folder)
    assert np.array_equal(again.encode(real_corpus[:200]), potion.encode(real_corpus[:200]))
    assert again.normalize == potion.normalize
    assert again.max_length == potion.max_length


def test_saves_current_settings(potion_path: Path, tmp_path: Path) -> None:
    model = StaticModel.from_pretrained(potion_path, dimensionality=32, quantize_to="int8")
    model.normalize = False
    model.max_length = None
    folder = model.save_pretrained(tmp_path / "small", model_name="me/small")
    again = StaticModel.from_pretrained(folder)
    assert again.normalize is False
    assert again.max_length is None
    assert again.dim == 32
    assert again.embedding_dtype == "int8"
    texts = ["a movie", "the market"]
    assert np.allclose(again.encode(texts), model.encode(texts), atol=1e-6)


def test_refuses_to_overwrite(potion: StaticModel, tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(OutputExistsError):
        potion.save_pretrained(target)
    potion.save_pretrained(target, overwrite=True)
    assert (target / "model.safetensors").is_file()


def test_subfolder(potion: StaticModel, tmp_path: Path) -> None:
    potion.save_pretrained(tmp_path / "repo", subfolder="static")
    assert StaticModel.from_pretrained(tmp_path / "repo", subfolder="static").dim == 256


def test_push_to_hub_without_the_extra(
    potion: StaticModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(HubUnavailableError, match=r"m2v-infer\[hub\]") as caught:
        potion.push_to_hub("me/model")
    assert caught.value.code == "missing-dependency"


def test_push_to_hub_uploads_a_saved_folder(
    potion: StaticModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    class FakeApi:
        def __init__(self, token: str | None = None) -> None:
            calls.append(("init", {"token": token}))

        def create_repo(self, **kwargs: Any) -> None:
            calls.append(("create_repo", kwargs))

        def upload_folder(self, **kwargs: Any) -> None:
            folder = Path(kwargs["folder_path"])
            assert validate_model(folder).ok
            calls.append(("upload_folder", kwargs))

    fake = types.ModuleType("huggingface_hub")
    fake.HfApi = FakeApi  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    potion.push_to_hub("me/model", private=True, token="secret", subfolder="sub")
    names = [name for name, _ in calls]
    assert names == ["init", "create_repo", "upload_folder"]
    assert calls[1][1]["private"] is True
    assert calls[1][1]["repo_id"] == "me/model"
    assert calls[2][1]["path_in_repo"] == "sub"


def test_push_to_hub_without_network_raises_hub_upload_error(
    potion_path: Path, tmp_path: Path
) -> None:
    """The real huggingface_hub against a loopback port nobody listens on: the connection
    error arrives as HubUploadError (code hub-upload-failed), not a bare httpx error."""
    pytest.importorskip("huggingface_hub")
    from m2v_testkit import free_port

    script = f"""
from m2v_infer import HubUploadError, StaticModel
model = StaticModel.from_pretrained({str(potion_path)!r})
try:
    model.push_to_hub("me/model", token="hf_not_a_real_token")
except HubUploadError as error:
    print(error.code, "|", error)
"""
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}", "HF_HUB_OFFLINE": "0"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
        check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    code, message = done.stdout.strip().split(" | ", 1)
    assert code == "hub-upload-failed"
    assert "me/model" in message
    assert "Connect" in message  # the cause is named
