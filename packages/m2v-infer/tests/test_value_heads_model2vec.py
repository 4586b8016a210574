"""StaticRegressor / StaticEmbedder against model2vec 0.10.0, both ways, on potion-base-8M
and real texts (Rotten Tomatoes reviews, BBC News): our value-head folders load in
model2vec's StaticModelPipeline with the same outputs, and model2vec's regression and pair
pipelines run here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from m2v_format import ClassifierHead
from m2v_infer import (
    StaticClassifier,
    StaticEmbedder,
    StaticModel,
    StaticRegressor,
    WrongHeadTaskError,
)
from m2v_testkit import bbc_news, needs_testdata, require_testdata, rotten_tomatoes_reviews

model2vec_inference = pytest.importorskip("model2vec.inference")
pytestmark = pytest.mark.peer


@pytest.fixture(scope="module")
def potion() -> StaticModel:
    return StaticModel.from_pretrained(require_testdata("potion-base-8M"))


@pytest.fixture(scope="module")
def reviews() -> list[str]:
    with needs_testdata():
        return rotten_tomatoes_reviews()[0][:300]


def _random_head(task: str, widths: tuple[int, ...], seed: int = 0) -> ClassifierHead:
    rng = np.random.default_rng(seed)
    weights = tuple(
        (rng.normal(size=(widths[i + 1], widths[i])) / np.sqrt(widths[i])).astype(np.float32)
        for i in range(len(widths) - 1)
    )
    biases = tuple(rng.normal(size=w.shape[0]).astype(np.float32) for w in weights)
    return ClassifierHead(task=task, classes=(), weights=weights, biases=biases)  # type: ignore[arg-type]


def test_our_regressor_folder_loads_in_model2vec(
    potion: StaticModel, reviews: list[str], tmp_path: Path
) -> None:
    regressor = StaticRegressor(potion, _random_head("regression", (potion.dim, 64, 3)))
    folder = regressor.save_pretrained(tmp_path / "reg")
    ours = StaticRegressor.from_pretrained(folder).predict(reviews)
    assert ours.shape == (len(reviews), 3)
    assert ours.dtype == np.float32
    theirs = model2vec_inference.StaticModelPipeline.from_pretrained(str(folder)).predict(reviews)
    np.testing.assert_allclose(theirs, ours, atol=1e-5)
    np.testing.assert_allclose(regressor.predict(reviews), ours, atol=1e-6)
    assert StaticRegressor.from_pretrained(folder).predict("one review").shape == (1, 3)
    assert StaticRegressor.from_pretrained(folder).predict([]).shape == (0, 3)


@pytest.mark.parametrize("widths", [(), (256, 128)], ids=["no-layers", "projection"])
def test_our_embedder_folder_loads_in_model2vec(
    potion: StaticModel, reviews: list[str], tmp_path: Path, widths: tuple[int, ...]
) -> None:
    embedder = StaticEmbedder(potion, _random_head("embedding", widths))
    folder = embedder.save_pretrained(tmp_path / "emb")
    loaded = StaticEmbedder.from_pretrained(folder)
    vectors = loaded.encode(reviews)
    theirs = model2vec_inference.StaticModelPipeline.from_pretrained(str(folder)).predict(reviews)
    np.testing.assert_allclose(theirs, vectors, atol=1e-5)
    if not widths:  # no head: the model's own vectors
        np.testing.assert_allclose(vectors, potion.encode(reviews), atol=1e-6)
    unit = loaded.encode(reviews[:10], normalize=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
    similarity = loaded.similarity(reviews[:4], reviews[:6])
    assert similarity.shape == (4, 6)
    np.testing.assert_allclose(np.diag(similarity[:, :4]), 1.0, atol=1e-5)
    assert loaded.encode("a review").shape == (loaded.dim,)


def test_model2vec_value_pipelines_run_here(potion: StaticModel, tmp_path: Path) -> None:
    model2vec_train = pytest.importorskip("model2vec.train")
    with needs_testdata():
        texts, labels = rotten_tomatoes_reviews()
        docs, _ = bbc_news()
    base = str(require_testdata("potion-base-8M"))
    texts, labels = texts[:96], labels[:96]
    targets = [
        [1.0 if label == "fresh" else 0.0, float(len(text.split()))]
        for text, label in zip(texts, labels, strict=True)
    ]
    trained = model2vec_train.StaticModelForRegression.from_pretrained(path=base, hidden_dim=32)
    trained.fit(texts, targets, max_epochs=1, batch_size=32, device="cpu")
    trained.to_pipeline().save_pretrained(str(tmp_path / "m2v-reg"))
    theirs = trained.to_pipeline().predict(texts[:50])
    ours = StaticRegressor.from_pretrained(tmp_path / "m2v-reg")
    assert ours.outputs is None
    np.testing.assert_allclose(ours.predict(texts[:50]), theirs, atol=1e-5)
    report = ours.evaluate(texts[:50], [row for row in targets[:50]])
    assert set(report) >= {"mse", "r2", "pearson", "spearman", "outputs"}

    lines = [doc.split("\n", 1) for doc in docs[:64]]
    titles, bodies = [t for t, _ in lines], [b.strip()[:300] for _, b in lines]
    pairs = model2vec_train.StaticModelForPairSimilarity.from_pretrained(path=base, n_layers=0)
    pairs.fit(titles, bodies, max_epochs=1, batch_size=32, device="cpu")
    pairs.to_pipeline().save_pretrained(str(tmp_path / "m2v-pairs"))
    # model2vec's identity head does not say it came from pairs: it reads as regression (M2)
    loaded = StaticRegressor.from_pretrained(tmp_path / "m2v-pairs")
    np.testing.assert_allclose(
        loaded.predict(titles[:20]), pairs.to_pipeline().predict(titles[:20]), atol=1e-5
    )
    with pytest.raises(WrongHeadTaskError, match="StaticRegressor"):
        StaticEmbedder.from_pretrained(tmp_path / "m2v-pairs")


def test_each_runtime_names_the_right_class(potion: StaticModel, tmp_path: Path) -> None:
    regression = StaticRegressor(potion, _random_head("regression", (256, 2))).save_pretrained(
        tmp_path / "r"
    )
    embedding = StaticEmbedder(potion, _random_head("embedding", (256, 32))).save_pretrained(
        tmp_path / "e"
    )
    for runtime, folder, wanted in (
        (StaticClassifier, regression, "StaticRegressor"),
        (StaticClassifier, embedding, "StaticEmbedder"),
        (StaticRegressor, embedding, "StaticEmbedder"),
        (StaticEmbedder, regression, "StaticRegressor"),
    ):
        with pytest.raises(WrongHeadTaskError) as raised:
            runtime.from_pretrained(folder)
        assert raised.value.code == "wrong-head-task"
        assert raised.value.runtime == wanted
        assert wanted in raised.value.message
