"""pretrain on a fake teacher whose targets a static model can reproduce exactly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from m2v_format import save_model
from m2v_infer import StaticModel
from m2v_testkit import BagOfWordsTeacher, synthetic_corpus, synthetic_model
from m2v_train import (
    FeatureSet,
    InvalidParameterError,
    PretrainOptions,
    featurize,
    load_features,
    pretrain,
)


@pytest.fixture
def features(tmp_path: Path) -> FeatureSet:
    folder = featurize(
        synthetic_corpus(600),
        tmp_path / "features",
        teacher=BagOfWordsTeacher(),
        show_progress=False,
    )
    return load_features(folder)


OPTIONS = {
    "epochs": 6,
    "batch_size": 32,
    "learning_rate": 0.1,
    "show_progress": False,
    "device": "cpu",
}


def test_pretraining_moves_the_student_towards_the_teacher(
    tiny_model_dir: Path, features: FeatureSet, tmp_path: Path
) -> None:
    model, report = pretrain(str(tiny_model_dir), features, PretrainOptions(**OPTIONS))
    assert report.final_val_cosine > report.start_val_cosine + 0.05
    assert report.final_val_cosine > 0.9
    assert len(report.epochs) == 6
    assert model.dim == 16
    assert model.normalize
    assert model.config.get("pretrained_with") == "m2v-train"
    saved = StaticModel.from_pretrained(model.save_pretrained(tmp_path / "out"))
    np.testing.assert_allclose(
        saved.encode(["good movie"]), model.encode(["good movie"]), atol=1e-6
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"contrastive_weight": 0.0},
        {"cosine_weight": 0.0, "mse_weight": 1.0, "contrastive_weight": 0.0},
        {"train_weights": False, "align": False},
        {"born_again": 1, "epochs": 1},
        {"power": 0.7, "sif_coefficient": 1e-3, "pca_dims": 8, "epochs": 1},
    ],
)
def test_options(tiny_model_dir: Path, features: FeatureSet, overrides: dict[str, object]) -> None:
    options = PretrainOptions(**{**OPTIONS, **overrides})  # type: ignore[arg-type]
    model, report = pretrain(StaticModel.from_pretrained(tiny_model_dir), features, options)
    assert report.final_val_cosine >= report.start_val_cosine - 1e-6
    assert model.dim == (8 if "pca_dims" in overrides else 16)
    assert np.isfinite(model.embedding).all()


def test_born_again_trains_each_generation(tiny_model_dir: Path, features: FeatureSet) -> None:
    options = PretrainOptions(**{**OPTIONS, "epochs": 1, "born_again": 2})
    _, report = pretrain(str(tiny_model_dir), features, options)
    assert [row["generation"] for row in report.epochs] == [0.0, 1.0, 2.0]


@pytest.mark.parametrize(
    "overrides",
    [
        {"epochs": 0},
        {"contrastive_weight": 0.0, "cosine_weight": 0.0},
        {"temperature": 0.0},
        {"born_again_alpha": 2.0},
        {"validation_size": 0.9},
    ],
)
def test_bad_options(
    tiny_model_dir: Path, features: FeatureSet, overrides: dict[str, object]
) -> None:
    with pytest.raises(InvalidParameterError):
        pretrain(str(tiny_model_dir), features, PretrainOptions(**overrides))  # type: ignore[arg-type]


def test_teacher_smaller_than_student(tmp_path: Path, features: FeatureSet) -> None:
    wide = save_model(tmp_path / "wide", synthetic_model(dim=32))
    with pytest.raises(InvalidParameterError, match="fewer"):
        pretrain(str(wide), features, PretrainOptions(**OPTIONS))


class _OwnOutputs:
    """A static teacher: the student's own embeddings."""

    def __init__(self, model: StaticModel) -> None:
        self.model = model
        self.name = "own-outputs"
        self.dim = model.dim

    def encode(self, texts: list[str]) -> np.ndarray:  # type: ignore[type-arg]
        return self.model.encode(texts)


def test_uncentred_targets_let_a_static_student_match_a_static_teacher(tmp_path: Path) -> None:
    """Rows that share a direction (as distilled rows do) give every text that direction; a
    static student cannot subtract it, so centred targets are out of its reach."""
    data = synthetic_model()
    shifted = dataclasses.replace(data, embeddings=np.asarray(data.embeddings) + 1.0)
    student = StaticModel.from_pretrained(save_model(tmp_path / "shifted", shifted))
    folder = featurize(
        synthetic_corpus(300), tmp_path / "own", teacher=_OwnOutputs(student), show_progress=False
    )
    features = load_features(folder)
    start = {
        centre: pretrain(
            student, features, PretrainOptions(**{**OPTIONS, "epochs": 1, "center_targets": centre})
        )[1].start_val_cosine
        for centre in (True, False)
    }
    assert start[False] > 0.999  # a rotation of its own outputs: Procrustes finds it
    assert start[True] < start[False] - 0.05
