"""``tokenizer.json`` surgery: read and rewrite the parts of a tokenizer the student changes.

Pure functions over the parsed JSON document (and a few ``tokenizers`` calls): the model
vocabulary by id, the unknown token, the special ids a post-processor adds, byte-level
prefix spaces, vocabulary replacement (with BPE merges kept consistent) and additions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from tokenizers import Tokenizer

_PROBE_TEXT = "a"


def model_tokens(model: dict[str, Any]) -> list[str | None]:
    """The model vocabulary indexed by id (``None`` for ids no token uses)."""
    if model["type"] == "Unigram":
        seen: set[str] = set()
        pieces: list[str | None] = []
        for piece, _score in model["vocab"]:
            # A repeated piece is unreachable (lookups find the first one): leave it out.
            pieces.append(None if piece in seen else str(piece))
            seen.add(piece)
        return pieces
    vocab: dict[str, int] = model["vocab"]
    tokens: list[str | None] = [None] * (max(vocab.values(), default=-1) + 1)
    for token, token_id in vocab.items():
        tokens[token_id] = token
    return tokens


def unknown_token(model: dict[str, Any], tokens: Sequence[str | None]) -> str | None:
    """The unknown token's string (K3: ``unk_token``, or the piece at Unigram's ``unk_id``)."""
    if model["type"] == "Unigram":
        unk_id = model.get("unk_id")
        return tokens[unk_id] if isinstance(unk_id, int) and 0 <= unk_id < len(tokens) else None
    unk = model.get("unk_token")
    return str(unk) if unk is not None else None


def special_affixes(teacher: Tokenizer) -> tuple[list[int], list[int]]:
    """The ids the teacher's post-processor puts before and after a single sequence."""
    bare = teacher.encode(_PROBE_TEXT, add_special_tokens=False).ids
    full = teacher.encode(_PROBE_TEXT, add_special_tokens=True).ids
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start], full[start + len(bare) :]
    return [], []


def _byte_level_nodes(node: Any) -> Iterable[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "ByteLevel":
            yield node
        for child in node.get("pretokenizers") or []:
            yield from _byte_level_nodes(child)


def set_byte_level_prefix_space(data: dict[str, Any]) -> None:
    """Make every ByteLevel pre-tokenizer (also inside a Sequence) add a prefix space."""
    for node in _byte_level_nodes(data.get("pre_tokenizer")):
        node["add_prefix_space"] = True


def unpadded(data: dict[str, Any]) -> Tokenizer:
    """A tokenizer from ``data`` with its padding and truncation switched off."""
    return Tokenizer.from_str(json.dumps({**data, "padding": None, "truncation": None}))


def word_encoder(data: dict[str, Any]) -> Tokenizer:
    """The teacher tokenizer, with a prefix space for byte-level BPE and no padding."""
    set_byte_level_prefix_space(data)
    return unpadded(data)


def normalize(tokenizer: Tokenizer, text: str) -> str:
    """``text`` through the tokenizer's normalizer (unchanged without one)."""
    normalizer = tokenizer.normalizer
    return text if normalizer is None else str(normalizer.normalize_str(text))


def pre_tokenize(tokenizer: Tokenizer, text: str) -> list[str]:
    """The pieces the tokenizer's pre-tokenizer splits ``text`` into."""
    pre_tokenizer = tokenizer.pre_tokenizer
    if pre_tokenizer is None:
        return [text]
    return [piece for piece, _offsets in pre_tokenizer.pre_tokenize_str(text)]


def _merge_parts(merge: Any) -> tuple[str, str]:
    if isinstance(merge, str):
        left, _, right = merge.partition(" ")
        return left, right
    return str(merge[0]), str(merge[1])


def write_model_vocab(
    model: dict[str, Any], tokens: list[str], removed: set[str], unknown: str | None
) -> None:
    """Replace the model's vocabulary by ``tokens`` (dense ids), dropping orphaned merges."""
    kind = model["type"]
    if kind == "Unigram":
        scores: dict[str, float] = {}
        for piece, score in model["vocab"]:
            scores.setdefault(str(piece), float(score))
        model["vocab"] = [[token, scores[token]] for token in tokens]
        model["unk_id"] = tokens.index(unknown) if unknown in scores else None
        return
    model["vocab"] = {token: new_id for new_id, token in enumerate(tokens)}
    if kind == "BPE" and removed:
        prefix = model.get("continuing_subword_prefix") or ""
        kept = []
        for merge in model.get("merges") or []:
            left, right = _merge_parts(merge)
            joined = left + (right[len(prefix) :] if prefix and right.startswith(prefix) else right)
            if not ({left, right, joined} & removed):
                kept.append(merge)
        model["merges"] = kept


def append_model_pieces(model: dict[str, Any], kind: str, pieces: list[str]) -> None:
    """Add whole-word pieces to a WordPiece, WordLevel or Unigram vocabulary."""
    if kind == "Unigram":
        scores = [float(score) for _piece, score in model["vocab"]]
        best = max(scores, default=0.0)
        # A whole word scoring at least as high as any piece beats every split into pieces
        # (each of which scores <= best <= 0), so Viterbi picks it.
        score = min(best, 0.0)
        model["vocab"].extend([piece, score] for piece in pieces)
        return
    vocab: dict[str, int] = model["vocab"]
    for piece in pieces:
        vocab[piece] = len(vocab)


def check_ids(student: Tokenizer, added_tokens: list[dict[str, Any]], rows: int) -> None:
    """Assert the student has exactly ``rows`` ids and every added token kept its id."""
    size = student.get_vocab_size(with_added_tokens=True)
    if size != rows:
        raise AssertionError(f"student tokenizer has {size} ids for {rows} vectors")
    for entry in added_tokens:
        if student.token_to_id(entry["content"]) != entry["id"]:
            raise AssertionError(f"added token {entry['content']!r} did not keep id {entry['id']}")
