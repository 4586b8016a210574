"""Fixtures of the cross-package compatibility tests: real model, real sentences."""

from __future__ import annotations

from pathlib import Path

import pytest
from m2v_testkit import needs_testdata, require_testdata, rotten_tomatoes_texts


@pytest.fixture(scope="session")
def potion_path() -> Path:
    """The real potion-base-8M folder."""
    return require_testdata("potion-base-8M")


@pytest.fixture(scope="session")
def compat_sentences() -> list[str]:
    """Two hundred real texts (Rotten Tomatoes), short and long."""
    with needs_testdata():
        texts = rotten_tomatoes_texts()
    return [text.strip() for text in texts[:3000]][::15][:200]
