"""StaticModelForClassification: fit / predict / evaluate / export on tiny synthetic data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import OutputExistsError, save_model
from m2v_infer import StaticClassifier, StaticModel
from m2v_testkit import sentiment_texts, synthetic_model, topic_texts
from m2v_train import (
    InvalidLabelsError,
    InvalidParameterError,
    NotFittedError,
    StaticModelForClassification,
)

FAST = {"max_epochs": 8, "show_progress": False, "device": "cpu", "learning_rate": 1e-2}


def test_single_label_learns_and_exports(
    tiny_model_dir: Path, sentiment_data: tuple[list[str], list[str]], tmp_path: Path
) -> None:
    texts, labels = sentiment_data
    clf = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=32)
    clf.fit(texts, labels, **FAST)
    assert clf.classes == ("neg", "pos")
    assert not clf.multilabel
    test_texts, test_labels = sentiment_texts(100, seed=5)
    predicted = clf.predict(test_texts)
    assert np.mean(predicted == np.asarray(test_labels)) > 0.95
    proba = clf.predict_proba(test_texts)
    assert proba.shape == (100, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    report = clf.evaluate(test_texts, test_labels)
    assert isinstance(report, dict)
    assert report["accuracy"] > 0.95
    assert "precision" in str(clf.evaluate(test_texts, test_labels, output_dict=False))
    assert clf.history
    assert any(record.best for record in clf.history)

    folder = clf.save_pretrained(tmp_path / "exported")
    runtime = StaticClassifier.from_pretrained(folder)
    assert runtime.classes == ("neg", "pos")
    np.testing.assert_array_equal(runtime.predict(test_texts), predicted)
    np.testing.assert_allclose(runtime.predict_proba(test_texts), proba, atol=1e-5)
    # The folder is also a plain embedding model: the head's input.
    embedder = StaticModel.from_pretrained(folder)
    np.testing.assert_allclose(
        embedder.encode(test_texts[:5]), clf.to_static_model().encode(test_texts[:5]), atol=1e-6
    )
    assert not any(p.suffix in {".pkl", ".pickle", ".joblib", ".skops"} for p in folder.iterdir())
    with pytest.raises(OutputExistsError):
        clf.save_pretrained(folder)
    clf.save_pretrained(folder, overwrite=True)


def test_multilabel(tiny_model_dir: Path, tmp_path: Path) -> None:
    texts, labels = topic_texts(400, seed=1)
    clf = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=32)
    clf.fit(texts, labels, **FAST)
    assert clf.multilabel
    test_texts, test_labels = topic_texts(100, seed=9)
    predicted = clf.predict(test_texts)
    exact = np.mean([sorted(p) == sorted(t) for p, t in zip(predicted, test_labels, strict=True)])
    assert exact > 0.8
    report = clf.evaluate(test_texts, test_labels)
    assert isinstance(report, dict)
    assert "micro avg" in report
    runtime = StaticClassifier.from_pretrained(clf.save_pretrained(tmp_path / "ml"))
    assert runtime.multilabel
    assert runtime.predict(test_texts) == predicted


def test_seed_makes_training_reproducible(
    tiny_model_dir: Path, sentiment_data: tuple[list[str], list[str]]
) -> None:
    texts, labels = sentiment_data
    runs = []
    for _ in range(2):
        clf = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=16)
        clf.fit(texts, labels, seed=7, max_epochs=2, show_progress=False, device="cpu")
        runs.append(clf.predict_proba(texts[:20]))
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("schedule", ["plateau", "cosine", "constant"])
def test_schedules_class_weights_and_validation_set(
    tiny_model_dir: Path, sentiment_data: tuple[list[str], list[str]], schedule: str
) -> None:
    texts, labels = sentiment_data
    clf = StaticModelForClassification.from_pretrained(
        StaticModel.from_pretrained(tiny_model_dir), n_layers=0, train_embeddings=False
    )
    clf.fit(
        texts[:200],
        labels[:200],
        X_val=texts[200:],
        y_val=labels[200:],
        lr_schedule=schedule,
        class_weight="balanced",
        early_stopping_patience=None,
        max_epochs=3,
        batch_size=32,
        show_progress=False,
        device="cpu",
    )
    assert len(clf.history) == 3
    if schedule == "cosine":
        assert clf.history[-1].learning_rate < clf.history[0].learning_rate


def test_early_stopping_stops(
    tiny_model_dir: Path, sentiment_data: tuple[list[str], list[str]]
) -> None:
    texts, labels = sentiment_data
    clf = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=16)
    clf.fit(
        texts,
        labels,
        early_stopping_patience=1,
        max_epochs=40,
        **{k: v for k, v in FAST.items() if k != "max_epochs"},
    )
    assert len(clf.history) < 40


def test_errors(tiny_model_dir: Path, sentiment_data: tuple[list[str], list[str]]) -> None:
    texts, labels = sentiment_data
    clf = StaticModelForClassification.from_pretrained(tiny_model_dir)
    with pytest.raises(NotFittedError):
        clf.predict(["good"])
    with pytest.raises(InvalidLabelsError):
        clf.fit(texts[:4], ["a", ["b"], "a", "b"], show_progress=False)
    with pytest.raises(InvalidLabelsError):
        clf.fit(texts[:4], ["a", "a", "a", "a"], show_progress=False)
    with pytest.raises(InvalidParameterError):
        clf.fit(texts[:4], labels[:3], show_progress=False)
    with pytest.raises(InvalidParameterError):
        clf.fit("one text", ["a"], show_progress=False)
    with pytest.raises(InvalidLabelsError):
        clf.fit(texts, labels, X_val=texts[:2], y_val=["pos", "other"], show_progress=False)
    with pytest.raises(InvalidParameterError):
        clf.fit(texts, labels, lr_schedule="linear", show_progress=False)
    with pytest.raises(InvalidLabelsError):
        clf.fit(texts, labels, class_weight={"pos": 1.0}, show_progress=False)
    with pytest.raises(InvalidParameterError):
        StaticModelForClassification.from_pretrained(tiny_model_dir, n_layers=-1)


def test_integer_labels_and_quantized_base(
    tmp_path: Path, sentiment_data: tuple[list[str], list[str]]
) -> None:
    folder = save_model(tmp_path / "f16", synthetic_model(dtype="float16"))
    texts, labels = sentiment_data
    numbers = [1 if label == "pos" else 0 for label in labels]
    clf = StaticModelForClassification.from_pretrained(folder, hidden_dim=16)
    clf.fit(texts, numbers, **FAST)
    assert clf.classes == (0, 1)
    runtime = StaticClassifier.from_pretrained(clf.save_pretrained(tmp_path / "int-labels"))
    assert runtime.classes == (0, 1)
    assert set(runtime.predict(texts[:10]).tolist()) <= {0, 1}


def test_progress_shows_the_mean_loss_from_the_first_step(
    tiny_model_dir: Path,
    sentiment_data: tuple[list[str], list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The bar's loss is per text from step one (it once showed a whole batch's sum first)."""
    import re

    texts, labels = sentiment_data
    clf = StaticModelForClassification.from_pretrained(tiny_model_dir)
    clf.fit(texts, labels, seed=0, max_epochs=2, batch_size=32, device="cpu", show_progress=True)
    shown = [float(v) for v in re.findall(r"(?<![_a-z])loss=([0-9.]+)", capsys.readouterr().err)]
    assert shown, "no loss in the progress output"
    assert max(shown) < 2.0, shown  # cross-entropy of 2 classes starts near ln 2 = 0.69


