"""Fixtures of the m2v-format tests: the real models and a real-text sample."""

from __future__ import annotations

import bz2
import csv
import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
_SUPPORT = _HERE.parents[2] / "tests" / "support"
for _path in (_SUPPORT, _HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from m2v_testdata import dataset_path  # noqa: E402

csv.field_size_limit(10_000_000)


@pytest.fixture(scope="session")
def potion_path() -> Path:
    """The real potion-base-8M folder (native layout, 29528 x 256 float32, WordPiece)."""
    return Path(dataset_path("potion-base-8M"))


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 Hugging Face folder: a transformer, not a static model."""
    return Path(dataset_path("minilm"))


@pytest.fixture(scope="session")
def sentences() -> list[str]:
    """A few hundred real sentences (Rotten Tomatoes reviews and plots), some long."""
    path = Path(dataset_path("rotten-tomatoes"))
    texts: list[str] = []
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            text = row["text"].strip()
            if text:
                texts.append(text)
            if len(texts) >= 2000:
                break
    return texts[::7][:300]
