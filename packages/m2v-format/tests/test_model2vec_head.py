"""model2vec's pipeline head (rules M1-M6 of spec/classifier.md), read and written.

The folders here are written by hand in model2vec 0.10.0's layout (``head.safetensors`` with
``head.{i}.weight`` / ``head.{i}.bias``, config.json's ``head_config``), so the reader's
checks run in the slim venv, without model2vec or torch; the round trips with model2vec
itself are in m2v-infer's and m2v-train's tests.
"""

from __future__ import annotations

import builtins
import io
import itertools
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import (
    ClassifierError,
    ClassifierHead,
    ClassifierNotFoundError,
    LegacyPipelineError,
    ModelConfig,
    load_classifier_head,
    load_model,
    save_classifier,
    save_model,
    validate_model,
)
from m2v_testkit import tiny_model
from safetensors.numpy import load_file, save_file

DIM = 8


def _head_tensors(sizes: list[int], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tensors = {}
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        tensors[f"head.{index}.weight"] = rng.normal(size=(fan_out, fan_in)).astype(np.float32)
        tensors[f"head.{index}.bias"] = rng.normal(size=fan_out).astype(np.float32)
    return tensors


def pipeline_folder(
    folder: Path,
    *,
    activation: str = "softmax",
    classes: Any = ("neg", "pos"),
    hidden: tuple[int, ...] = (5,),
    head_config: Any = ...,
    tensors: dict[str, np.ndarray] | None = None,
) -> Path:
    """A folder in model2vec 0.10.0's pipeline layout: a tiny model, head.safetensors and
    config.json's head_config (each piece overridable)."""
    save_model(folder, tiny_model(dim=DIM))
    n_classes = len(classes) if isinstance(classes, list | tuple) else 2
    sizes = [DIM, *hidden, n_classes]
    save_file(
        tensors if tensors is not None else _head_tensors(sizes), str(folder / "head.safetensors")
    )
    config = json.loads((folder / "config.json").read_text())
    if head_config is ...:
        head_config = {
            "n_layers": len(sizes) - 1,
            "activation": activation,
            "classes": list(classes) if isinstance(classes, tuple) else classes,
        }
    if head_config is not None:
        config["head_config"] = head_config
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_model2vec_head_is_read_as_ours(tmp_path: Path) -> None:
    folder = pipeline_folder(tmp_path / "p", classes=("a", "b", "c"), hidden=(6, 4))
    head = load_classifier_head(folder)
    tensors = load_file(str(folder / "head.safetensors"))
    assert head.task == "single-label"
    assert head.classes == ("a", "b", "c")
    assert head.hidden_activation == "relu"
    assert head.threshold == 0.5
    assert len(head.weights) == 3
    for index in range(3):
        np.testing.assert_array_equal(head.weights[index], tensors[f"head.{index}.weight"])
        np.testing.assert_array_equal(head.biases[index], tensors[f"head.{index}.bias"])
    multi = load_classifier_head(
        pipeline_folder(tmp_path / "m", activation="sigmoid", classes=(3, 7, 9))
    )
    assert multi.task == "multi-label"
    assert multi.classes == (3, 7, 9)


def test_our_files_take_precedence(tmp_path: Path) -> None:
    """With both heads present, ours is read and head.safetensors is not even parsed."""
    model = tiny_model(dim=DIM)
    ours = ClassifierHead(
        task="single-label",
        classes=("x", "y"),
        weights=(np.ones((2, DIM), np.float32),),
        biases=(np.zeros(2, np.float32),),
    )
    folder = save_classifier(tmp_path / "both", model, ours)
    (folder / "head.safetensors").write_bytes(b"not safetensors at all")
    assert load_classifier_head(folder).classes == ("x", "y")
    # Only one of our files: H1 applies, head.safetensors is no substitute.
    pipeline = pipeline_folder(tmp_path / "half")
    save_file(
        {"layers.0.weight": np.ones((2, DIM), np.float32)}, str(pipeline / "classifier.safetensors")
    )
    with pytest.raises(ClassifierNotFoundError, match=r"classifier\.json missing"):
        load_classifier_head(pipeline)


def _error(folder: Path) -> ClassifierError:
    with pytest.raises(ClassifierError) as raised:
        load_classifier_head(folder)
    assert raised.value.code == "invalid-classifier"
    return raised.value


def test_missing_tensor(tmp_path: Path) -> None:
    tensors = _head_tensors([DIM, 5, 2])
    del tensors["head.1.bias"]
    error = _error(pipeline_folder(tmp_path / "p", tensors=tensors))
    assert (error.rule, error.path.name if error.path else None) == ("H7", "head.safetensors")
    assert "head.1.bias missing" in error.message


def test_wrong_shapes(tmp_path: Path) -> None:
    tensors = _head_tensors([DIM, 5, 3])  # 3 outputs, 2 classes in head_config
    error = _error(pipeline_folder(tmp_path / "outputs", tensors=tensors))
    assert error.rule == "H8"
    assert "the last layer gives 3 outputs for 2 classes" in error.message
    tensors = _head_tensors([DIM, 5, 2])
    tensors["head.1.weight"] = np.ones((2, 4), np.float32)
    error = _error(pipeline_folder(tmp_path / "chain", tensors=tensors))
    assert error.rule == "H8"
    assert "layer 1 takes 4 inputs but layer 0 gives 5" in error.message
    tensors = _head_tensors([DIM, 5, 2])
    tensors["head.0.weight"] = np.ones(5, np.float32)
    assert _error(pipeline_folder(tmp_path / "rank", tensors=tensors)).rule == "H8"


def test_a_bias_of_the_wrong_length(tmp_path: Path) -> None:
    tensors = _head_tensors([DIM, 5, 2])
    tensors["head.0.bias"] = np.zeros(4, np.float32)
    error = _error(pipeline_folder(tmp_path / "p", tensors=tensors))
    assert error.rule == "H8"
    assert "layer 0" in error.message


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values(tmp_path: Path, bad: float) -> None:
    tensors = _head_tensors([DIM, 5, 2])
    tensors["head.1.weight"][0, 3] = bad
    error = _error(pipeline_folder(tmp_path / "p", tensors=tensors))
    assert error.rule == "H9"
    assert "layer 1 holds NaN or infinite values" in error.message


def test_integer_tensors_and_a_broken_file(tmp_path: Path) -> None:
    tensors = _head_tensors([DIM, 2])
    tensors["head.0.bias"] = np.zeros(2, np.int32)
    error = _error(pipeline_folder(tmp_path / "int", hidden=(), tensors=tensors))
    assert error.rule == "H7"
    assert "head.0.bias" in error.message
    broken = pipeline_folder(tmp_path / "broken")
    (broken / "head.safetensors").write_bytes(b'\x08\x00\x00\x00\x00\x00\x00\x00{"a":1}')
    assert _error(broken).rule == "H6"


@pytest.mark.parametrize(
    ("head_config", "fragment"),
    [
        (None, "config.json has no head_config"),
        ([1, 2], "head_config must be a JSON object"),
        ({"n_layers": 2, "activation": "softmax"}, "head_config.classes is missing"),
        ({"n_layers": 2, "activation": "softmax", "classes": None}, "classes is missing"),
        ({"n_layers": 2, "classes": ["neg", "pos"]}, "must be 'softmax', 'sigmoid' or 'identity'"),
        ({"n_layers": 2, "activation": "tanh", "classes": ["neg", "pos"]}, "got 'tanh'"),
        ({"n_layers": 2, "activation": "identity", "classes": ["a", "b"]}, "must be null"),
        ({"n_layers": -1, "activation": "identity", "classes": None}, "in [0, 16]"),
        ({"n_layers": 17, "activation": "identity", "classes": None}, "got 17"),
        ({"activation": "softmax", "classes": ["neg", "pos"]}, "n_layers must be an int"),
        ({"n_layers": 0, "activation": "softmax", "classes": ["neg", "pos"]}, "got 0"),
        ({"n_layers": "2", "activation": "softmax", "classes": ["neg", "pos"]}, "got '2'"),
        ({"n_layers": True, "activation": "softmax", "classes": ["neg", "pos"]}, "got True"),
    ],
)
def test_bad_head_config(tmp_path: Path, head_config: Any, fragment: str) -> None:
    error = _error(pipeline_folder(tmp_path / "p", head_config=head_config))
    assert error.rule == "M2"
    assert error.path is not None
    assert error.path.name == "config.json"
    assert fragment in error.message


@pytest.mark.parametrize(
    ("classes", "fragment"),
    [
        ("neg,pos", "head_config.classes must be a non-empty JSON array"),
        ([], "head_config.classes must be a non-empty JSON array"),
        (["neg", 1], "head_config.classes must be all strings or all integers"),
        (["neg", "neg"], "head_config.classes must be distinct"),
        (["only"], "at least 2 classes"),
    ],
)
def test_bad_classes(tmp_path: Path, classes: Any, fragment: str) -> None:
    config = {"n_layers": 2, "activation": "softmax", "classes": classes}
    error = _error(pipeline_folder(tmp_path / "p", head_config=config))
    assert error.rule == "H5"
    assert fragment in error.message


def test_config_json_that_is_not_json(tmp_path: Path) -> None:
    folder = pipeline_folder(tmp_path / "p")
    (folder / "config.json").write_text('{"head_config": {"classes": ["neg", "pos"]')
    error = _error(folder)
    assert error.rule == "M2"
    assert "config.json is not UTF-8 JSON" in error.message
    (folder / "config.json").write_text("[1, 2]")
    assert "top level must be a JSON object" in _error(folder).message


def _skops_with_a_payload(path: Path, marker: Path) -> None:
    """A skops-like zip whose member would create ``marker`` if anything unpickled it."""

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (Path.touch, (marker,))

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps({"__class__": "Pipeline", "protocol": 1}))
        archive.writestr("payload.pkl", pickle.dumps(Payload()))


