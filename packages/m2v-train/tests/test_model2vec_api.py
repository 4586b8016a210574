"""The classifier's API against model2vec 0.10.0's: names, positions, defaults, aliases.

Every parameter of model2vec's ``StaticModelForClassification`` methods (and of its
``StaticModelPipeline``, for ``to_pipeline()``'s ``m2v_infer.StaticClassifier``) exists in
ours at the same position with the same default, except the deliberate differences listed
here and in docs/train.md ("Porting from model2vec").
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_infer import StaticClassifier, StaticModel
from m2v_testkit import sentiment_texts, topic_texts
from m2v_train import InvalidParameterError, NotFittedError, StaticModelForClassification
from m2v_train._batches import drop_tokens, make_batch

model2vec_train = pytest.importorskip("model2vec.train")
model2vec_inference = pytest.importorskip("model2vec.inference")
pytestmark = pytest.mark.peer

QUICK = {"max_epochs": 2, "show_progress": False, "device": "cpu", "learning_rate": 1e-2}

# (class, method, parameter) -> (model2vec's default, ours): documented differences.
DEFAULTS_THAT_DIFFER: dict[tuple[str, str, str], tuple[Any, Any]] = {
    ("clf", "from_pretrained", "path"): ("minishlab/potion-base-32m", None),  # None: that id
    ("clf", "from_pretrained", "out_dim"): (2, None),  # ignored: fit sets the classes
    ("clf", "from_static_model", "out_dim"): (2, None),
    ("clf", "from_pretrained", "freeze"): (False, None),  # None: not given (train_embeddings)
    ("clf", "from_static_model", "freeze"): (False, None),
    ("clf", "fit", "max_epochs"): (-1, 50),  # ours stops at 50 epochs; -1 is accepted
    ("clf", "fit", "test_size"): (0.1, None),  # None: not given, 0.1 (validation_size)
    ("clf", "fit", "random_seed"): (42, None),  # None: not given, 42 (seed)
    ("pipeline", "predict", "threshold"): (0.5, None),  # None: the folder's own (0.5)
    ("pipeline", "evaluate", "threshold"): (0.5, None),
    # None: the measured break-even for this machine's cores
    ("pipeline", "predict", "multiprocessing_threshold"): (10_000, None),
    ("pipeline", "predict_proba", "multiprocessing_threshold"): (10_000, None),
}
RENAMED_FIRST = {"X": "texts"}  # the pipeline's texts argument


def _default(value: Any) -> str:
    """A default for comparison; model2vec's and m2v-infer's "not passed" sentinels match."""
    return "<unset>" if "unset" in type(value).__name__.lower() else repr(value)


def _compare(owner: str, name: str, theirs: Callable[..., Any], ours: Callable[..., Any]) -> None:
    their_params = list(inspect.signature(theirs).parameters.values())
    our_params = inspect.signature(ours).parameters
    our_order = list(our_params)
    for position, param in enumerate(their_params):
        if param.kind is param.VAR_KEYWORD or param.name in ("self", "cls"):
            continue
        our_name = param.name if param.name in our_params else RENAMED_FIRST.get(param.name)
        assert our_name in our_params, f"{name}: model2vec's {param.name!r} is missing"
        mine = our_params[our_name]
        assert mine.kind == param.kind, f"{name}({param.name}): {mine.kind} vs {param.kind}"
        if param.kind is param.POSITIONAL_OR_KEYWORD:
            assert our_order.index(our_name) == position, f"{name}({param.name}) position"
        expected = DEFAULTS_THAT_DIFFER.get((owner, name, param.name))
        if expected is None:
            assert _default(mine.default) == _default(param.default), f"{name}({param.name})"
        else:
            assert (param.default, mine.default) == expected, f"{name}({param.name}) default"


@pytest.mark.parametrize(
    "method",
    [
        "from_pretrained",
        "from_static_model",
        "fit",
        "predict",
        "predict_proba",
        "encode",
        "evaluate",
        "to_pipeline",
        "to_static_model",
    ],
)
def test_classifier_signatures_match_model2vec(method: str) -> None:
    theirs = getattr(model2vec_train.StaticModelForClassification, method)
    _compare("clf", method, theirs, getattr(StaticModelForClassification, method))


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "evaluate", "save_pretrained", "push_to_hub"]
)
def test_pipeline_signatures_match_model2vec(method: str) -> None:
    theirs = getattr(model2vec_inference.StaticModelPipeline, method)
    if method == "save_pretrained":  # ours adds overwrite=False (keyword-only)
        assert list(inspect.signature(theirs).parameters)[:2] == ["self", "path"]
        assert list(inspect.signature(StaticClassifier.save_pretrained).parameters)[:2] == [
            "self",
            "path",
        ]
        return
    _compare("pipeline", method, theirs, getattr(StaticClassifier, method))


# ---------------------------------------------------------------- aliases


def test_from_pretrained_model_name_and_flags(tiny_model_dir: Path) -> None:
    with pytest.warns(DeprecationWarning, match="model_name"):
        by_name = StaticModelForClassification.from_pretrained(model_name=str(tiny_model_dir))
    assert by_name.base_model.dim == 16
    with (
        pytest.warns(DeprecationWarning, match="model_name"),
        pytest.raises(InvalidParameterError, match="path"),
    ):
        StaticModelForClassification.from_pretrained(tiny_model_dir, model_name="elsewhere")
    frozen = StaticModelForClassification.from_pretrained(
        tiny_model_dir, freeze=True, freeze_weights=True, n_layers=0, hidden_dim=8, out_dim=5
    )
    assert (frozen.train_embeddings, frozen.train_weights, frozen.n_layers) == (False, False, 0)
    same = StaticModelForClassification.from_pretrained(
        tiny_model_dir, freeze=False, train_embeddings=True
    )
    assert same.train_embeddings
    with pytest.raises(InvalidParameterError, match="freeze=True and train_embeddings=True"):
        StaticModelForClassification.from_pretrained(
            tiny_model_dir, freeze=True, train_embeddings=True
        )
    with pytest.raises(InvalidParameterError, match="freeze_weights"):
        StaticModelForClassification.from_pretrained(
            tiny_model_dir, freeze_weights=False, train_weights=False
        )
    limited = StaticModelForClassification.from_pretrained(tiny_model_dir, max_length=3)
    assert limited.base_model.max_length == 3


def test_from_static_model_takes_ours_and_model2vecs(tiny_model_dir: Path) -> None:
    import model2vec

    ours = StaticModel.from_pretrained(tiny_model_dir)
    assert StaticModelForClassification.from_static_model(model=ours).base_model is ours
    theirs = model2vec.StaticModel.from_pretrained(str(tiny_model_dir))
    converted = StaticModelForClassification.from_static_model(model=theirs, max_length=7)
    texts = ["good great film", "awful bad plot", "nothing known here"]
    np.testing.assert_allclose(
        converted.base_model.encode(texts, max_length=None), ours.encode(texts), atol=1e-6
    )
    assert converted.base_model.max_length == 7
    with pytest.raises(InvalidParameterError, match="StaticModel"):
        StaticModelForClassification.from_static_model(model="not a model")


def test_fit_aliases(tiny_model_dir: Path) -> None:
    texts, labels = sentiment_texts(120, seed=2)
    runs = {}
    for name, options in {
        "ours": {"validation_size": 0.25, "seed": 3},
        "theirs": {"test_size": 0.25, "random_seed": 3},
        "both": {"validation_size": 0.25, "test_size": 0.25, "seed": 3, "random_seed": 3},
    }.items():
        clf = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=8)
        clf.fit(texts, labels, **options, **QUICK)
        runs[name] = clf.predict_proba(texts[:10])
    np.testing.assert_array_equal(runs["ours"], runs["theirs"])
    np.testing.assert_array_equal(runs["ours"], runs["both"])
    clf = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=8)
    with pytest.raises(InvalidParameterError, match=r"test_size=0\.2 and validation_size=0\.3"):
        clf.fit(texts, labels, test_size=0.2, validation_size=0.3, **QUICK)
    with pytest.raises(InvalidParameterError, match="random_seed=1 and seed=2"):
        clf.fit(texts, labels, random_seed=1, seed=2, **QUICK)
    with pytest.raises(InvalidParameterError, match="validation_steps"):
        clf.fit(texts, labels, validation_steps=10, **QUICK)
    with pytest.raises(InvalidParameterError, match="token_dropout"):
        clf.fit(texts, labels, token_dropout=1.0, **QUICK)
    with pytest.raises(InvalidParameterError, match="focal_gamma"):
        clf.fit(texts, labels, focal_gamma=-1.0, **QUICK)


def test_fit_positional_in_model2vecs_order(tiny_model_dir: Path) -> None:
    texts, labels = sentiment_texts(100, seed=4)
    clf = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=8)
    # X, y, learning_rate, batch_size, min_epochs, max_epochs, early_stopping_patience
    clf.fit(texts, labels, 1e-2, 16, 1, 3, None, show_progress=False, device="cpu")
    assert len(clf.history) == 3
    unbounded = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=8)
    unbounded.fit(texts, labels, max_epochs=-1, early_stopping_patience=1, **{
        k: v for k, v in QUICK.items() if k != "max_epochs"
    })  # fmt: skip
    assert 2 <= len(unbounded.history) < 100  # until early stopping
    for fitted in (clf, unbounded):
        assert fitted.classes_ == ["neg", "pos"]


def test_class_weight_tensor_focal_loss_and_token_dropout(tiny_model_dir: Path) -> None:
    import torch

    texts, labels = sentiment_texts(200, seed=6)
    test_texts, test_labels = sentiment_texts(60, seed=7)
    clf = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=16)
    clf.fit(texts, labels, class_weight=torch.tensor([1.0, 2.0]), focal_gamma=2.0, **QUICK)
    clf.fit(texts, labels, token_dropout=0.3, **QUICK)
    accuracy = np.mean(clf.predict(test_texts) == np.asarray(test_labels))
    assert accuracy > 0.75
    multi = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=16)
    topics, tags = topic_texts(200, seed=1)
    multi.fit(topics, tags, focal_gamma=1.0, **QUICK)
    assert multi.multilabel


def test_drop_tokens_keeps_a_token_per_text() -> None:
    import torch

    batch = make_batch([[1, 2, 3, 4], [], [5], [6, 7]])
    generator = torch.Generator().manual_seed(0)
    for rate in (0.0, 0.5, 0.99):
        dropped = drop_tokens(batch, rate, generator)
        assert dropped.lengths.tolist()[1] == 0
        assert all(n >= 1 for i, n in enumerate(dropped.lengths.tolist()) if i != 1)
        assert int(dropped.lengths.sum()) == len(dropped.ids)
        starts = dropped.offsets.tolist()
        for row, (start, count) in enumerate(zip(starts, dropped.lengths.tolist(), strict=True)):
            kept = dropped.ids[start : start + count].tolist()
            original = batch.ids[batch.offsets[row] : batch.offsets[row] + batch.lengths[row]]
            assert set(kept) <= set(original.tolist())
    assert drop_tokens(batch, 0.0, generator).ids.tolist() == batch.ids.tolist()


# ---------------------------------------------------------------- inference calls


def test_predict_encode_and_pipeline(tiny_model_dir: Path) -> None:
    texts, labels = sentiment_texts(150, seed=8)
    clf = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=8)
    # model2vec's encode returns its head's output, untrained before fit: ours has no head yet
    with pytest.raises(NotFittedError, match=r"base_model\.encode"):
        clf.encode(texts[:4])
    np.testing.assert_allclose(
        clf.base_model.encode(texts[:4]),
        StaticModel.from_pretrained(tiny_model_dir).encode(texts[:4]),
        atol=1e-6,
    )
    clf.fit(texts, labels, **QUICK)
    proba = clf.predict_proba(texts[:20], show_progress_bar=True, batch_size=7)
    # the batch size changes float summation order only
    np.testing.assert_allclose(proba, clf.predict_proba(texts[:20]), rtol=1e-6, atol=1e-7)
    predicted = clf.predict(texts[:20], False, 5, 0.5)  # model2vec's positional order
    np.testing.assert_array_equal(predicted, clf.predict(texts[:20]))
    logits = clf.encode(texts[:20], batch_size=3, show_progress_bar=False)
    assert logits.dtype == np.float32
    assert logits.shape == (20, 2)  # the head's output, as model2vec's encode
    np.testing.assert_allclose(
        np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), proba, atol=1e-5
    )
    assert clf.encode("good film").shape == (2,)
    # empty inputs: the right shapes and dtypes (model2vec: predict gives an empty array)
    assert clf.predict([]).shape == (0,)
    assert clf.predict([]).dtype == predicted.dtype
    assert clf.predict_proba([]).shape == (0, 2)
    assert clf.predict_proba([]).dtype == np.float32
    assert clf.encode([]).shape == (0, 2)
    pipeline = clf.to_pipeline()
    assert isinstance(pipeline, StaticClassifier)
    np.testing.assert_allclose(pipeline.predict_proba(texts[:20]), proba, atol=1e-5)
    np.testing.assert_array_equal(
        pipeline.predict(texts[:20], show_progress_bar=False, batch_size=4), predicted
    )
    assert pipeline.predict([]).shape == (0,)
    report = pipeline.evaluate(texts[:20], labels[:20])
    assert report["accuracy"] == pytest.approx(np.mean(predicted == np.asarray(labels[:20])))
    ours = clf.evaluate(texts[:20], labels[:20], 4, 0.5)
    assert isinstance(ours, dict)
    assert ours["accuracy"] == pytest.approx(report["accuracy"])


def test_multilabel_evaluate_has_model2vecs_accuracy(tiny_model_dir: Path) -> None:
    texts, tags = topic_texts(200, seed=3)
    clf = StaticModelForClassification.from_pretrained(tiny_model_dir, hidden_dim=16)
    clf.fit(texts, tags, **QUICK)
    report = clf.evaluate(texts[:50], tags[:50], threshold=0.3)
    assert isinstance(report, dict)
    predicted = clf.predict(texts[:50], threshold=0.3)
    exact = np.mean([set(p) == set(t) for p, t in zip(predicted, tags[:50], strict=True)])
    assert report["accuracy"] == pytest.approx(exact)
    assert clf.predict([]) == []
    pipeline = clf.to_pipeline().evaluate(texts[:50], tags[:50], threshold=0.3)
    assert pipeline["accuracy"] == pytest.approx(exact)
    assert not math.isnan(report["macro avg"]["f1-score"])
