"""StaticModelForRegression and StaticModelForPairSimilarity on potion-base-8M and real texts:
learning, export (numpy runtime and model2vec 0.10.0 agree), model2vec's snippets with only
the import changed, typed errors, and ``m2v train regress`` / ``m2v train pairs``."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import ClassifierHead, OutputExistsError
from m2v_format.cli import main
from m2v_infer import StaticEmbedder, StaticModel, StaticRegressor
from m2v_testkit import bbc_news, needs_testdata, require_testdata, rotten_tomatoes_reviews
from m2v_train import (
    DataFileError,
    InvalidParameterError,
    NotFittedError,
    StaticModelForPairSimilarity,
    StaticModelForRegression,
    read_pairs,
    read_targets,
)

QUICK: dict[str, Any] = {"device": "cpu", "show_progress": False}


@pytest.fixture(scope="module")
def potion() -> Path:
    return require_testdata("potion-base-8M")


@pytest.fixture(scope="module")
def ratings() -> tuple[list[str], np.ndarray[Any, Any]]:
    """Rotten Tomatoes reviews with a real 1-D target: fresh 1, rotten 0 (shuffled)."""
    with needs_testdata():
        texts, labels = rotten_tomatoes_reviews()
    order = np.random.default_rng(0).permutation(len(texts))[:900]
    y = np.asarray([[1.0 if labels[i] == "fresh" else 0.0] for i in order], np.float32)
    return [texts[i] for i in order], y


@pytest.fixture(scope="module")
def headlines() -> tuple[list[str], list[str]]:
    """BBC News pairs: each article's headline and its second body paragraph."""
    with needs_testdata():
        docs, _ = bbc_news()
    order = np.random.default_rng(0).permutation(len(docs))[:900]
    first, second = [], []
    for i in order:
        paragraphs = [part.strip() for part in docs[i].strip().split("\n") if part.strip()]
        first.append(paragraphs[0])
        second.append(paragraphs[min(2, len(paragraphs) - 1)][:400])
    return first, second


def test_regression_learns_and_exports(
    potion: Path, ratings: tuple[list[str], np.ndarray[Any, Any]], tmp_path: Path
) -> None:
    texts, y = ratings
    model = StaticModelForRegression.from_pretrained(potion, hidden_dim=64)
    with pytest.raises(NotFittedError):
        model.predict(texts[:2])
    model.fit(texts[:700], y[:700], max_epochs=3, batch_size=32, learning_rate=1e-2, **QUICK)
    assert model.out_dim == 1
    assert model.history[-1].val_loss < model.history[0].val_loss
    report = model.evaluate(texts[700:], y[700:])
    assert report["support"] == 200
    assert report["pearson"] > 0.2  # fresh vs rotten is learnable (measured 0.30)
    predicted = model.predict(texts[700:])
    assert predicted.shape == (200, 1)
    assert predicted.dtype == np.float32
    assert model.encode("a fine film").shape == (1,)
    assert model.predict([]).shape == (0, 1)

    folder = model.save_pretrained(tmp_path / "reg")
    runtime = StaticRegressor.from_pretrained(folder)
    np.testing.assert_allclose(runtime.predict(texts[700:]), predicted, atol=1e-5)
    model2vec = pytest.importorskip("model2vec.inference")
    theirs = model2vec.StaticModelPipeline.from_pretrained(str(folder)).predict(texts[700:])
    np.testing.assert_allclose(theirs, predicted, atol=1e-5)
    np.testing.assert_allclose(
        StaticModel.from_pretrained(folder).encode(texts[:5]),
        model.to_static_model().encode(texts[:5]),
        atol=1e-6,
    )
    with pytest.raises(OutputExistsError):
        model.save_pretrained(folder)


