"""Fixtures of the cross-package compatibility tests: real model, real sentences."""

from __future__ import annotations

import bz2
import csv
import sys
from pathlib import Path

import pytest

_SUPPORT = Path(__file__).resolve().parents[1] / "support"
if str(_SUPPORT) not in sys.path:
    sys.path.insert(0, str(_SUPPORT))

from m2v_testdata import dataset_path  # noqa: E402

csv.field_size_limit(10_000_000)


@pytest.fixture(scope="session")
def potion_path() -> Path:
    """The real potion-base-8M folder."""
    return Path(dataset_path("potion-base-8M"))


@pytest.fixture(scope="session")
def compat_sentences() -> list[str]:
    """Two hundred real texts (Rotten Tomatoes), short and long."""
    path = Path(dataset_path("rotten-tomatoes"))
    texts: list[str] = []
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["text"].strip():
                texts.append(row["text"].strip())
            if len(texts) >= 3000:
                break
    return texts[::15][:200]
