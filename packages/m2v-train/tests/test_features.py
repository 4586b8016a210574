"""featurize and the feature store: shards, resuming, checks, loading, merging."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from m2v_testkit import BagOfWordsTeacher, synthetic_corpus
from m2v_train import (
    FeatureStoreError,
    InvalidParameterError,
    TeacherError,
    featurize,
    load_features,
    merge_features,
    select_features,
)
from m2v_train._features import shard_path
from m2v_train._teacher import TransformersTeacher


def test_featurize_writes_shards_and_loads(tmp_path: Path) -> None:
    teacher = BagOfWordsTeacher()
    texts = synthetic_corpus(50)
    folder = featurize(
        texts, tmp_path / "f", teacher=teacher, shard_size=16, batch_size=8, show_progress=False
    )
    assert sorted(p.name for p in folder.glob("shard-*.npy")) == [
        f"shard-0000{i}.npy" for i in range(4)
    ]
    features = load_features(folder)
    assert features.texts == texts
    np.testing.assert_allclose(features.targets, teacher.encode(texts), atol=1e-6)
    assert features.manifest.count == 50
    assert features.manifest.teacher == "bag-of-words"


def test_resume_computes_only_missing_shards(tmp_path: Path) -> None:
    texts = synthetic_corpus(40)
    first = BagOfWordsTeacher()
    featurize(
        texts, tmp_path / "f", teacher=first, shard_size=10, batch_size=10, show_progress=False
    )
    shard_path(tmp_path / "f", 2).unlink()  # as if interrupted before shard 2
    again = BagOfWordsTeacher()
    featurize(
        texts, tmp_path / "f", teacher=again, shard_size=10, batch_size=10, show_progress=False
    )
    assert again.calls == 1
    assert load_features(tmp_path / "f").targets.shape == (40, 24)


def test_store_checks(tmp_path: Path) -> None:
    teacher = BagOfWordsTeacher()
    texts = synthetic_corpus(20)
    folder = featurize(texts, tmp_path / "f", teacher=teacher, shard_size=8, show_progress=False)
    with pytest.raises(FeatureStoreError):
        featurize(texts[:10], folder, teacher=teacher, shard_size=8, show_progress=False)
    shard_path(folder, 0).unlink()
    with pytest.raises(FeatureStoreError, match="incomplete"):
        load_features(folder)
    np.save(shard_path(folder, 0), np.zeros((3, 24), np.float32))
    with pytest.raises(FeatureStoreError, match="shape"):
        load_features(folder)
    with pytest.raises(FeatureStoreError):
        load_features(tmp_path / "nothing")
    with pytest.raises(InvalidParameterError):
        featurize([], tmp_path / "g", teacher=teacher)
    with pytest.raises(InvalidParameterError):
        featurize(["a"], tmp_path / "g", teacher=teacher, shard_size=0)


def test_merge_and_select(tmp_path: Path) -> None:
    teacher = BagOfWordsTeacher()
    a = load_features(
        featurize(synthetic_corpus(10, 1), tmp_path / "a", teacher=teacher, show_progress=False)
    )
    b = load_features(
        featurize(synthetic_corpus(6, 2), tmp_path / "b", teacher=teacher, show_progress=False)
    )
    merged = merge_features([a, b])
    assert len(merged.texts) == 16
    assert merged.targets.shape == (16, 24)
    subset = select_features(merged, [0, 15])
    assert subset.texts == [a.texts[0], b.texts[-1]]


def test_transformers_teacher(tiny_teacher_dir: Path, tmp_path: Path) -> None:
    texts = ["good movie", "the sport was boring and awful", "love"]
    sentence = TransformersTeacher(tiny_teacher_dir, device="cpu")
    assert sentence.dim == 32
    vectors = sentence.encode(texts)
    assert vectors.shape == (3, 32)
    assert vectors.dtype == np.float32
    tokens = TransformersTeacher(tiny_teacher_dir, target="tokens", device="cpu").encode(texts)
    assert not np.allclose(tokens, vectors)
    fast = TransformersTeacher(tiny_teacher_dir, device="cpu", precision="bfloat16")
    cosine = (fast.encode(texts) * vectors).sum(1) / (
        np.linalg.norm(vectors, axis=1) * np.linalg.norm(fast.encode(texts), axis=1)
    )
    assert cosine.min() > 0.99
    folder = featurize(
        texts, tmp_path / "f", teacher=tiny_teacher_dir, device="cpu", show_progress=False
    )
    np.testing.assert_allclose(load_features(folder).targets, vectors, atol=1e-5)
    with pytest.raises(TeacherError):
        TransformersTeacher(tmp_path / "missing")
    with pytest.raises(InvalidParameterError):
        TransformersTeacher(tiny_teacher_dir, target="cls")  # type: ignore[arg-type]


def test_encode_many_matches_one_padded_batch_per_text_group(tiny_teacher_dir: Path) -> None:
    """Tokenized once, sorted by token count and cut by a token budget: the same targets
    (both modes) as the teacher run on each text alone, in input order."""
    texts = ["good", "", "the sport was boring and awful " * 9, "love it", "a b c d e f g"] * 3
    for target in ("sentence", "tokens"):
        teacher = TransformersTeacher(tiny_teacher_dir, device="cpu", target=target)  # type: ignore[arg-type]
        alone = np.concatenate([teacher.encode([text]) for text in texts])
        sizes: list[int] = []
        many = teacher.encode_many(texts, batch_size=4, max_tokens=40, on_batch=sizes.append)
        np.testing.assert_allclose(many, alone, atol=1e-5)
        assert sum(sizes) == len(texts)
        assert max(sizes) <= 4
        assert sizes[0] < 4  # the long texts come first, fewer a batch under the budget
        np.testing.assert_allclose(teacher.encode(texts), alone, atol=1e-5)
    assert teacher.encode_many([]).shape == (0, 32)
