"""The student's vocabulary: which token strings get a vector, and what the teacher sees for each.

The student tokenizer is the teacher's ``tokenizer.json`` with

* special tokens removed, except the unknown and padding tokens (they never occur in text,
  and a static model has no use for [CLS]/[SEP]/[MASK]);
* every token that ``token_remove_pattern`` matches (from its start) removed, except the
  unknown token, which WordPiece and WordLevel need;
* the remaining ids renumbered densely, in the teacher's order (that order is the frequency
  rank SIF weighting assumes);
* extra ``vocabulary`` words appended: a word that pre-tokenizes to one piece becomes a
  vocabulary entry (WordPiece, WordLevel, Unigram) or, for BPE, whose merges cannot produce
  new tokens, a whole-word added token; a phrase that pre-tokenizes to several pieces becomes
  a whole-word added token.  Either way the word gets one vector;
* no post-processor, padding or truncation, and byte-level pre-tokenizers set to add a
  prefix space, so a word at the start of a text tokenizes like one in the middle.

For every student id there is one teacher input sequence: ``[*prefix, id, *suffix]`` for a
teacher token (prefix/suffix are the special tokens the teacher's post-processor adds,
e.g. [CLS] and [SEP]), or the teacher's full encoding of an extra word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tokenizers import Tokenizer

from m2v_distill._errors import EmptyVocabularyError, UnsupportedTokenizerError
from m2v_distill._tokenizer_json import (
    append_model_pieces,
    check_ids,
    model_tokens,
    normalize,
    pre_tokenize,
    set_byte_level_prefix_space,
    special_affixes,
    unknown_token,
    unpadded,
    word_encoder,
    write_model_vocab,
)

SUPPORTED_MODELS = ("WordPiece", "BPE", "Unigram", "WordLevel")


@dataclass(frozen=True)
class VocabularyStats:
    """What building the student vocabulary kept, removed and added."""

    teacher_tokens: int
    removed_special: int
    removed_by_pattern: int
    added_words: int
    added_phrases: int
    duplicates: int
    empty: int

    @property
    def total_added(self) -> int:
        """Extra vocabulary entries that made it into the student."""
        return self.added_words + self.added_phrases


@dataclass(frozen=True)
class StudentVocabulary:
    """The student tokenizer and, for each of its ids, the teacher input to embed."""

    tokenizer: Tokenizer
    sequences: list[list[int]]
    stats: VocabularyStats

    @property
    def size(self) -> int:
        """Number of student ids (rows of the embedding matrix)."""
        return len(self.sequences)


@dataclass
class _Added:
    """An added token of the student (ids after the model vocabulary)."""

    content: str
    sequence: list[int]
    special: bool = False
    single_word: bool = True
    lstrip: bool = True
    normalized: bool = True

    def entry(self, token_id: int) -> dict[str, Any]:
        return {
            "id": token_id,
            "content": self.content,
            "single_word": self.single_word,
            "lstrip": self.lstrip,
            "rstrip": False,
            "normalized": self.normalized,
            "special": self.special,
        }


@dataclass
class _Plan:
    """The student vocabulary under construction."""

    kind: str
    prefix: list[int]
    suffix: list[int]
    keep_always: set[str]
    pattern: re.Pattern[str] | None
    tokens: list[str] = field(default_factory=list)  # model vocabulary, by student id
    sequences: list[list[int]] = field(default_factory=list)  # teacher input, by student id
    new_pieces: list[str] = field(default_factory=list)  # extra words in the model vocab
    added: list[_Added] = field(default_factory=list)  # added tokens, after the vocab
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def removed_by_pattern(self, token: str) -> bool:
        if self.pattern is not None and self.pattern.match(token):
            self.count("pattern")
            return True
        return False

    def known(self) -> set[str]:
        return {*self.tokens, *self.new_pieces}


def build_student_vocabulary(
    teacher: Tokenizer,
    *,
    pad_token: str | None = None,
    extra_words: Sequence[str] = (),
    remove_pattern: re.Pattern[str] | None = None,
) -> StudentVocabulary:
    """Derive the student tokenizer and the teacher input for every student token.

    ``pad_token`` names the teacher's padding token when the tokenizer file does not
    (transformers keeps it in its own config); it is kept like the unknown token.
    Raises :class:`EmptyVocabularyError` when no token is left and
    :class:`UnsupportedTokenizerError` for tokenizer models other than the four supported.
    """
    data: dict[str, Any] = json.loads(teacher.to_str())
    kind = data["model"].get("type")
    if kind not in SUPPORTED_MODELS:
        raise UnsupportedTokenizerError(
            f"the teacher's tokenizer model is {kind!r}; supported: {', '.join(SUPPORTED_MODELS)}"
        )
    if pad_token is None and isinstance(data.get("padding"), dict):
        pad_token = data["padding"].get("pad_token")
    teacher_tokens = model_tokens(data["model"])
    unknown = unknown_token(data["model"], teacher_tokens)
    prefix, suffix = special_affixes(unpadded(data))
    plan = _Plan(
        kind=kind,
        prefix=prefix,
        suffix=suffix,
        keep_always={token for token in (unknown, pad_token) if token is not None},
        pattern=remove_pattern,
    )
    added_entries: list[dict[str, Any]] = list(data.get("added_tokens") or [])
    dropped = {e["content"] for e in added_entries if e.get("special")} - plan.keep_always
    _keep_teacher_tokens(plan, teacher_tokens, dropped, unknown)
    _keep_teacher_added_tokens(plan, added_entries, dropped)

    encoder = word_encoder(json.loads(teacher.to_str()))
    set_byte_level_prefix_space(data)
    data.update(post_processor=None, padding=None, truncation=None, added_tokens=[])
    removed = {token for token in teacher_tokens if token is not None} - set(plan.tokens)
    write_model_vocab(data["model"], plan.tokens, removed, unknown)
    _add_extra_words(plan, Tokenizer.from_str(json.dumps(data)), encoder, extra_words)

    append_model_pieces(data["model"], kind, plan.new_pieces)
    data["added_tokens"] = _added_token_entries(plan, added_entries)
    if not any(token not in plan.keep_always for token in plan.known()) and not any(
        item.content not in plan.keep_always for item in plan.added
    ):
        raise EmptyVocabularyError(
            "no token is left to embed: token_remove_pattern removed every token of the "
            "teacher's vocabulary but the unknown and padding tokens"
        )
    student = Tokenizer.from_str(json.dumps(data))
    check_ids(student, data["added_tokens"], len(plan.sequences))
    stats = VocabularyStats(
        teacher_tokens=sum(token is not None for token in teacher_tokens),
        removed_special=plan.counts.get("special", 0),
        removed_by_pattern=plan.counts.get("pattern", 0),
        added_words=plan.counts.get("word", 0),
        added_phrases=plan.counts.get("phrase", 0),
        duplicates=plan.counts.get("duplicate", 0),
        empty=plan.counts.get("empty", 0),
    )
    return StudentVocabulary(tokenizer=student, sequences=plan.sequences, stats=stats)


def _keep_teacher_tokens(
    plan: _Plan, teacher_tokens: list[str | None], dropped: set[str], unknown: str | None
) -> None:
    """The teacher's model vocabulary minus dropped specials and pattern matches."""
    for teacher_id, token in enumerate(teacher_tokens):
        if token is None:
            continue
        if token in dropped:
            plan.count("special")
        elif token == unknown or not plan.removed_by_pattern(token):
            plan.tokens.append(token)
            plan.sequences.append([*plan.prefix, teacher_id, *plan.suffix])


