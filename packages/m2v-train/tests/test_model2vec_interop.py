"""Trained classifiers cross over between m2v-train and model2vec 0.10.0, both ways.

model2vec's trainer (one epoch on 400 real reviews, ``to_pipeline().save_pretrained``) writes
a folder that ``m2v_infer.StaticClassifier`` runs (rules M1-M4 of spec/classifier.md).  Both
ways m2v-train saves a classifier go through ``m2v_format.save_classifier``, which adds
model2vec's ``head.safetensors`` and ``head_config`` (M6): ``m2v train classify``
(single-label here) and the Python API's ``save_pretrained`` (multi-label here); model2vec's
``StaticModelPipeline`` loads both.  Outputs are compared on real texts the heads never saw.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format.cli import main
from m2v_infer import StaticClassifier
from m2v_testkit import bbc_news, needs_testdata, require_testdata, rotten_tomatoes_reviews
from m2v_train import StaticModelForClassification

pytest.importorskip("model2vec")
from model2vec.inference import StaticModelPipeline

pytestmark = pytest.mark.peer

ATOL = 1e-5


@pytest.fixture(scope="module")
def potion_path() -> Path:
    """The real potion-base-8M folder (256 dimensions)."""
    return require_testdata("potion-base-8M")


@pytest.fixture(scope="module")
def reviews() -> tuple[list[str], list[str]]:
    """The Rotten Tomatoes reviews and their fresh/rotten labels."""
    with needs_testdata():
        return rotten_tomatoes_reviews()


def test_a_pipeline_model2vec_trained_runs_in_m2v(
    potion_path: Path, reviews: tuple[list[str], list[str]], tmp_path: Path
) -> None:
    from model2vec.train import StaticModelForClassification as Model2VecClassifier

    texts, labels = reviews
    trained = Model2VecClassifier.from_pretrained(path=str(potion_path))
    trained.fit(texts[::20][:400], labels[::20][:400], max_epochs=1, batch_size=64)
    folder = tmp_path / "model2vec-rt"
    trained.to_pipeline().save_pretrained(str(folder))
    held_out = texts[1::23][:300]
    theirs = StaticModelPipeline.from_pretrained(str(folder))
    ours = StaticClassifier.from_pretrained(folder)
    assert ours.classes == ("fresh", "rotten")
    assert len(ours.head.weights) == 2  # model2vec's default head: one hidden layer
    proba = ours.predict_proba(held_out)
    np.testing.assert_allclose(proba, theirs.predict_proba(held_out), atol=ATOL, rtol=0)
    predicted = ours.predict(held_out)
    assert predicted.tolist() == theirs.predict(held_out).tolist()
    assert set(predicted.tolist()) == {"fresh", "rotten"}


def test_cli_classifier_loads_in_model2vec(
    potion_path: Path, reviews: tuple[list[str], list[str]], tmp_path: Path
) -> None:
    texts, labels = reviews
    data = tmp_path / "train.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts[::25][:300], labels[::25][:300], strict=True))
    out = tmp_path / "rt"
    argv = [
        "train", "classify", "--data", str(data), "--model", str(potion_path),
        "--output", str(out), "--max-epochs", "2", "--hidden-dim", "64", "--quiet",
        "--device", "cpu",
    ]  # fmt: skip
    assert main(argv) == 0
    held_out = texts[3::41][:300]
    ours = StaticClassifier.from_pretrained(out)
    theirs = StaticModelPipeline.from_pretrained(str(out))
    assert list(theirs.classes_) == ["fresh", "rotten"]
    proba = ours.predict_proba(held_out)
    np.testing.assert_allclose(theirs.predict_proba(held_out), proba, atol=ATOL, rtol=0)
    predicted = ours.predict(held_out)
    assert theirs.predict(held_out).tolist() == predicted.tolist()
    assert set(predicted.tolist()) == {"fresh", "rotten"}


def test_multilabel_save_pretrained_loads_in_model2vec(potion_path: Path, tmp_path: Path) -> None:
    with needs_testdata():
        articles, topics = bbc_news()
    texts = articles[::14][:160]
    # A second, overlapping label: long articles (real multi-label data from real texts).
    labels: list[list[Any]] = [
        [topic, *(["long"] if len(text) > 2500 else [])]
        for text, topic in zip(texts, topics[::14][:160], strict=True)
    ]
    clf = StaticModelForClassification.from_pretrained(potion_path, hidden_dim=64)
    clf.fit(texts, labels, max_epochs=2, device="cpu", show_progress=False, seed=0)
    assert clf.multilabel
    folder = clf.save_pretrained(tmp_path / "bbc")
    held_out = articles[4::23][:100]
    theirs = StaticModelPipeline.from_pretrained(str(folder))
    assert list(theirs.classes_) == list(clf.classes)
    proba = clf.predict_proba(held_out)
    np.testing.assert_allclose(theirs.predict_proba(held_out), proba, atol=ATOL, rtol=0)
    predicted = clf.predict(held_out)
    assert [list(row) for row in theirs.predict(held_out)] == [list(row) for row in predicted]
    assert any(predicted)
