"""Classifier folders cross over between m2v and model2vec 0.10.0, both ways, without pickle.

model2vec's own code writes the pipelines here (``StaticModelPipeline.save_pretrained`` of
heads built with its ``MLPHead`` API over potion-base-8M: single-label and multi-label), and
its ``StaticModelPipeline.from_pretrained`` reads what m2v writes; outputs are compared on
real texts (rules M1-M6 of spec/classifier.md).  No torch is needed: a pipeline that model2vec
trained is compared in m2v-train's ``test_model2vec_interop.py``.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import ClassifierHead, LegacyPipelineError, load_model, save_classifier
from m2v_infer import StaticClassifier
from m2v_testkit import bbc_news, bbc_sentences, needs_testdata, rotten_tomatoes_reviews

pytest.importorskip("model2vec")
from model2vec.inference import StaticModelPipeline
from model2vec.inference.mlp import Activation, Layer, MLPHead

pytestmark = pytest.mark.peer

ATOL = 1e-5


@pytest.fixture(scope="module")
def held_out() -> list[str]:
    """300 real texts no head here was trained on: reviews and BBC News sentences."""
    with needs_testdata():
        reviews = rotten_tomatoes_reviews()[0][1::23][:200]
        sentences = bbc_sentences()[::97][:100]
    return reviews + sentences


def _pipeline(
    model: Any, folder: Path, activation: Activation, classes: list[str], hidden: int, seed: int
) -> Path:
    """``StaticModelPipeline(model, MLPHead(...)).save_pretrained(folder)``: random ReLU
    layers 256 -> hidden -> classes."""
    rng = np.random.default_rng(seed)
    layers = [
        Layer(
            weight=rng.normal(size=(hidden, 256)).astype(np.float32),
            bias=rng.normal(size=hidden).astype(np.float32),
        ),
        Layer(
            weight=rng.normal(size=(len(classes), hidden)).astype(np.float32) * 0.3,
            bias=np.zeros(len(classes), np.float32),
        ),
    ]
    head = MLPHead(layers=layers, activation=activation, classes=np.asarray(classes))
    StaticModelPipeline(model, head).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def single_label_pipeline(model2vec_potion: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh/rotten softmax pipeline (one hidden layer of 64), saved by model2vec."""
    folder = tmp_path_factory.mktemp("model2vec") / "rt-pipeline"
    return _pipeline(model2vec_potion, folder, Activation.SOFTMAX, ["fresh", "rotten"], 64, 5)


