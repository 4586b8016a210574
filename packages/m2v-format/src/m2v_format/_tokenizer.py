"""tokenizer.json: loading and checking (K1, K2), the unknown id (K3), median token length (I1)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from m2v_format._errors import InvalidTokenizerError

MODEL_TYPES = ("WordPiece", "BPE", "Unigram", "WordLevel")
"""Rule K1: the tokenizer model types a static model may use."""


def model_type(tokenizer: Tokenizer) -> str:
    """The tokenizer's model type (``WordPiece``, ``BPE``, ``Unigram`` or ``WordLevel``)."""
    return type(tokenizer.model).__name__


def _checked(load: Callable[[], Tokenizer], path: Path | None) -> Tokenizer:
    try:
        tokenizer = load()
    except Exception as error:
        raise InvalidTokenizerError(
            f"the tokenizers library cannot load it: {error}", path=path
        ) from None
    except BaseException as error:  # pyo3 turns Rust panics into a BaseException subclass
        if isinstance(error, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        raise InvalidTokenizerError(
            f"the tokenizers library crashed loading it: {error}", path=path
        ) from None
    kind = model_type(tokenizer)
    if kind not in MODEL_TYPES:
        raise InvalidTokenizerError(
            f"model type {kind} is not one of {', '.join(MODEL_TYPES)}", path=path
        )
    return without_padding_or_truncation(tokenizer)


def load_tokenizer(path: Path) -> Tokenizer:
    """Read and load ``tokenizer.json`` (K1), with padding and truncation disabled (K2).

    The file is read by the tokenizers library itself (no Python copy of its text).
    """
    try:
        with path.open("rb") as handle:
            start = b""
            while not start and (block := handle.read(4096)):
                start = block.lstrip(b" \t\r\n")
    except OSError as error:
        raise InvalidTokenizerError(
            f"cannot be read: {error.strerror or error}", path=path
        ) from None
    if not start.startswith(b"{"):
        raise InvalidTokenizerError("tokenizer.json is not a JSON object", path=path)
    return _checked(lambda: Tokenizer.from_file(str(path)), path)


def without_padding_or_truncation(tokenizer: Tokenizer) -> Tokenizer:
    """Disable padding and truncation (K2), in place."""
    if tokenizer.padding is not None:
        tokenizer.no_padding()
    if tokenizer.truncation is not None:
        tokenizer.no_truncation()
    return tokenizer


def copy_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    """An independent copy of ``tokenizer``."""
    return Tokenizer.from_str(tokenizer.to_str())


def missing_unknown_token(tokenizer: Tokenizer) -> str | None:
    """The ``unk_token`` a WordPiece, BPE or WordLevel model names but lacks, if any.

    The tokenizers library raises on any text with an unknown piece in that case.
    """
    token = getattr(tokenizer.model, "unk_token", None)
    if token is not None and tokenizer.token_to_id(token) is None:
        return str(token)
    return None


def unknown_token_id(tokenizer: Tokenizer) -> int | None:
    """Rule K3: the id whose occurrences are dropped before averaging, or ``None``.

    WordPiece, BPE and WordLevel: the id of ``model.unk_token`` (``None`` when unset or not in
    the vocabulary).  Unigram: ``model.unk_id`` (may be null).
    """
    model = tokenizer.model
    if hasattr(model, "unk_token"):
        token = model.unk_token
        if token is None:
            return None
        found = tokenizer.token_to_id(token)
        return None if found is None else int(found)
    document: Any = json.loads(tokenizer.to_str())
    unk_id = document.get("model", {}).get("unk_id")
    return unk_id if isinstance(unk_id, int) and not isinstance(unk_id, bool) else None


def vocab_size(tokenizer: Tokenizer) -> int:
    """V of rule T5: the number of distinct tokens, added tokens included.

    Equal to ``len(tokenizer.get_vocab(with_added_tokens=True))`` (what model2vec counts),
    computed without building that dictionary: the model's vocabulary size plus the added
    tokens that are not in the model's vocabulary.
    """
    model = tokenizer.model
    size = int(tokenizer.get_vocab_size(with_added_tokens=False))
    for token in tokenizer.get_added_tokens_decoder().values():
        if model.token_to_id(token.content) is None:
            size += 1
    return size


def vocabulary(tokenizer: Tokenizer) -> dict[str, int]:
    """Token to id, added tokens included."""
    return dict(tokenizer.get_vocab(with_added_tokens=True))


def median_token_length(vocab: dict[str, int]) -> int:
    """Rule I1: ``int(median(len(token)))`` over every token, in Unicode code points.

    An empty vocabulary gives 0.
    """
    if not vocab:
        return 0
    return int(statistics.median(len(token) for token in vocab))