def test_regression_inputs_are_checked(potion: Path) -> None:
    model = StaticModelForRegression.from_pretrained(potion)
    with pytest.raises(InvalidParameterError, match="2-dimensional"):
        model.fit(["a", "b"], [0.1, 0.2], **QUICK)
    with pytest.raises(InvalidParameterError, match="rows"):
        model.fit(["a", "b"], [[0.1]], **QUICK)
    with pytest.raises(InvalidParameterError, match="NaN"):
        model.fit(["a", "b"], [[0.1], [float("nan")]], **QUICK)
    with pytest.raises(InvalidParameterError, match="outputs but y has"):
        model.fit(["a", "b"], [[0.1], [0.2]], X_val=["c"], y_val=[[1.0, 2.0]], **QUICK)
    with pytest.raises(InvalidParameterError, match="disagree"):
        model.fit(["a", "b"], [[0.1], [0.2]], test_size=0.2, validation_size=0.3, **QUICK)
    with pytest.raises(InvalidParameterError, match="validation_steps"):
        model.fit(["a", "b"], [[0.1], [0.2]], validation_steps=10, **QUICK)


def test_pairs_learn_retrieval(
    potion: Path, headlines: tuple[list[str], list[str]], tmp_path: Path
) -> None:
    first, second = headlines
    base = StaticModel.from_pretrained(potion)
    untrained = StaticEmbedder(
        base, ClassifierHead(task="embedding", classes=(), weights=(), biases=())
    ).evaluate(first[700:], second[700:])
    model = StaticModelForPairSimilarity.from_pretrained(potion, n_layers=0)
    model.fit(first[:700], second[:700], max_epochs=3, batch_size=64, learning_rate=1e-2, **QUICK)
    assert model.output_dim == base.dim  # n_layers 0, out_dim = dim: no head (as model2vec)
    report = model.evaluate(first[700:], second[700:])
    assert report["pairs"] == 200
    assert report["mrr"] > untrained["mrr"]  # measured 0.783 against 0.765
    folder = model.save_pretrained(tmp_path / "pairs")
    runtime = StaticEmbedder.from_pretrained(folder)
    np.testing.assert_allclose(runtime.encode(first[700:]), model.encode(first[700:]), atol=1e-5)
    projected = StaticModelForPairSimilarity.from_pretrained(potion, hidden_dim=64, out_dim=32)
    projected.fit(
        first[:200], second[:200], max_epochs=1, batch_size=32, token_dropout=0.1, **QUICK
    )
    assert projected.encode(first[:3]).shape == (3, 32)
    model2vec = pytest.importorskip("model2vec.inference")
    saved = projected.save_pretrained(tmp_path / "projected")
    np.testing.assert_allclose(
        model2vec.StaticModelPipeline.from_pretrained(str(saved)).predict(first[:20]),
        projected.encode(first[:20]),
        atol=1e-5,
    )


def test_pair_inputs_are_checked(potion: Path) -> None:
    model = StaticModelForPairSimilarity.from_pretrained(potion)
    with pytest.raises(InvalidParameterError, match="at least two pairs"):
        model.fit(["a", "b"], ["c", "d"], **QUICK)
    with pytest.raises(InvalidParameterError, match="batch_size must be at least 2"):
        model.fit(list("abcdef"), list("ghijkl"), batch_size=1, validation_size=2, **QUICK)
    with pytest.raises(InvalidParameterError, match="temperature"):
        model.fit(list("abcdef"), list("ghijkl"), temperature=0.0, **QUICK)
    with pytest.raises(InvalidParameterError, match="text_b has"):
        model.fit(["a", "b", "c"], ["d"], **QUICK)
    with pytest.raises(InvalidParameterError, match="both text_a_val"):
        model.fit(list("abcd"), list("efgh"), text_a_val=["x", "y"], **QUICK)


def _snippets(module: Any, potion: Path, ratings: Any, headlines: Any) -> dict[str, Any]:
    """model2vec's train/README.md regression and pair snippets (data and epochs shortened)."""
    texts, y = ratings
    targets = [[float(v)] for v in y[:160, 0]]
    model = module.StaticModelForRegression.from_pretrained(path=str(potion))
    model.fit(texts[:160], targets, max_epochs=1, batch_size=32)
    regressed = model.to_pipeline().predict(texts[160:170])
    queries, documents = headlines[0][:160], headlines[1][:160]
    pairs = module.StaticModelForPairSimilarity.from_pretrained(path=str(potion))
    pairs.fit(text_a=queries, text_b=documents, max_epochs=1, batch_size=32)
    static_model = pairs.to_static_model()
    return {
        "regressed": np.asarray(regressed).shape,
        "encoded": np.asarray(pairs.encode(queries[:4])).shape,
        "static": np.asarray(static_model.encode(queries[:4])).shape,
    }


