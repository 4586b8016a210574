"""Hand-written texts that probe tokenization and pooling edge cases."""

from __future__ import annotations

EDGE_CASES: tuple[str, ...] = (
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
)
"""Hand-picked edge cases: empty, whitespace, emoji, accents, scripts, control characters,
special-token text, only-unknown strings and very long inputs (truncation)."""

SMALL_TEXTS: tuple[str, ...] = (
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
)
"""Short texts over the small vocabularies (``SMALL_WORDS``): known words, suffix splits
(``unknownly``), unknown words, emoji, CJK, accents, special-token text, long repeats."""