def test_legacy_pipeline_is_refused_unopened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = pipeline_folder(tmp_path / "legacy", head_config=None)
    (folder / "head.safetensors").unlink()
    marker = tmp_path / "executed"
    _skops_with_a_payload(folder / "pipeline.skops", marker)
    opened: list[str] = []
    real_open = io.open

    def recording_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the legacy pipeline was being unpacked")

    monkeypatch.setattr(io, "open", recording_open)
    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(zipfile, "ZipFile", refuse)
    with pytest.raises(LegacyPipelineError) as raised:
        load_classifier_head(folder)
    monkeypatch.undo()
    error = raised.value
    assert (error.code, error.rule) == ("legacy-pipeline", "M5")
    assert isinstance(error, ClassifierError)
    assert error.path == folder / "pipeline.skops"
    assert "convert_legacy_pipeline" in error.message
    assert "head.safetensors" in error.message
    assert not marker.exists()
    assert not [name for name in opened if name.endswith("pipeline.skops")]


def test_head_safetensors_wins_over_a_legacy_pipeline(tmp_path: Path) -> None:
    folder = pipeline_folder(tmp_path / "both")
    (folder / "pipeline.skops").write_bytes(b"PK\x05\x06" + bytes(18))
    assert load_classifier_head(folder).classes == ("neg", "pos")