@pytest.mark.peer
def test_model2vec_snippets_port_by_the_import(potion: Path, ratings: Any, headlines: Any) -> None:
    model2vec_train = pytest.importorskip("model2vec.train")
    import m2v_train

    assert _snippets(m2v_train, potion, ratings, headlines) == _snippets(
        model2vec_train, potion, ratings, headlines
    )


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t" if path.suffix == ".tsv" else ",")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_cli_regress_and_pairs(
    potion: Path, ratings: Any, headlines: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts, y = ratings
    data = _write(
        tmp_path / "ratings.tsv",
        ["text", "fresh", "words"],
        [[t, float(v), len(t.split())] for t, v in zip(texts[:200], y[:200, 0], strict=True)],
    )
    common = ["--model", str(potion), "--max-epochs", "1", "--quiet", "--device", "cpu"]
    out = tmp_path / "reg"
    argv = ["train", "regress", "--data", str(data), "--target-column", "fresh",
            "--target-column", "words", "--output", str(out), "--test-data", str(data)]  # fmt: skip
    assert main([*argv, *common]) == 0
    assert "regressor written" in capsys.readouterr().out
    assert StaticRegressor.from_pretrained(out).outputs == ("fresh", "words")
    assert main([*argv, *common]) == 1  # --output exists: refused before training
    assert "output-exists" in capsys.readouterr().err

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps({"q": a, "d": b}) + "\n"
            for a, b in zip(headlines[0][:200], headlines[1][:200], strict=True)
        )
    )
    out = tmp_path / "emb"
    argv = ["train", "pairs", "--data", str(pairs), "--first-column", "q", "--second-column",
            "d", "--output", str(out), "--out-dim", "64", "--test-data", str(pairs)]  # fmt: skip
    assert main([*argv, *common]) == 0
    assert "recall@1" in capsys.readouterr().out
    assert StaticEmbedder.from_pretrained(out).dim == 64


def test_malformed_data_files(
    tmp_path: Path, potion: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_number = _write(tmp_path / "n.csv", ["text", "target"], [["good", "1.5"], ["bad", "x"]])
    with pytest.raises(DataFileError, match="row 2: 'target' is not a number") as raised:
        read_targets(bad_number)
    assert raised.value.code == "invalid-data-file"
    empty = _write(tmp_path / "e.csv", ["text", "target"], [["good", ""]])
    with pytest.raises(DataFileError, match="empty"):
        read_targets(empty)
    with pytest.raises(DataFileError, match="not finite"):
        read_targets(_write(tmp_path / "i.csv", ["text", "target"], [["a", "inf"]]))
    with pytest.raises(DataFileError, match="no column 'score'"):
        read_targets(bad_number, target_columns=["score"])
    ragged = tmp_path / "r.jsonl"
    ragged.write_text('{"text": "a", "target": [1, 2]}\n{"text": "b", "target": [3]}\n')
    with pytest.raises(DataFileError, match="row 2: 1 target values"):
        read_targets(ragged)
    missing_b = tmp_path / "p.jsonl"
    missing_b.write_text('{"text_a": "a", "text_b": "b"}\n{"text_a": "c", "text_b": null}\n')
    with pytest.raises(DataFileError, match="row 2: 'text_b'"):
        read_pairs(missing_b)
    with pytest.raises(DataFileError, match="unsupported file type"):
        read_pairs(_write(tmp_path / "x.xml", ["a"], []))
    argv = ["train", "regress", "--data", str(bad_number), "--model", str(potion),
            "--output", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    assert main(argv) == 1
    assert "invalid-data-file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
