"""Fixtures of the m2v-format tests: the real models and a real-text sample."""

from __future__ import annotations

from pathlib import Path

import pytest
from m2v_testkit import needs_testdata, require_testdata, rotten_tomatoes_texts


@pytest.fixture(scope="session")
def potion_path() -> Path:
    """The real potion-base-8M folder (native layout, 29528 x 256 float32, WordPiece)."""
    return require_testdata("potion-base-8M")


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 Hugging Face folder: a transformer, not a static model."""
    return require_testdata("minilm")


@pytest.fixture(scope="session")
def sentences() -> list[str]:
    """A few hundred real sentences (Rotten Tomatoes reviews and plots), some long."""
    with needs_testdata():
        texts = rotten_tomatoes_texts()
    return [text.strip() for text in texts[:2000]][::7][:300]
