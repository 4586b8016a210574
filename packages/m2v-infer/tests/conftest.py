"""Fixtures of the m2v-infer tests: the real potion-base-8M model and real-text corpora."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from m2v_infer import StaticModel
from m2v_testkit import (
    EDGE_CASES,
    bbc_sentences,
    needs_testdata,
    require_testdata,
    rotten_tomatoes_texts,
    tweets,
)


@pytest.fixture(scope="session")
def potion_path() -> Path:
    """The real potion-base-8M folder (native layout, 29528 x 256 float32, WordPiece)."""
    return require_testdata("potion-base-8M")


@pytest.fixture(scope="session")
def potion(potion_path: Path) -> StaticModel:
    """potion-base-8M loaded with m2v-infer (shared: tests must not change its settings)."""
    return StaticModel.from_pretrained(potion_path)


@pytest.fixture(scope="session")
def real_corpus() -> list[str]:
    """About 3,000 real texts: Rotten Tomatoes texts (some long plots), BBC News sentences
    and tweets, in a fixed order."""
    with needs_testdata():
        reviews = rotten_tomatoes_texts()[::9][:1000]
        bbc = bbc_sentences()[::37][:1200]
        tweet_texts = tweets()[::43][:800]
    return reviews + bbc + tweet_texts


@pytest.fixture(scope="session")
def edge_cases() -> list[str]:
    """Hand-written hard inputs: empty, emoji, accents, CJK, control chars, unknown-only."""
    return list(EDGE_CASES)


@pytest.fixture(scope="session")
def parity_corpus(real_corpus: list[str]) -> list[str]:
    """The real corpus followed by the edge cases."""
    return real_corpus + list(EDGE_CASES)


@pytest.fixture(scope="session")
def model2vec_potion(potion_path: Path) -> Any:
    """potion-base-8M loaded with model2vec 0.10.0 (skips when model2vec is absent)."""
    model2vec = pytest.importorskip("model2vec")
    return model2vec.StaticModel.from_pretrained(str(potion_path))