def test_no_head_at_all(tmp_path: Path) -> None:
    folder = save_model(tmp_path / "plain", tiny_model(dim=DIM))
    with pytest.raises(ClassifierNotFoundError) as raised:
        load_classifier_head(folder)
    assert raised.value.code == "classifier-missing"
    assert "head.safetensors" in raised.value.message


def _head(
    task: str = "single-label", threshold: float = 0.5, classes: tuple[Any, ...] = ("a", "b", "c")
) -> ClassifierHead:
    rng = np.random.default_rng(3)
    return ClassifierHead(
        task=task,  # type: ignore[arg-type]
        classes=classes,
        weights=(
            rng.normal(size=(6, DIM)).astype(np.float32),
            rng.normal(size=(len(classes), 6)).astype(np.float32),
        ),
        biases=(
            rng.normal(size=6).astype(np.float32),
            rng.normal(size=len(classes)).astype(np.float32),
        ),
        threshold=threshold,
    )


@pytest.mark.parametrize(
    ("task", "activation"), [("single-label", "softmax"), ("multi-label", "sigmoid")]
)
def test_the_writer_adds_model2vec_files(tmp_path: Path, task: str, activation: str) -> None:
    head = _head(task, classes=(3, 7, 9))
    folder = save_classifier(tmp_path / "clf", tiny_model(dim=DIM), head)
    ours = load_file(str(folder / "classifier.safetensors"))
    theirs = load_file(str(folder / "head.safetensors"))
    assert sorted(theirs) == ["head.0.bias", "head.0.weight", "head.1.bias", "head.1.weight"]
    for name, array in theirs.items():
        assert array.dtype == np.float32
        np.testing.assert_array_equal(array, ours[name.replace("head.", "layers.", 1)])
    config = json.loads((folder / "config.json").read_text())
    assert config["head_config"] == {"n_layers": 2, "activation": activation, "classes": [3, 7, 9]}
    # The model part is unchanged by the extra key: still a valid model folder.
    assert validate_model(folder).ok
    assert load_model(folder).config.extra["head_config"]["classes"] == [3, 7, 9]
    # Read through model2vec's files alone, the head is the same.
    (folder / "classifier.json").unlink()
    (folder / "classifier.safetensors").unlink()
    again = load_classifier_head(folder)
    assert (again.task, again.classes) == (head.task, head.classes)
    for mine, back in zip(head.weights + head.biases, again.weights + again.biases, strict=True):
        np.testing.assert_array_equal(mine, back)


def test_a_threshold_model2vec_cannot_store(tmp_path: Path) -> None:
    """Ours only, with a warning: model2vec's predict would cut at 0.5."""
    stale_config = {"n_layers": 9, "activation": "softmax", "classes": ["z"]}
    stale = tiny_model(dim=DIM, config=ModelConfig(extra={"head_config": stale_config}))
    with pytest.warns(
        UserWarning, match=r"without model2vec's head\.safetensors.*threshold is 0\.3"
    ):
        folder = save_classifier(tmp_path / "ml", stale, _head("multi-label", threshold=0.3))
    assert not (folder / "head.safetensors").exists()
    assert "head_config" not in json.loads((folder / "config.json").read_text())
    assert load_classifier_head(folder).threshold == 0.3


def test_a_global_scale_without_normalization(tmp_path: Path) -> None:
    """model2vec ignores embeddings_scale; unnormalized features would differ: ours only."""
    model = tiny_model(dim=DIM, dtype=np.int8, scale=0.01, normalize=False, weights=True)
    with pytest.warns(UserWarning, match="model2vec ignores the scale"):
        folder = save_classifier(tmp_path / "q", model, _head())
    assert not (folder / "head.safetensors").exists()
    normalized = tiny_model(dim=DIM, dtype=np.int8, scale=0.01, normalize=True, weights=True)
    folder = save_classifier(tmp_path / "qn", normalized, _head())
    assert (folder / "head.safetensors").exists()
