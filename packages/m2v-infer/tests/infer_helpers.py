"""Small models built in code, written with m2v_format.save_model, for reference tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from m2v_format import ModelConfig, StaticModelData, save_model
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

WORDS = [
    "the",
    "a",
    "an",
    "of",
    "to",
    "and",
    "in",
    "is",
    "was",
    "for",
    "on",
    "that",
    "with",
    "as",
    "by",
    "at",
    "from",
    "it",
    "this",
    "be",
    "are",
    "movie",
    "film",
    "good",
    "bad",
    "great",
    "plot",
    "actor",
    "story",
    "news",
    "market",
    "bank",
    "price",
    "government",
    "play",
    "un",
    "re",
    "view",
    "known",
]
SUFFIXES = ("##s", "##ed", "##ly", "##ing", "##known", "##view")


def wordpiece_tokenizer() -> Tokenizer:
    """A small BERT-style WordPiece tokenizer (lowercasing, accent stripping)."""
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS, *SUFFIXES]
    for char in "abcdefghijklmnopqrstuvwxyz0123456789.,!?:":
        tokens += [char, "##" + char]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.add_special_tokens(["[CLS]", "[SEP]", "[UNK]"])
    return tokenizer


def wordlevel_tokenizer() -> Tokenizer:
    """A whitespace WordLevel tokenizer (case-sensitive, one id per word)."""
    vocab = {"<unk>": 0}
    for word in ("the", "movie", "was", "good", "bad", "The", "news", "!", "?", "."):
        vocab.setdefault(word, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def unigram_tokenizer() -> Tokenizer:
    """A tiny Unigram tokenizer (SentencePiece-style metaspace)."""
    pieces = [("<unk>", 0.0)]
    for piece in (
        "▁the",
        "▁movie",
        "▁was",
        "▁good",
        "▁bad",
        "▁",
        "t",
        "h",
        "e",
        "m",
        "o",
        "v",
        "i",
        "w",
        "a",
        "s",
        "g",
        "d",
        "b",
        "n",
        "r",
        "y",
        "l",
        "c",
    ):
        pieces.append((piece, -float(len(pieces))))
    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=0, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    return tokenizer


def vocab_size(tokenizer: Tokenizer) -> int:
    """V of rule T5 (added tokens included)."""
    return len(tokenizer.get_vocab(with_added_tokens=True))


def make_model(
    folder: Path,
    tokenizer: Tokenizer,
    *,
    dim: int = 16,
    dtype: str = "float32",
    weights: bool = False,
    rows: int | None = None,
    normalize: bool = True,
    max_length: int | str | None = "absent",
    scale: float | None = None,
    values: np.ndarray[Any, Any] | None = None,
    seed: int = 0,
) -> Path:
    """Write a small model: random embeddings (or ``values``), optional weights, optional
    vocabulary quantization (``rows`` < V gives a mapping), in the requested dtype."""
    rng = np.random.default_rng(seed)
    size = vocab_size(tokenizer)
    table_rows = size if rows is None else rows
    if values is None:
        table = rng.normal(size=(table_rows, dim)).astype(np.float32)
    else:
        table = np.asarray(values)
    embeddings_scale: float | None = None
    if dtype == "int8":
        embeddings = rng.integers(-127, 128, size=table.shape).astype(np.int8)
        embeddings_scale = scale
    else:
        embeddings = table.astype(dtype)
    config: dict[str, Any] = {"normalize": normalize}
    if max_length != "absent":
        config["max_length"] = max_length
    data = StaticModelData(
        embeddings=embeddings,
        tokenizer=tokenizer,
        config=ModelConfig.from_dict(config),
        weights=rng.uniform(0.1, 2.0, size=size).astype(np.float32) if weights else None,
        mapping=rng.integers(0, table_rows, size=size).astype(np.int32)
        if rows is not None
        else None,
        embeddings_scale=embeddings_scale,
    )
    return save_model(folder, data)


SMALL_TEXTS = [
    "",
    "the movie was good",
    "The MOVIE was Bad!",
    "unknown words: zyx qqq",
    "playing reviews reviewed unknownly",
    "😀 emoji only 😀",
    "東京",
    "the " * 300,
    "government market bank price news " * 40,
    "a" * 150,
    "Café naïve",
    "[UNK] [CLS] the [SEP]",
]
