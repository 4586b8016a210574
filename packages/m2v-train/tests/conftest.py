"""Fixtures of the m2v-train tests: tiny models, corpora and teachers built in code."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
_REPO = _HERE.parents[2]
for _path in (_REPO / "tests" / "support", _HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import train_helpers  # noqa: E402


@pytest.fixture
def tiny_model_dir(tmp_path: Path) -> Path:
    """A small WordLevel static model folder (float32, 16 dims, normalize on)."""
    return train_helpers.save_tiny_model(tmp_path / "tiny-model")


@pytest.fixture
def sentiment_data() -> tuple[list[str], list[str]]:
    """Synthetic single-label texts: 'pos' texts use positive words, 'neg' negative ones."""
    return train_helpers.sentiment_texts(300, seed=0)


@pytest.fixture(scope="session")
def tiny_teacher_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer BERT (hidden 32) saved as a sentence-transformers folder."""
    return train_helpers.save_tiny_teacher(tmp_path_factory.mktemp("teacher"))
