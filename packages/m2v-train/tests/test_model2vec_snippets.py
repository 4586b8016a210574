"""model2vec 0.10.0's README and training-docs snippets, run with only the import changed.

Each ``snippet_*`` function below is the call sequence of one snippet of model2vec's
documentation (the project README shipped as the wheel's description, and
``model2vec/train/README.md`` / ``model2vec/inference/README.md`` in the wheel), written
once and run twice: with ``model2vec.train.StaticModelForClassification`` and with
``m2v_train.StaticModelForClassification``.  What differs from the docs is the data (small
real sets instead of ``load_dataset``: Rotten Tomatoes reviews, BBC News), the base model
(the local potion-base-8M instead of the hub's potion-base-32M) and a short training
(``max_epochs``/``batch_size``) so that the whole module takes seconds.  The assertions:
every call works, and returns what model2vec's returns on the same data (same types,
shapes, dtypes, report keys).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_testkit import bbc_news, needs_testdata, require_testdata, rotten_tomatoes_reviews

model2vec_train = pytest.importorskip("model2vec.train")
pytestmark = pytest.mark.peer

SHORT = {"max_epochs": 2, "batch_size": 32}
"""Added to every ``fit`` call of the snippets: a short run on a small set."""


@pytest.fixture(scope="module")
def potion() -> str:
    return str(require_testdata("potion-base-8M"))


def _split(texts: list[str], labels: list[Any], per_class: int) -> tuple[dict[str, Any], ...]:
    """``ds["train"]`` / ``ds["test"]``-like dicts: ``per_class`` texts of each class for
    training, a quarter as many for testing."""
    by_class: dict[Any, list[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        by_class.setdefault(label, []).append(text)
    train: dict[str, list[Any]] = {"text": [], "label": []}
    test: dict[str, list[Any]] = {"text": [], "label": []}
    for label, members in sorted(by_class.items()):
        chosen = members[: per_class + per_class // 4]
        for part, rows in ((train, chosen[:per_class]), (test, chosen[per_class:])):
            part["text"] += rows
            part["label"] += [label] * len(rows)
    return train, test


@pytest.fixture(scope="module")
def rotten_tomatoes() -> tuple[dict[str, Any], dict[str, Any]]:
    with needs_testdata():
        texts, labels = rotten_tomatoes_reviews()
    return _split(texts, labels, 120)


@pytest.fixture(scope="module")
def bbc_multilabel() -> tuple[dict[str, Any], dict[str, Any]]:
    """BBC News with a list of labels per article: its section, plus ``hard-news`` for
    business and politics articles and ``leisure`` for entertainment and sport."""
    with needs_testdata():
        texts, sections = bbc_news()
    extra = {"business": "hard-news", "politics": "hard-news"}
    extra |= {"entertainment": "leisure", "sport": "leisure"}
    train, test = _split(texts, sections, 40)
    for part in (train, test):
        part["labels"] = [[s, extra[s]] if s in extra else [s] for s in part.pop("label")]
    return train, test


def _implementations() -> list[Any]:
    from m2v_train import StaticModelForClassification

    return [model2vec_train.StaticModelForClassification, StaticModelForClassification]


# ---------------------------------------------------------------- the snippets


def snippet_readme(
    StaticModelForClassification: Any,  # noqa: N803 - the snippet's name for the class
    path: str,
    ds: dict[str, dict[str, Any]],
) -> Any:
    """model2vec's README, "fine-tune a model"."""
    # Initialize a classifier from a pre-trained model
    classifier = StaticModelForClassification.from_pretrained(path=path)
    # Train the classifier on text (X) and labels (y)
    classifier.fit(ds["train"]["text"], ds["train"]["label"], **SHORT)
    # Evaluate the classifier
    classification_report = classifier.evaluate(ds["test"]["text"], ds["test"]["label"])
    return classification_report


def snippet_quickstart(
    StaticModelForClassification: Any,  # noqa: N803
    distilled_model: Any,
    train: dict[str, Any],
    test: dict[str, Any],
) -> dict[str, Any]:
    """Training docs, "Quickstart": from a (distilled) StaticModel, fit, evaluate, predict."""
    classifier = StaticModelForClassification.from_static_model(model=distilled_model)
    classifier = classifier.fit(train["text"], train["label"], **SHORT)
    classification_report = classifier.evaluate(test["text"], test["label"])
    return {
        "classifier": classifier,
        "report": classification_report,
        "predict": classifier.predict(test["text"]),
        "predict_proba": classifier.predict_proba(test["text"]),
        "classes": classifier.classes,
    }


def snippet_multilabel(
    StaticModelForClassification: Any,  # noqa: N803
    path: str,
    ds: dict[str, dict[str, Any]],
) -> Any:
    """Training docs, "Multi-label classification"."""
    classifier = StaticModelForClassification.from_pretrained(path=path)
    classifier.fit(ds["train"]["text"], ds["train"]["labels"], **SHORT)
    classification_report = classifier.evaluate(
        ds["test"]["text"], ds["test"]["labels"], threshold=0.3
    )
    return classification_report


def snippet_options(classifier: Any, X: list[str], y: list[str]) -> list[Any]:  # noqa: N803
    """Training docs, "Imbalanced data" and "Token dropout": the fit options."""
    positive, negative = sorted(set(y))
    return [
        classifier.fit(X, y, class_weight="balanced", max_epochs=1),
        classifier.fit(X, y, class_weight={positive: 3.0, negative: 1.0}, max_epochs=1),
        classifier.fit(X, y, focal_gamma=2.0, max_epochs=1),
        classifier.fit(X, y, token_dropout=0.1, max_epochs=1),
    ]


