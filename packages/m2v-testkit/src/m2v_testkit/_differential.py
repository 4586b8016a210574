"""Pieces of differential tokenization tests: the tokenizers library as the reference
(rules I2-I4), plain pooling, stress texts, and variants of a real tokenizer's pipeline.

A faster encoder is checked by giving it and the library the same texts; these helpers
compute the library's answer and generate the texts.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from m2v_format import mean_pool, normalize_rows
from tokenizers import AddedToken, Tokenizer
from tokenizers import normalizers as norm
from tokenizers import pre_tokenizers as pre

TRICKY_CHARACTERS = (
    "\t\n\r\x0b\x0c\x00\x01\x1c\x1f\x7f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f"
    "\u3000\u200b\u200c\u200d\u2060\ufeff\ufffd\ufffe\uffff\u00ad\u180e"
    "éèàùçÉÀÑñöÖßÆæøØłŁİıΣσςΑΩабвГД中国日本語한국어ภาษา€£¥©®°±µ¶·¿¡«»–—‘’“”…•‰"  # noqa: RUF001
    "\u0301\u0308\u0327\u0323\u0345\u20dd\u0903\u093f\u0e31\u302a\u0f73"
    "ﬁﬂ½²ⅣⓐＡｂｃ＂！"  # noqa: RUF001
    "😀🎉🥳🤖👍🏽🏳️‍🌈\U00010000\U000e0001\U0010ffff\U00020000\ue000"
)
"""Characters that stress each rule: control and format characters, every kind of
whitespace, zero-width characters, noncharacters, combining marks (also ones with a
decomposition starting with a mark), compatibility forms, CJK, emoji, private use."""

ASCII_CHARACTERS = "abcXYZ019 ,.!?'\"-()[]{}#$%&*+/:;<=>@\\^_`|~"
SPECIAL_TOKEN_TEXTS = ("[CLS]", "[SEP]", "[UNK]", "[unk]", "[MASK]", "[PAD]", "[cls]")


def reference_ids(
    tokenizer: Tokenizer,
    texts: Sequence[str],
    max_length: int | None,
    median_length: int,
    unknown_id: int | None,
    *,
    plain: Sequence[list[int]] | None = None,
) -> list[list[int]]:
    """Rules I2-I4 with the tokenizers library: cut text, encode, first L ids, drop unk.

    ``plain`` may hold the untruncated ids of ``texts``; texts no longer than the cut
    then reuse them instead of being encoded again (same result, less time).
    """
    cut = None if max_length is None else max_length * median_length
    todo = [i for i, text in enumerate(texts) if plain is None or (cut and len(text) > cut)]
    encoded = tokenizer.encode_batch_fast(
        [texts[i][:cut] if cut else texts[i] for i in todo], add_special_tokens=False
    )
    ids: list[list[int]] = [list(row) for row in plain] if plain is not None else []
    if plain is None:
        ids = [[] for _ in texts]
    for i, encoding in zip(todo, encoded, strict=True):
        ids[i] = list(encoding.ids)
    out = []
    for row in ids:
        if max_length is not None:
            row = row[:max_length]
        out.append([t for t in row if t != unknown_id])
    return out


def pool_segments(
    encoder: Any,
    rows: np.ndarray[Any, Any],
    texts: list[str],
    max_length: int | None,
    *,
    normalize: bool = False,
) -> np.ndarray[Any, Any]:
    """What the engine computes from the segments of ``encoder`` (anything with a
    ``segments(texts, max_length)`` method): m2v_format's pooling rules."""
    ids, counts, order = encoder.segments(texts, max_length)
    out = np.empty((len(texts), rows.shape[1]), dtype=np.float32)
    mean_pool(np.asarray(rows, dtype=np.float32), ids, counts, out=out, where=order)
    return normalize_rows(out) if normalize else out


def reference_pool(rows: np.ndarray[Any, Any], ids: list[list[int]]) -> np.ndarray[Any, Any]:
    """Plain per-text float32 mean of rows (rule I5/I6), one row at a time."""
    out = np.zeros((len(ids), rows.shape[1]), dtype=np.float32)
    for index, row_ids in enumerate(ids):
        if row_ids:
            total = np.zeros(rows.shape[1], dtype=np.float32)
            for token in row_ids:
                total = total + rows[token]
            out[index] = total / np.float32(len(row_ids))
    return out