@pytest.mark.parametrize(
    ("texts", "labels"),
    [
        (["good", "bad"], ["pos", "neg"]),  # the example: one text per class
        (["good film", "bad film", "great"], ["pos", "neg", "other"]),
        (["good film"], [["pos", "fun"]]),  # one multi-label text
    ],
)
def test_tiny_data_trains_without_validation(
    tiny_model_dir: Path, texts: list[str], labels: list[Any]
) -> None:
    """Too small to split (it crashed with torch.cat(): expected a non-empty list):
    training runs every epoch without validation and keeps the last one."""
    clf = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=8)
    clf.fit(texts, labels, max_epochs=4, show_progress=False, device="cpu")
    assert len(clf.history) == 4
    assert all(np.isnan(r.val_score) and np.isnan(r.val_loss) for r in clf.history)
    assert all(np.isfinite(r.train_loss) for r in clf.history)
    assert len(clf.predict(texts)) == len(texts)
    unbounded = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=8)
    unbounded.fit(texts, labels, max_epochs=-1, show_progress=False, device="cpu")
    assert len(unbounded.history) == 50  # no early stopping to end it: the default 50


def test_tiny_data_on_a_real_model() -> None:
    """The issue's call on potion-base-8M learns the two texts (no validation; 10 epochs
    instead of the default 50 to keep the test short)."""
    from m2v_testkit import require_testdata

    clf = StaticModelForClassification.from_pretrained(str(require_testdata("potion-base-8M")))
    clf.fit(["good", "bad"], ["pos", "neg"], max_epochs=10, show_progress=False, device="cpu")
    assert len(clf.history) == 10
    assert clf.predict(["good", "bad"]).tolist() == ["pos", "neg"]
