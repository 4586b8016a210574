"""Decide whether a tokenizer's pipeline can be replayed word by word, exactly.

The fast path splits normalized text at ASCII whitespace and memoizes each piece
("chunk"). That is exact only when the pipeline is *local*:

* the normalizer acts on each code point on its own (BertNormalizer, Lowercase, NFD,
  NFKD, StripAccents, or a Sequence of them; composition forms such as NFC, and Replace,
  Prepend, Strip, Precompiled are context dependent, so not eligible);
* the pre-tokenizer never joins text across whitespace (BertPreTokenizer, Whitespace,
  WhitespaceSplit, or a Sequence of them);
* the model tokenizes each pre-tokenized word on its own, deterministically (WordPiece,
  WordLevel, BPE without dropout, Unigram).

Added tokens are matched by the library *before* normalization; texts in which one could
match are sent to the library instead (see ``_encoder``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_LOCAL_NORMALIZERS = frozenset({"BertNormalizer", "Lowercase", "NFD", "NFKD", "StripAccents"})
_LOCAL_PRE_TOKENIZERS = frozenset({"BertPreTokenizer", "Whitespace", "WhitespaceSplit"})
_DETERMINISTIC_MODELS = frozenset({"WordPiece", "WordLevel", "BPE", "Unigram"})


@dataclass(frozen=True)
class PipelineSpec:
    """What the fast path needs to know about a tokenizer.json.

    ``reason`` is ``None`` when the pipeline is eligible, else why not (for diagnostics).
    """

    reason: str | None
    normalizer_types: tuple[str, ...] = ()
    decomposes: bool = False  # NFD/NFKD happen somewhere (explicitly or via strip_accents)
    compatibility: bool = False  # NFKD
    bert_pre_tokenizer: bool = False  # exactly BertPreTokenizer (enables the ASCII shortcut)
    model_type: str = ""
    wordpiece_vocab: dict[str, int] = field(default_factory=dict)
    wordpiece_max_chars: int = 100
    added_contents: tuple[str, ...] = ()
    added_normalized: tuple[bool, ...] = ()  # per added token: matched after normalization

    @property
    def eligible(self) -> bool:
        """True when the word-level fast path reproduces the library exactly."""
        return self.reason is None


def _flatten(node: Any, key: str) -> list[dict[str, Any]] | None:
    """A component and its Sequence children as a flat list; None for a malformed node."""
    if node is None:
        return []
    if not isinstance(node, dict):
        return None
    if node.get("type") == "Sequence":
        children = node.get(key)
        if not isinstance(children, list):
            return None
        out: list[dict[str, Any]] = []
        for child in children:
            flat = _flatten(child, key)
            if flat is None:
                return None
            out.extend(flat)
        return out
    return [node]


def analyze(tokenizer_json: str | dict[str, Any]) -> PipelineSpec:
    """Read a tokenizer.json (text or parsed) and decide fast-path eligibility."""
    data: Any = json.loads(tokenizer_json) if isinstance(tokenizer_json, str) else tokenizer_json
    if not isinstance(data, dict):
        return PipelineSpec(reason="tokenizer.json is not an object")

    added = data.get("added_tokens") or []
    tokens = [token for token in added if isinstance(token, dict) and "content" in token]
    contents = tuple(str(token["content"]) for token in tokens)
    matched_normalized = tuple(bool(token.get("normalized", True)) for token in tokens)

    normalizers = _flatten(data.get("normalizer"), "normalizers")
    if normalizers is None:
        return PipelineSpec(reason="malformed normalizer")
    types = tuple(str(n.get("type")) for n in normalizers)
    for kind in types:
        if kind not in _LOCAL_NORMALIZERS:
            return PipelineSpec(reason=f"normalizer {kind} is not per-character")
    decomposes = any(t in ("NFD", "NFKD") for t in types)
    for node in normalizers:
        if node.get("type") == "BertNormalizer":
            strip = node.get("strip_accents")
            if strip is None:
                strip = node.get("lowercase", True)
            if strip:
                decomposes = True

    pre = _flatten(data.get("pre_tokenizer"), "pretokenizers")
    if pre is None or not pre:
        return PipelineSpec(reason="no whitespace-splitting pre-tokenizer")
    pre_types = [str(p.get("type")) for p in pre]
    for kind in pre_types:
        if kind not in _LOCAL_PRE_TOKENIZERS:
            return PipelineSpec(reason=f"pre-tokenizer {kind} is not whitespace-local")

    model = data.get("model")
    if not isinstance(model, dict):
        return PipelineSpec(reason="no model")
    model_type = str(model.get("type"))
    if model_type not in _DETERMINISTIC_MODELS:
        return PipelineSpec(reason=f"model {model_type} not supported")
    if model_type == "BPE" and model.get("dropout") not in (None, 0, 0.0):
        return PipelineSpec(reason="BPE dropout is random")

    vocab: dict[str, int] = {}
    max_chars = 100
    if model_type == "WordPiece":
        raw_vocab = model.get("vocab")
        if not isinstance(raw_vocab, dict):
            return PipelineSpec(reason="WordPiece without a vocabulary")
        vocab = {str(k): int(v) for k, v in raw_vocab.items()}
        unk = model.get("unk_token")
        if unk not in vocab:
            # The library raises on unknown words then; let it do so itself.
            return PipelineSpec(reason="WordPiece unk_token missing from the vocabulary")
        max_chars = int(model.get("max_input_chars_per_word", 100))

    return PipelineSpec(
        reason=None,
        normalizer_types=types,
        decomposes=decomposes,
        compatibility="NFKD" in types,
        bert_pre_tokenizer=pre_types == ["BertPreTokenizer"],
        model_type=model_type,
        wordpiece_vocab=vocab,
        wordpiece_max_chars=max_chars,
        added_contents=contents,
        added_normalized=matched_normalized,
    )