@pytest.fixture(scope="module")
def multilabel_pipeline(model2vec_potion: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A multi-label sigmoid pipeline over the BBC News classes, saved by model2vec."""
    with needs_testdata():
        classes = sorted(set(bbc_news()[1]))
    folder = tmp_path_factory.mktemp("model2vec") / "bbc-multilabel"
    return _pipeline(model2vec_potion, folder, Activation.SIGMOID, classes, 16, 7)


def _same_single_label(ours: Any, theirs: Any, texts: list[str]) -> np.ndarray:
    proba = ours.predict_proba(texts)
    np.testing.assert_allclose(proba, theirs.predict_proba(texts), atol=ATOL, rtol=0)
    predicted = ours.predict(texts)
    assert predicted.tolist() == theirs.predict(texts).tolist()
    return np.asarray(predicted)


def _same_multi_label(ours: Any, theirs: Any, texts: list[str]) -> list[list[Any]]:
    np.testing.assert_allclose(
        ours.predict_proba(texts), theirs.predict_proba(texts), atol=ATOL, rtol=0
    )
    predicted = ours.predict(texts)
    assert predicted == [list(row) for row in theirs.predict(texts)]
    return list(predicted)


def test_model2vec_pipeline_runs_in_m2v(single_label_pipeline: Path, held_out: list[str]) -> None:
    ours = StaticClassifier.from_pretrained(single_label_pipeline)
    theirs = StaticModelPipeline.from_pretrained(str(single_label_pipeline))
    assert ours.classes == ("fresh", "rotten")
    assert not ours.multilabel
    assert len(ours.head.weights) == 2
    predicted = _same_single_label(ours, theirs, held_out)
    assert set(predicted.tolist()) == {"fresh", "rotten"}  # a real decision, not a constant


def test_model2vec_multilabel_pipeline_runs_in_m2v(
    multilabel_pipeline: Path, held_out: list[str]
) -> None:
    ours = StaticClassifier.from_pretrained(multilabel_pipeline)
    theirs = StaticModelPipeline.from_pretrained(str(multilabel_pipeline))
    assert ours.multilabel
    assert ours.threshold == 0.5
    predicted = _same_multi_label(ours, theirs, held_out)
    sizes = {len(labels) for labels in predicted}
    assert len(sizes) > 1  # some texts get more labels than others


@pytest.mark.parametrize("fixture", ["single_label_pipeline", "multilabel_pipeline"])
def test_m2v_rewrites_a_pipeline_model2vec_still_loads(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path, held_out: list[str]
) -> None:
    """model2vec folder -> StaticClassifier.save_pretrained -> model2vec and m2v agree."""
    source = StaticClassifier.from_pretrained(request.getfixturevalue(fixture))
    folder = source.save_pretrained(tmp_path / "m2v-copy")
    names = {path.name for path in folder.iterdir()}
    assert {"classifier.json", "classifier.safetensors", "head.safetensors"} <= names
    assert not [n for n in names if n.endswith((".pkl", ".pickle", ".joblib", ".skops"))]
    theirs = StaticModelPipeline.from_pretrained(str(folder))
    ours = StaticClassifier.from_pretrained(folder)
    if ours.multilabel:
        _same_multi_label(ours, theirs, held_out)
    else:
        _same_single_label(ours, theirs, held_out)
    np.testing.assert_array_equal(ours.predict_proba(held_out), source.predict_proba(held_out))


def test_a_head_written_by_m2v_loads_in_model2vec(
    potion_path: Path, tmp_path: Path, held_out: list[str]
) -> None:
    """save_classifier with integer classes and three layers: model2vec predicts the ints."""
    rng = np.random.default_rng(11)
    sizes = [256, 32, 16, 4]
    head = ClassifierHead(
        task="single-label",
        classes=(10, 20, 30, 40),
        weights=tuple(
            rng.normal(size=(out, fan_in)).astype(np.float32)
            for fan_in, out in itertools.pairwise(sizes)
        ),
        biases=tuple(rng.normal(size=out).astype(np.float32) for out in sizes[1:]),
    )
    folder = save_classifier(tmp_path / "ints", load_model(potion_path), head)
    config = json.loads((folder / "config.json").read_text())
    assert config["head_config"] == {
        "n_layers": 3,
        "activation": "softmax",
        "classes": [10, 20, 30, 40],
    }
    ours = StaticClassifier.from_pretrained(folder)
    theirs = StaticModelPipeline.from_pretrained(str(folder))
    predicted = _same_single_label(ours, theirs, held_out)
    assert len(set(predicted.tolist())) > 1


def test_a_threshold_model2vec_cannot_hold_is_written_for_m2v_only(
    multilabel_pipeline: Path, tmp_path: Path
) -> None:
    source = StaticClassifier.from_pretrained(multilabel_pipeline)
    head = ClassifierHead(
        task="multi-label",
        classes=source.classes,
        weights=source.head.weights,
        biases=source.head.biases,
        threshold=0.3,
    )
    with pytest.warns(UserWarning, match="threshold is 0.3"):
        folder = StaticClassifier(source.model, head).save_pretrained(tmp_path / "t03")
    assert not (folder / "head.safetensors").exists()
    assert StaticClassifier.from_pretrained(folder).threshold == 0.3
    with pytest.raises(FileNotFoundError, match="Head file does not exist"):
        StaticModelPipeline.from_pretrained(str(folder))


def test_a_legacy_pipeline_is_refused(single_label_pipeline: Path, tmp_path: Path) -> None:
    folder = tmp_path / "legacy"
    shutil.copytree(single_label_pipeline, folder)
    (folder / "head.safetensors").unlink()
    (folder / "pipeline.skops").write_bytes(b"PK\x03\x04 never opened")
    with pytest.raises(LegacyPipelineError, match="convert_legacy_pipeline") as raised:
        StaticClassifier.from_pretrained(folder)
    assert raised.value.code == "legacy-pipeline"
