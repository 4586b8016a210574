"""Fixtures of the m2v-distill tests: tiny random teachers saved to temporary folders."""

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

import distill_teachers  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


@pytest.fixture(scope="session")
def teachers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders of the tiny teachers: bert (WordPiece), roberta and gpt2 (byte-level BPE),
    xlmr (Unigram)."""
    root = tmp_path_factory.mktemp("teachers")
    return {name: build(root / name) for name, build in distill_teachers.BUILDERS.items()}


@pytest.fixture(scope="session")
def bert_teacher(teachers: dict[str, Path]) -> Path:
    """The tiny BERT/WordPiece teacher's folder."""
    return teachers["bert"]


@pytest.fixture(scope="session")
def slow_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A teacher whose tokenizer is Python-only."""
    return distill_teachers.build_slow_tokenizer_teacher(tmp_path_factory.mktemp("slow") / "t")