def random_texts(rng: random.Random, count: int) -> list[str]:
    """``count`` texts mixing ASCII, tricky characters, special-token text and long words."""
    texts = []
    for _ in range(count):
        parts: list[str] = []
        for _ in range(rng.choice([0, 1, 3, 10, 40, 200])):
            r = rng.random()
            if r < 0.02:
                parts.append(rng.choice(SPECIAL_TOKEN_TEXTS))
            elif r < 0.04:
                parts.append("a" * rng.choice([99, 100, 101, 150]))
            elif r < 0.06:
                code = rng.randrange(0x80, 0x30000)
                parts.append("x" if 0xD800 <= code < 0xE000 else chr(code))
            elif r < 0.3:
                parts.append(rng.choice(TRICKY_CHARACTERS))
            else:
                parts.append(rng.choice(ASCII_CHARACTERS))
        texts.append("".join(parts))
    return texts


def tokenizer_variant(
    base: Path,
    normalizer: Any,
    pre_tokenizer: Any,
    *,
    word_level: bool = False,
    added: Sequence[str | AddedToken] = (),
) -> Tokenizer:
    """potion's vocabulary with another normalizer / pre-tokenizer / model / added tokens."""
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    if added:
        tokenizer.add_tokens(list(added))
    if word_level:
        data = json.loads(tokenizer.to_str())
        vocab = data["model"]["vocab"]
        data["model"] = {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
        tokenizer = Tokenizer.from_str(json.dumps(data))
    return tokenizer


@dataclass(frozen=True)
class _Variant:
    """A change to potion's tokenizer pipeline, and whether the fast path must accept it."""

    normalizer: Any
    pre_tokenizer: Any
    eligible: bool
    word_level: bool = False
    added: tuple[str | AddedToken, ...] = ()


_BERT = norm.BertNormalizer()
_BERT_PRE = pre.BertPreTokenizer()
_VARIANTS: dict[str, _Variant] = {
    "bert-cased-raw": _Variant(
        norm.BertNormalizer(
            clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=False
        ),
        _BERT_PRE,
        eligible=True,
    ),
    "nfd-lower-strip": _Variant(
        norm.Sequence([norm.NFD(), norm.Lowercase(), norm.StripAccents()]), _BERT_PRE, True
    ),
    "nfkd-lower": _Variant(norm.Sequence([norm.NFKD(), norm.Lowercase()]), _BERT_PRE, True),
    "no-normalizer": _Variant(None, _BERT_PRE, True),
    "whitespace": _Variant(_BERT, pre.Whitespace(), True),
    "whitespace-split": _Variant(_BERT, pre.WhitespaceSplit(), True),
    "pre-sequence": _Variant(_BERT, pre.Sequence([pre.WhitespaceSplit(), _BERT_PRE]), True),
    "word-level": _Variant(_BERT, _BERT_PRE, True, word_level=True),
    "added-tokens": _Variant(
        _BERT,
        _BERT_PRE,
        True,
        added=(
            "foo bar",
            AddedToken("Qux", normalized=True),
            AddedToken("zz", single_word=True),
            AddedToken("é", normalized=False),
            AddedToken("abq", lstrip=True, rstrip=True),
        ),
    ),
    "nfc": _Variant(norm.Sequence([norm.NFC(), norm.Lowercase()]), _BERT_PRE, False),
    "metaspace": _Variant(_BERT, pre.Metaspace(), False),
    "byte-level": _Variant(_BERT, pre.ByteLevel(), False),
}

TOKENIZER_VARIANTS: tuple[str, ...] = tuple(_VARIANTS)
"""The names of :func:`tokenizer_variants` (for ``pytest.mark.parametrize``)."""


def tokenizer_variants(base: Path) -> dict[str, tuple[Tokenizer, bool]]:
    """Named variants of the tokenizer in ``base`` and whether the fast path should accept
    them: other normalizers and pre-tokenizers, WordLevel, added tokens."""
    return {
        name: (
            tokenizer_variant(
                base,
                variant.normalizer,
                variant.pre_tokenizer,
                word_level=variant.word_level,
                added=variant.added,
            ),
            variant.eligible,
        )
        for name, variant in _VARIANTS.items()
    }