def _keep_teacher_added_tokens(
    plan: _Plan, entries: list[dict[str, Any]], dropped: set[str]
) -> None:
    """Teacher added tokens outside its model vocabulary (user-added words, kept specials)."""
    in_vocab = set(plan.tokens)
    for entry in sorted(entries, key=lambda item: int(item["id"])):
        content = entry["content"]
        if content in in_vocab or content in dropped:
            continue
        if not entry.get("special") and plan.removed_by_pattern(content):
            continue
        plan.added.append(
            _Added(
                content=content,
                sequence=[*plan.prefix, int(entry["id"]), *plan.suffix],
                special=bool(entry.get("special")),
                single_word=bool(entry.get("single_word")),
                lstrip=bool(entry.get("lstrip")),
                normalized=bool(entry.get("normalized")),
            )
        )


def _add_extra_words(
    plan: _Plan, base: Tokenizer, encoder: Tokenizer, words: Sequence[str]
) -> None:
    """One student id per new word: a vocabulary piece, or a whole-word added token."""
    known = plan.known()
    added_contents = {item.content for item in plan.added}
    specials = len(plan.prefix) + len(plan.suffix)
    for word in words:
        text = normalize(base, word).strip()
        pieces = pre_tokenize(base, text) if text else []
        sequence = encoder.encode(word, add_special_tokens=True).ids if pieces else []
        if len(sequence) <= specials:
            plan.count("empty")
        elif len(pieces) == 1 and pieces[0] in known:
            plan.count("duplicate")
        elif len(pieces) == 1 and plan.kind != "BPE":
            if not plan.removed_by_pattern(pieces[0]):
                known.add(pieces[0])
                plan.new_pieces.append(pieces[0])
                plan.sequences.append(sequence)
                plan.count("word")
        elif text in added_contents:
            plan.count("duplicate")
        elif not plan.removed_by_pattern(text):
            added_contents.add(text)
            plan.added.append(_Added(text, sequence))
            plan.count("word" if len(pieces) == 1 else "phrase")


def _added_token_entries(
    plan: _Plan, teacher_entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The student's ``added_tokens``: its own added tokens after the model vocabulary, plus
    the kept specials (unknown, padding) that live in the vocabulary, so that their literal
    text still maps to them as in the teacher.  Appends the added tokens' sequences."""
    first = len(plan.sequences)
    entries = [item.entry(first + offset) for offset, item in enumerate(plan.added)]
    plan.sequences.extend(item.sequence for item in plan.added)
    vocab_ids = {token: index for index, token in enumerate([*plan.tokens, *plan.new_pieces])}
    for entry in teacher_entries:
        content = entry["content"]
        if content in plan.keep_always and content in vocab_ids:
            entries.append({**entry, "id": vocab_ids[content]})
    return sorted(entries, key=lambda entry: int(entry["id"]))
