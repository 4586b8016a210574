"""The fixed vocabularies the tests are written against, and the tokenizers built on them.

* ``TINY_WORDS``: twelve words, ``[UNK]`` = 0 ... ``world`` = 11; the default vocabulary of
  :func:`m2v_testkit.tiny_model` (format tests name these ids).
* ``SMALL_*``: movie/news words with WordPiece suffixes (``un ##known ##ly``), the
  tokenizers of the reference-parity tests (WordPiece, WordLevel, Unigram).
* ``TEACHER_*``: the vocabularies of the tiny distillation teachers, dressed like hub
  tokenizers (BERT WordPiece with ``[unused]`` tokens and a padding block, RoBERTa and
  GPT-2 byte-level BPE, XLM-R Unigram).
"""

from __future__ import annotations

from tokenizers import Tokenizer

from m2v_testkit._tokenizers import (
    byte_level_bpe_tokenizer,
    unigram_tokenizer,
    wordlevel_tokenizer,
    wordpiece_tokenizer,
)

_LETTERS = "abcdefghijklmnopqrstuvwxyz"

TINY_WORDS: tuple[str, ...] = (
    "[UNK]", "[PAD]", "the", "cat", "sat", "on", "mat", "a", "dog", "ran", "hello", "world",
)  # fmt: skip
"""Twelve words: id i is ``TINY_WORDS[i]``."""


def tiny_tokenizer(*, unk_token: str | None = "[UNK]") -> Tokenizer:
    """The WordLevel tokenizer over :data:`TINY_WORDS` (no unknown token with None)."""
    return wordlevel_tokenizer(TINY_WORDS, unk_token=unk_token)


# -- the reference-parity tokenizers -----------------------------------------------------

SMALL_WORDS: tuple[str, ...] = (
    "the", "a", "an", "of", "to", "and", "in", "is", "was", "for", "on", "that", "with", "as",
    "by", "at", "from", "it", "this", "be", "are", "movie", "film", "good", "bad", "great",
    "plot", "actor", "story", "news", "market", "bank", "price", "government", "play", "un",
    "re", "view", "known",
)  # fmt: skip
SMALL_SUFFIXES: tuple[str, ...] = ("##s", "##ed", "##ly", "##ing", "##known", "##view")


def small_wordpiece() -> Tokenizer:
    """WordPiece over the small words, suffixes and single characters (with accent
    stripping, no post-processor); [CLS], [SEP] and [UNK] are special."""
    characters = [t for c in _LETTERS + "0123456789.,!?:" for t in (c, "##" + c)]
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *SMALL_WORDS, *SMALL_SUFFIXES, *characters]
    return wordpiece_tokenizer(
        vocabulary, special_tokens=["[CLS]", "[SEP]", "[UNK]"], strip_accents=True
    )


def small_wordlevel() -> Tokenizer:
    """A case-sensitive WordLevel tokenizer (``<unk>`` = 0) over a few words and marks."""
    words = ("the", "movie", "was", "good", "bad", "The", "news", "!", "?", ".")
    return wordlevel_tokenizer(["<unk>", *words], unk_token="<unk>")


def small_unigram() -> Tokenizer:
    """A Unigram tokenizer (``<unk>`` = 0) over five words and their letters."""
    pieces = ["▁the", "▁movie", "▁was", "▁good", "▁bad", "▁", *"themoviwasgdbnrylc"]
    return unigram_tokenizer(
        [("<unk>", 0.0), *((piece, -float(i + 1)) for i, piece in enumerate(pieces))], unk_id=0
    )


# -- the distillation teachers' tokenizers -----------------------------------------------

TEACHER_WORDS: tuple[str, ...] = (
    "the", "a", "cat", "dog", "sat", "on", "mat", "king", "queen", "man", "woman",
    "apple", "banana", "fruit", "car", "road", "drive", "fast", "slow", "happy", "sad",
    "new", "york", "city", "token", "model", "static", "embedding", "word", "sentence",
)  # fmt: skip
TEACHER_SUFFIXES: tuple[str, ...] = ("##s", "##ing", "##ed", "##ization", "##er", "##ly")
TEACHER_SPECIALS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
"""The WordPiece teacher's special tokens ([PAD] = 0, [UNK] = 1, ...)."""

TEACHER_CORPUS: tuple[str, ...] = (
    "the cat sat on the mat",
    "the dog sat on the road",
    "a king and a queen",
    "a man and a woman drive a car fast",
    "happy people eat an apple and a banana",
    "new york city is a city",
    "static embedding models embed every token",
    "a sentence is made of words and tokens",
    "slow cars and fast cars on the road",
) * 3
"""What the byte-level BPE teachers are trained on."""

XLMR_SPECIALS: tuple[str, ...] = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def teacher_wordpiece() -> Tokenizer:
    """BERT-style uncased WordPiece as saved on the hub: [CLS] ... [SEP] template, three
    [unusedN] tokens, a WordPiece decoder and a fixed padding block of 16."""
    vocabulary = [
        *TEACHER_SPECIALS,
        *(f"[unused{i}]" for i in range(3)),
        *_LETTERS,
        *(f"##{c}" for c in _LETTERS),
        ".",
        ",",
        "!",
        *TEACHER_WORDS,
        *TEACHER_SUFFIXES,
    ]
    return wordpiece_tokenizer(
        vocabulary, special_tokens=TEACHER_SPECIALS, bert_template=True, padding_length=16
    )


def teacher_bpe(*, roberta: bool = True) -> Tokenizer:
    """Byte-level BPE trained on :data:`TEACHER_CORPUS`: RoBERTa or GPT-2 flavour."""
    return byte_level_bpe_tokenizer(
        TEACHER_CORPUS,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        if roberta
        else ["<|endoftext|>"],
        post_processor="roberta" if roberta else "byte-level",
    )


def teacher_unigram() -> Tokenizer:
    """An XLM-R-style Unigram tokenizer: NFKC + lowercase, ``<s> ... </s>``, ``<unk>`` = 3."""
    pieces: list[tuple[str, float]] = [(token, 0.0) for token in XLMR_SPECIALS[:4]]
    pieces += [("▁", -2.0)]
    pieces += [(f"▁{word}", -5.0 - index * 0.01) for index, word in enumerate(TEACHER_WORDS)]
    pieces += [(suffix[2:], -6.0) for suffix in TEACHER_SUFFIXES]
    pieces += [(c, -8.0) for c in _LETTERS]
    pieces += [(f"▁{c}", -9.0) for c in _LETTERS]  # "▁a" and "s" repeat: the first is kept
    pieces += [(".", -7.0), (",", -7.0), ("<mask>", 0.0)]
    return unigram_tokenizer(
        pieces, unk_id=3, nfkc_lowercase=True, xlmr_template=True, special_tokens=XLMR_SPECIALS
    )
