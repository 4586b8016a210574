"""Fixtures of the m2v-infer tests: the real potion-base-8M model and real-text corpora."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
_REPO = _HERE.parents[2]
for _path in (_REPO / "tests" / "support", _REPO / "tests" / "benchmarks", _HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import _corpus  # noqa: E402
from m2v_infer import StaticModel  # noqa: E402
from m2v_testdata import dataset_path  # noqa: E402

EDGE_CASES: list[str] = [
    "",
    " ",
    "\n\t  \r\n",
    "hello",
    "Hello World!",
    "HELLO, WORLD?!",
    "😀🎉 party time 🥳",
    "😀😀😀",
    "🤖",
    "Café naïve résumé Ångström façade",
    "e\u0301 combining accents: Mu\u0308nchen",
    "東京は日本の首都です。",
    "北京欢迎你",
    "한국어 텍스트입니다",
    "مرحبا بالعالم",
    "Привет, мир",
    "γειά σου κόσμε",  # noqa: RUF001
    "שלום עולם",
    "नमस्ते दुनिया",
    "ไทย ภาษา",
    "\u200b\u200b\u200b",
    "\x00\x01\x02",
    "\ufeffbyte order mark",
    "!!!???...,,,;;;",
    "3.14159 2,000,000 1e-9 0x1F",
    "https://example.com/path?query=1&b=2#frag",
    "user@example.com #hashtag @mention",
    "[UNK]",
    "[UNK] [UNK] hello [UNK]",
    "[CLS] hello [SEP] [PAD] [MASK]",
    "tab\tseparated\tvalues",
    "a" * 10_000,
    "supercalifragilisticexpialidocious " * 50,
    "word " * 5_000,
    "東" * 3_000,
    "x" * 99 + " " + "y" * 101,
    " ".join(["antidisestablishmentarianism"] * 600),
    "The quick brown fox jumps over the lazy dog. " * 200,
    "Ünïcödé " * 700,
    "🙂 " * 1_000,
]
"""Hand-picked edge cases: empty, whitespace, emoji, accents, scripts, control characters,
special-token text, only-unknown strings and very long inputs (truncation)."""


@pytest.fixture(scope="session")
def potion_path() -> Path:
    """The real potion-base-8M folder (native layout, 29528 x 256 float32, WordPiece)."""
    try:
        return Path(dataset_path("potion-base-8M"))
    except Exception as error:  # pragma: no cover - no network and no cache
        pytest.skip(f"potion-base-8M unavailable: {error}")


@pytest.fixture(scope="session")
def potion(potion_path: Path) -> StaticModel:
    """potion-base-8M loaded with m2v-infer (shared: tests must not change its settings)."""
    return StaticModel.from_pretrained(potion_path)


@pytest.fixture(scope="session")
def real_corpus() -> list[str]:
    """About 3,000 real texts: Rotten Tomatoes texts (some long plots), BBC News sentences
    and tweets, in a fixed order."""
    try:
        reviews = _corpus.rotten_tomatoes_texts()[::9][:1000]
        bbc = _corpus.bbc_sentences()[::37][:1200]
        tweets = _corpus.tweets()[::43][:800]
    except Exception as error:  # pragma: no cover - no network and no cache
        pytest.skip(f"real corpus unavailable: {error}")
    return reviews + bbc + tweets


@pytest.fixture(scope="session")
def edge_cases() -> list[str]:
    """Hand-written hard inputs: empty, emoji, accents, CJK, control chars, unknown-only."""
    return list(EDGE_CASES)


@pytest.fixture(scope="session")
def parity_corpus(real_corpus: list[str]) -> list[str]:
    """The real corpus followed by the edge cases."""
    return real_corpus + EDGE_CASES


@pytest.fixture(scope="session")
def model2vec_potion(potion_path: Path) -> Any:
    """potion-base-8M loaded with model2vec 0.10.0 (skips when model2vec is absent)."""
    model2vec = pytest.importorskip("model2vec")
    return model2vec.StaticModel.from_pretrained(str(potion_path))
