"""Per-character normalization tables, learnt from the tokenizers library itself.

For an eligible normalizer (see ``_spec``) the normalized text is the concatenation of
the normalized characters: every step (clean_text, CJK padding, lowercase, accent
stripping) looks at one code point at a time, except the canonical reordering inside
NFD/NFKD, which permutes runs of combining marks (ccc != 0). Such a run cannot cross
into a character whose decomposition starts with a starter (ccc == 0), and characters
removed entirely (e.g. nonspacing marks under strip_accents) cannot end up misplaced; so
with decomposition, a character is accepted when it vanishes or its decomposition starts
with a starter. Each character is normalized once by the library (``normalize_str``)
the first time it is seen and remembered; characters we cannot prove local (lone
surrogates; with decomposition, kept marks and code points unknown to this Python's
Unicode tables) map to ``UNSUPPORTED`` and send their text to the library.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

UNSUPPORTED = "\ufffe"
"""Translation of a character the fast path does not handle (a noncharacter: never output)."""

ASCII_WHITESPACE = b" \t\n\r\x0b\x0c"
"""What ``bytes.split()`` splits on: whitespace for every eligible pre-tokenizer."""

_MAX_TABLE = 1 << 16
"""Learnt non-ASCII characters kept before the table is reset (bounds its memory)."""


class CharTable(dict[int, str]):
    """``str.translate`` table: code point -> normalized text, filled on first use."""

    def __init__(
        self,
        normalize_one: Callable[[str], str],
        *,
        decomposition: str | None,
    ) -> None:
        super().__init__()
        self._normalize_one = normalize_one
        self._decomposition = decomposition
        self._fill_ascii()

    def _fill_ascii(self) -> None:
        for code in range(128):
            self[code] = self._normalize_one(chr(code))

    def _learn(self, code: int) -> str:
        char = chr(code)
        category = unicodedata.category(char)
        if category == "Cs":  # a lone surrogate: the library refuses the whole text
            return UNSUPPORTED
        out = self._normalize_one(char)
        if UNSUPPORTED in out:
            return UNSUPPORTED
        if self._decomposition is not None and out:
            # Canonical reordering only permutes runs of non-starters (ccc != 0). A kept
            # character whose decomposition starts with a starter ends any run, so runs
            # never cross characters; a character that vanishes entirely (a mark under
            # strip_accents) cannot be misplaced. Anything else, and code points this
            # Python's Unicode tables do not know, is left to the library.
            if category == "Cn":
                return UNSUPPORTED
            decomposed = unicodedata.normalize(self._decomposition, char)  # type: ignore[arg-type]
            if unicodedata.combining(decomposed[0]) != 0:
                return UNSUPPORTED
        return out

    def __missing__(self, code: int) -> str:
        if len(self) > _MAX_TABLE:
            self.clear()
            self._fill_ascii()
        out = self._learn(code)
        self[code] = out
        return out


class AsciiBytes:
    """A ``bytes.translate`` table equivalent to the normalizer on pure-ASCII text.

    ``ok`` is False when some ASCII character normalizes to more than one character or
    to a non-ASCII one; ASCII texts then take the general (``str.translate``) path.
    """

    def __init__(self, normalize_one: Callable[[str], str]) -> None:
        table = bytearray(range(256))
        delete = bytearray()
        ok = True
        for code in range(128):
            out = normalize_one(chr(code))
            if out == "":
                delete.append(code)
            elif len(out) == 1 and ord(out) < 128:
                table[code] = ord(out)
            else:
                ok = False
        self.ok = ok
        self.table = bytes(table)
        self.delete = bytes(delete)


class AsciiPieces:
    """Split an ASCII chunk into BertPreTokenizer pieces without calling the library.

    Each ASCII character is classified once by the library's pre-tokenizer (``"a" + c +
    "a"`` stays one word, or isolates ``c``). ``ok`` is False when some character behaves
    otherwise; chunks are then pre-tokenized by the library. ``alnum_is_word``: letters
    and digits are word characters, so a chunk of them is a single piece.
    """

    def __init__(self, pre_tokenize: Callable[[str], list[str]]) -> None:
        punct: list[int] = []
        ok = pre_tokenize("a") == ["a"]
        for code in range(128):
            if code in ASCII_WHITESPACE:
                continue
            char = chr(code)
            pieces = pre_tokenize("a" + char + "a")
            if pieces == ["a" + char + "a"]:
                continue
            if pieces == ["a", char, "a"]:
                punct.append(code)
            else:
                ok = False
        self.ok = ok
        self.alnum_is_word = ok and not any(bytes([c]).isalnum() for c in punct)
        escaped = re.escape(bytes(punct))
        pattern = b"[" + escaped + b"]|[^" + escaped + b"]+" if punct else rb"[\s\S]+"
        self._findall = re.compile(pattern).findall

    def split(self, chunk: bytes) -> list[bytes]:
        """The pre-tokenizer's pieces of a whitespace-free ASCII chunk."""
        pieces: list[bytes] = self._findall(chunk)
        return pieces