def snippet_pipeline(classifier: Any, path: Path, test: dict[str, Any]) -> dict[str, Any]:
    """Training docs, "Using a trained model", and the inference docs' "Usage"."""
    pipeline = classifier.to_pipeline()
    pipeline.save_pretrained(str(path))
    return {
        "pipeline": pipeline,
        "predict": pipeline.predict(["This movie was great.", "The plot follows a detective."]),
        "one": pipeline.predict("This movie was great."),
        "predict_proba": pipeline.predict_proba(test["text"]),
        "evaluate": pipeline.evaluate(test["text"], test["label"]),
        "static_model": classifier.to_static_model(),
    }


# ---------------------------------------------------------------- side by side


def _same_report_layout(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert isinstance(ours, dict)
    assert set(theirs) <= set(ours)
    for key, value in theirs.items():
        if isinstance(value, dict):
            assert set(value) <= set(ours[key]), key
        else:
            assert isinstance(ours[key], float), key


def test_readme_snippet(potion: str, rotten_tomatoes: tuple[dict[str, Any], ...]) -> None:
    train, test = rotten_tomatoes
    theirs, ours = (
        snippet_readme(cls, potion, {"train": train, "test": test}) for cls in _implementations()
    )
    _same_report_layout(ours, theirs)
    assert set(ours) == set(theirs)  # single-label: exactly model2vec's keys
    assert ours["accuracy"] > 0.6  # 240 reviews, 2 epochs: above chance (about 0.75)
    assert abs(ours["accuracy"] - theirs["accuracy"]) < 0.2


def test_quickstart_snippet(
    potion: str, rotten_tomatoes: tuple[dict[str, Any], ...], tmp_path: Path
) -> None:
    from model2vec import StaticModel as Model2VecStaticModel

    train, test = rotten_tomatoes
    distilled = Model2VecStaticModel.from_pretrained(potion)  # stands in for distill(...)
    theirs, ours = (snippet_quickstart(cls, distilled, train, test) for cls in _implementations())
    _same_report_layout(ours["report"], theirs["report"])
    for key in ("predict", "predict_proba"):
        assert isinstance(ours[key], np.ndarray), key
        assert ours[key].shape == theirs[key].shape, key
        assert ours[key].dtype == theirs[key].dtype, key
    assert list(ours["classes"]) == list(theirs["classes"]) == ["fresh", "rotten"]
    assert set(ours["predict"].tolist()) <= {"fresh", "rotten"}
    np.testing.assert_allclose(ours["predict_proba"].sum(axis=1), 1.0, rtol=1e-5)

    # "Using a trained model": to_pipeline, save_pretrained, predict, evaluate, to_static_model
    pipelines = [
        snippet_pipeline(run["classifier"], tmp_path / name, test)
        for name, run in (("theirs", theirs), ("ours", ours))
    ]
    theirs_pipe, ours_pipe = pipelines
    for key in ("predict", "one", "predict_proba"):
        assert ours_pipe[key].shape == theirs_pipe[key].shape, key
        assert ours_pipe[key].dtype == theirs_pipe[key].dtype, key
    _same_report_layout(ours_pipe["evaluate"], theirs_pipe["evaluate"])
    assert set(ours_pipe["evaluate"]) == set(theirs_pipe["evaluate"])
    # the pipeline is the classifier without torch, and its saved folder is the same again
    np.testing.assert_allclose(ours_pipe["predict_proba"], ours["predict_proba"], atol=1e-5)
    from m2v_infer import StaticClassifier  # model2vec: StaticModelPipeline.from_pretrained

    reloaded = StaticClassifier.from_pretrained(tmp_path / "ours")
    np.testing.assert_array_equal(reloaded.predict(test["text"]), ours["predict"])
    embedded = [pipe["static_model"].encode(test["text"][:5]) for pipe in pipelines]
    assert embedded[1].shape == embedded[0].shape
    assert embedded[1].dtype == embedded[0].dtype


def test_multilabel_snippet(potion: str, bbc_multilabel: tuple[dict[str, Any], ...]) -> None:
    train, test = bbc_multilabel
    ds = {"train": train, "test": test}
    theirs, ours = (snippet_multilabel(cls, potion, ds) for cls in _implementations())
    _same_report_layout(ours, theirs)
    assert 0.0 <= ours["accuracy"] <= 1.0


def test_fit_option_snippets(potion: str, rotten_tomatoes: tuple[dict[str, Any], ...]) -> None:
    train, _ = rotten_tomatoes
    X, y = train["text"][::4], train["label"][::4]  # noqa: N806
    for cls in _implementations():
        classifier = cls.from_pretrained(path=potion)
        fitted = snippet_options(classifier, X, y)
        assert all(result is classifier for result in fitted)  # fit returns the classifier
        assert classifier.predict(X[:3]).shape == (3,)


def test_integer_labels_and_classes(
    potion: str, rotten_tomatoes: tuple[dict[str, Any], ...]
) -> None:
    """Integer labels and the ``classes`` after fit, as the training docs describe."""
    train, _ = rotten_tomatoes
    texts = train["text"][:60] + train["text"][-60:]  # fresh, then rotten
    labels = [0] * 60 + [1] * 60
    results = []
    for cls in _implementations():
        classifier = cls.from_pretrained(path=potion).fit(texts, labels, max_epochs=1)
        results.append((list(classifier.classes), classifier.predict(texts[:4])))
    (their_classes, their_predict), (our_classes, our_predict) = results
    assert our_classes == their_classes == [0, 1]
    assert our_predict.dtype == their_predict.dtype
