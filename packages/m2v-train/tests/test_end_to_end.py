"""End to end on real data: MiniLM features -> pre-training potion-base-8M, and a BBC
classifier trained through the CLI and run by m2v-infer (slow: about a minute)."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest
from m2v_testkit import bbc_news, needs_testdata, require_testdata, tweets

pytestmark = pytest.mark.slow


def test_featurize_and_pretrain_real_teacher(tmp_path: Path) -> None:
    import random

    from m2v_infer import StaticModel
    from m2v_train import PretrainOptions, featurize, load_features, pretrain

    with needs_testdata():
        texts = random.Random(0).sample(sorted(set(tweets())), 500)
    folder = featurize(
        texts,
        tmp_path / "features",
        teacher=require_testdata("minilm"),
        device="cpu",
        show_progress=False,
    )
    features = load_features(folder)
    assert features.targets.shape == (500, 384)
    start = StaticModel.from_pretrained(require_testdata("potion-base-8M"))
    options = PretrainOptions(
        epochs=2, batch_size=64, show_progress=False, device="cpu", pca_dims=128
    )
    model, report = pretrain(start, features, options)
    assert report.final_val_cosine > report.start_val_cosine
    assert model.dim == 128
    saved = StaticModel.from_pretrained(model.save_pretrained(tmp_path / "model"))
    assert saved.encode("a tweet about cars").shape == (128,)


def test_classify_bbc_through_the_cli(tmp_path: Path) -> None:
    from m2v_format.cli import main
    from m2v_infer import StaticClassifier

    with needs_testdata():
        documents = bbc_news()
    rows = []
    for _, group in itertools.groupby(zip(*documents, strict=True), key=lambda row: row[1]):
        rows += list(group)[:60]  # the first 60 articles of each class
    train, test = rows[::2], rows[1::2]
    for name, part in (("train", train), ("test", test)):
        with (tmp_path / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(part)
    out = tmp_path / "bbc-classifier"
    code = main([
        "train", "classify", "--data", str(tmp_path / "train.csv"),
        "--model", str(require_testdata("potion-base-8M")), "--output", str(out),
        "--max-epochs", "8", "--quiet", "--device", "cpu",
    ])  # fmt: skip
    assert code == 0
    classifier = StaticClassifier.from_pretrained(out)
    predicted = classifier.predict([text for text, _ in test])
    accuracy = np.mean(predicted == np.asarray([label for _, label in test]))
    assert accuracy > 0.85
