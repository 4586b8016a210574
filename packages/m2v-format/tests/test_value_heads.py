"""Value heads (spec/classifier.md 1.1, rules R1-R7 and the identity head of M2/M6):
writing, reading back, and the refusal of malformed folders with the rule broken."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import ClassifierError, ClassifierHead, load_classifier_head, save_classifier
from m2v_testkit import synthetic_model

DIM = 16


def _head(task: Any = "regression", widths: tuple[int, ...] = (DIM, 8, 2), **kw: Any) -> Any:
    rng = np.random.default_rng(0)
    weights = tuple(
        rng.normal(size=(widths[i + 1], widths[i])).astype(np.float32)
        for i in range(len(widths) - 1)
    )
    biases = tuple(np.asarray(rng.normal(size=w.shape[0]), np.float32) for w in weights)
    return ClassifierHead(task=task, classes=(), weights=weights, biases=biases, **kw)


def _folder(tmp_path: Path, head: ClassifierHead, name: str = "f") -> Path:
    return save_classifier(tmp_path / name, synthetic_model(dim=DIM), head)


def _edit(folder: Path, **changes: Any) -> Path:
    path = folder / "classifier.json"
    document = json.loads(path.read_text())
    for key, value in changes.items():
        if value is ...:
            document.pop(key, None)
        else:
            document[key] = value
    path.write_text(json.dumps(document))
    return folder


def test_regression_head_round_trip_and_model2vec_config(tmp_path: Path) -> None:
    head = _head(outputs=("valence", "arousal"))
    folder = _folder(tmp_path, head)
    document = json.loads((folder / "classifier.json").read_text())
    assert document["classifier_version"] == "1.1"
    assert document["task"] == "regression"
    assert document["outputs"] == ["valence", "arousal"]
    assert "classes" not in document
    assert "threshold" not in document
    config = json.loads((folder / "config.json").read_text())
    assert config["head_config"] == {"n_layers": 2, "activation": "identity", "classes": None}
    read = load_classifier_head(folder)
    assert (read.task, read.outputs, read.output_dim, read.classes) == (
        "regression",
        ("valence", "arousal"),
        2,
        (),
    )
    features = np.random.default_rng(1).normal(size=(5, DIM)).astype(np.float32)
    np.testing.assert_array_equal(read.logits(features), head.logits(features))
    with pytest.raises(ValueError, match="no class probabilities"):
        read.probabilities(features)


def test_embedding_head_without_layers(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ClassifierHead(task="embedding", classes=(), weights=(), biases=()))
    read = load_classifier_head(folder)
    assert (read.task, len(read.weights), read.output_dim, read.input_dim) == (
        "embedding",
        0,
        None,
        0,
    )
    features = np.ones((2, DIM), np.float32)
    out = read.logits(features)
    np.testing.assert_array_equal(out, features)
    assert out is not features
    head_config = json.loads((folder / "config.json").read_text())["head_config"]
    assert head_config == {"n_layers": 0, "activation": "identity", "classes": None}


def test_a_classifier_is_still_written_as_1_0(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    head = ClassifierHead(
        task="single-label",
        classes=("a", "b"),
        weights=(rng.normal(size=(2, DIM)).astype(np.float32),),
        biases=(np.zeros(2, np.float32),),
    )
    folder = _folder(tmp_path, head)
    assert json.loads((folder / "classifier.json").read_text())["classifier_version"] == "1.0"


@pytest.mark.parametrize(
    ("rule", "changes"),
    [
        ("R7", {"classifier_version": "1.0"}),
        ("R1", {"task": "ranking"}),
        ("R2", {"classes": ["a", "b"]}),
        ("R2", {"classes": []}),
        ("R3", {"outputs": ["a"]}),  # two outputs, one name
        ("R3", {"outputs": ["a", "a"]}),
        ("R3", {"outputs": ["a", ""]}),
        ("R3", {"outputs": "ab"}),
        ("R3", {"task": "embedding"}),  # embedding heads carry no output names
        ("R4", {"layers": 17}),
        ("R4", {"layers": -1}),
        ("R4", {"layers": True}),
        ("H4", {"hidden_activation": "gelu"}),
        ("H7", {"layers": 3}),  # a third layer's tensors are missing
    ],
)
def test_malformed_value_heads(tmp_path: Path, rule: str, changes: dict[str, Any]) -> None:
    folder = _edit(_folder(tmp_path, _head(outputs=("a", "b"))), **changes)
    with pytest.raises(ClassifierError) as raised:
        load_classifier_head(folder)
    assert raised.value.rule == rule
    assert raised.value.code == "invalid-classifier"


def test_bad_output_width_without_names_is_allowed_but_checked_with_them(tmp_path: Path) -> None:
    folder = _edit(_folder(tmp_path, _head(outputs=("a", "b"))), outputs=...)
    assert load_classifier_head(folder).outputs is None
    folder = _edit(folder, outputs=["a", "b", "c"])
    with pytest.raises(ClassifierError, match="3 output names"):
        load_classifier_head(folder)


def test_model2vec_identity_head_reads_as_regression(tmp_path: Path) -> None:
    folder = _folder(tmp_path, _head(task="embedding", widths=(DIM, 4)))
    for name in ("classifier.json", "classifier.safetensors"):
        (folder / name).unlink()
    read = load_classifier_head(folder)  # model2vec's head.safetensors + head_config (M2)
    assert (read.task, read.output_dim, read.outputs) == ("regression", 4, None)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    config["head_config"]["n_layers"] = 2  # head.1.* is not in head.safetensors
    config_path.write_text(json.dumps(config))
    with pytest.raises(ClassifierError) as raised:
        load_classifier_head(folder)
    assert raised.value.rule == "H7"
