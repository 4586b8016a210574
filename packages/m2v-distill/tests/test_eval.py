"""The evaluation suite: data readers, metrics, tasks, report, and the no-torch promise."""

from __future__ import annotations

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


def test_rank_and_correlations_match_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=50).astype(float)  # many ties
    y = x + rng.normal(size=50)
    np.testing.assert_allclose(rank_average(x), stats.rankdata(x))
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic)
    assert pearson(np.ones(3), np.arange(3)) == 0.0


def test_evaluate_on_a_miniature_data_set(eval_data_dir: Path) -> None:
    report = evaluate(HashEncoder(), data_dir=eval_data_dir, folds=2)
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


def test_classification_folds_are_fixed_or_seeded(eval_data_dir: Path) -> None:
    fixed = evaluate(HashEncoder(), data_dir=eval_data_dir, tasks=["classification"], folds=2)
    seeded = evaluate(
        HashEncoder(), data_dir=eval_data_dir, tasks=["classification"], folds=2, seed=3
    )
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


def test_evaluation_never_imports_torch(
    tmp_path: Path, bert_teacher: Path, eval_data_dir: Path
) -> None:
    from m2v_distill import distill

    folder = distill(str(bert_teacher), pca_dims=8, show_progress=False).save_pretrained(
        tmp_path / "model"
    )
    code = (
        "import sys\n"
        "from m2v_distill import evaluate\n"
        f"report = evaluate({str(folder)!r}, data_dir={str(eval_data_dir)!r}, folds=2)\n"
        "assert len(report.scores) >= 6, report\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_reproduces_published_numbers_on_potion_base_8m() -> None:
    from m2v_testkit import cache_dir, require_testdata

    potion = require_testdata("potion-base-8M")
    for name in ("gensim-data", "rotten-tomatoes", "bbc-news"):
        require_testdata(name)
    report = evaluate(str(potion), data_dir=cache_dir(), tasks=["wordsim", "classification"])
    assert report.get("WordSim353") == pytest.approx(0.707, abs=6e-4)
    assert report.get("SimLex-999") == pytest.approx(0.630, abs=6e-4)
    assert report.get("Rotten Tomatoes") == pytest.approx(0.749, abs=6e-4)
    assert report.get("BBC News") == pytest.approx(0.958, abs=6e-4)
