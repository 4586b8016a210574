"""FastEncoder: texts -> token ids, exactly as the tokenizers library would.

Per internal batch:

1. Rule I2 (``m2v_format.cut_texts``): cut each text to ``max_length * median_token_length``
   code points.
2. Route texts. Pure-ASCII texts are joined (separator ``" \\xff "``), encoded to
   latin-1 and normalized by one ``bytes.translate`` (lowercase, control characters
   deleted, all learnt from the library). Other texts are normalized by ``str.translate``
   with a per-character table learnt lazily from the library (``_chars``); a text with a
   character the table cannot prove local, or in which an added token could match, goes
   to the library (``encode_batch_fast``) instead.
3. ``bytes.split()`` cuts the normalized batch into chunks at ASCII whitespace; the memo
   (``_cache``) maps each chunk to its ids; unseen chunks are pre-tokenized and tokenized
   by the library's own pre-tokenizer and model (with a shortcut for ASCII under
   BertPreTokenizer and for whole WordPiece words that are in the vocabulary).
4. Chunk ids are expanded with numpy; when no text needs rule I3's cut, the ids the memo
   keeps per chunk (rule I4 applied once, by ``m2v_format.kept_ids``) are expanded
   directly; otherwise all ids are expanded and ``m2v_format.kept_ids`` applies I3 then I4.

Texts the library tokenizes go through the same ``m2v_format.kept_ids``.  Pooling is not
done here: ``m2v_format.mean_pool`` takes the segments.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
from m2v_format import (
    InvalidArgumentError,
    InvalidInputError,
    cut_texts,
    id_lists,
    id_segments,
    kept_ids,
    median_token_length,
)
from tokenizers import Tokenizer

from m2v_infer._fastpath._cache import SEPARATOR, ChunkCache
from m2v_infer._fastpath._chars import UNSUPPORTED, AsciiBytes, AsciiPieces, CharTable
from m2v_infer._fastpath._spec import PipelineSpec, analyze

_JOIN_STR = " \xff "
_LONG_TEXT = 1 << 20
"""Characters above which a text is encoded in pieces (without a token limit only)."""
_PIECE = 1 << 16
"""About this many characters per piece of a long text (cut at a space)."""
_JOIN_BYTES = b" " + SEPARATOR + b" "

IntArray = np.ndarray[Any, np.dtype[np.int64]]


def _load_tokenizer(source: object) -> tuple[Any, str]:
    if isinstance(source, Tokenizer):
        text = source.to_str()
    elif isinstance(source, dict):
        text = json.dumps(source)
    elif isinstance(source, os.PathLike):
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    elif isinstance(source, str):
        text = source
    else:
        raise TypeError(f"unsupported tokenizer source: {type(source).__name__}")
    tokenizer = Tokenizer.from_str(text)  # a private copy: we change its settings
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer, text


class FastEncoder:
    """Exact, memoized tokenization (rules I1-I4) for one tokenizer.

    ``unknown_id`` is rule K3's id (dropped after the ``max_length`` cut).
    ``median_length`` is rule I1's value (computed when None). ``cache_size`` bounds the
    memo in chunks (see ``_cache``); ``batch_size`` is the internal batch. Tokenizers
    whose pipeline is not eligible (``spec.reason``) are still served exactly, by the
    library for every text (``fast=False`` forces that).

    Not thread-safe when eligible: the memo is shared mutable state. Serialize calls
    (e.g. a lock around :meth:`segments`) and pool outside the lock.
    ``fast_texts`` / ``fallback_texts`` count texts served by each path.
    """

    def __init__(
        self,
        tokenizer: object,
        *,
        unknown_id: int | None,
        median_length: int | None = None,
        cache_size: int = 100_000,
        batch_size: int = 2048,
        fast: bool = True,
    ) -> None:
        self.tokenizer, text = _load_tokenizer(tokenizer)
        self.spec: PipelineSpec = analyze(text) if fast else PipelineSpec(reason="disabled")
        self.unknown_id = unknown_id
        self.median_length = (
            median_token_length(self.tokenizer.get_vocab())
            if median_length is None
            else median_length
        )
        if batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.fallback_texts = 0
        self.fast_texts = 0
        self._encode_batch = getattr(self.tokenizer, "encode_batch_fast", None) or (
            self.tokenizer.encode_batch
        )
        if self.spec.eligible:
            self._setup_fast(cache_size)

    # ----------------------------------------------------------------- set-up

    def _setup_fast(self, cache_size: int) -> None:
        spec = self.spec
        normalizer = self.tokenizer.normalizer
        pre_tokenizer = self.tokenizer.pre_tokenizer
        model = self.tokenizer.model

        def normalize_one(text: str) -> str:
            return text if normalizer is None else str(normalizer.normalize_str(text))

        def library_pieces(text: str) -> list[str]:
            return [piece for piece, _ in pre_tokenizer.pre_tokenize_str(text)]

        decomposition = None
        if spec.decomposes:
            decomposition = "NFKD" if spec.compatibility else "NFD"
        self._chars = CharTable(normalize_one, decomposition=decomposition)
        self._ascii = AsciiBytes(normalize_one)
        ascii_pieces = AsciiPieces(library_pieces) if spec.bert_pre_tokenizer else None
        self._ascii_pieces = ascii_pieces if ascii_pieces is not None and ascii_pieces.ok else None
        self._alnum_is_word = self._ascii_pieces is not None and self._ascii_pieces.alnum_is_word
        self._library_pieces = library_pieces
        self._model_tokenize = model.tokenize
        self._vocab = {
            key.encode("utf-8", "surrogatepass"): value
            for key, value in spec.wordpiece_vocab.items()
        }  # (an entry with a lone surrogate matches no piece: pieces never hold one)
        self._max_chars = spec.wordpiece_max_chars
        self._cache = ChunkCache(cache_size, unknown_id=self.unknown_id)
        # The library matches a non-normalized added token in the raw text, a normalized
        # one (its content normalized) in the normalized text. A text in which either
        # could match goes to the library.
        raw: list[str] = []
        normalized: list[str] = []
        for content, is_normalized in zip(spec.added_contents, spec.added_normalized, strict=True):
            if not is_normalized:
                raw.append(content)
            else:
                normalized.extend((content, normalize_one(content)))
        self._added_str = tuple(dict.fromkeys(raw))
        self._added_bytes = tuple(v.encode("utf-8") for v in dict.fromkeys(normalized))
        # A space separates words for every eligible pipeline (it normalizes to itself and
        # every eligible pre-tokenizer splits there), so a long text can be encoded piece
        # by piece between spaces, unless an added token holds a space and could span a cut.
        self._piecewise = self._chars[ord(" ")] == " " and not any(
            " " in content for content in spec.added_contents
        )

    # ----------------------------------------------------------------- public API

    @property
    def eligible(self) -> bool:
        """True when the tokenizer's pipeline allows the memoized fast path."""
        return self.spec.eligible

    @property
    def cache(self) -> ChunkCache | None:
        """The chunk memo (None when the pipeline is not eligible)."""
        return self._cache if self.spec.eligible else None

    def tokenize(self, texts: Sequence[str], max_length: int | None = 512) -> list[list[int]]:
        """Rules I2-I4: ids per text (cut, first ``max_length`` ids, unknown dropped)."""
        texts = self._check(texts, max_length)
        result: list[list[int]] = [[] for _ in texts]
        for lo in range(0, len(texts), self.batch_size):
            ids, counts, order = self._batch(texts[lo : lo + self.batch_size], max_length)
            for position, row in zip(order, id_lists(ids, counts), strict=True):
                result[lo + position] = row
        return result

    def segments(
        self, texts: Sequence[str], max_length: int | None = 512
    ) -> tuple[IntArray, IntArray, IntArray]:
        """Rules I2-I4 in flat form: ``(ids, counts, order)``.

        Segment k (``counts[k]`` consecutive entries of ``ids``) holds the kept ids of
        text ``order[k]``; feed them to ``m2v_format.mean_pool`` (which may run without
        holding any lock: the arrays are fresh copies).
        """
        texts = self._check(texts, max_length)
        parts = [
            self._batch(texts[lo : lo + self.batch_size], max_length)
            for lo in range(0, len(texts), self.batch_size)
        ]
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty.copy(), empty.copy()
        ids = np.concatenate([p[0] for p in parts])
        counts = np.concatenate([p[1] for p in parts])
        order = np.concatenate(
            [np.asarray(p[2], dtype=np.int64) + k * self.batch_size for k, p in enumerate(parts)]
        )
        return ids, counts, order

    # ----------------------------------------------------------------- internals

    @staticmethod
    def _check(texts: Sequence[str], max_length: int | None) -> list[str]:
        if isinstance(texts, str):
            raise InvalidInputError("texts must be a sequence of strings, not a single string")
        if max_length is not None and max_length < 1:
            raise InvalidArgumentError(f"max_length must be >= 1 or None, got {max_length}")
        return texts if isinstance(texts, list) else list(texts)

    def _batch(
        self, texts: list[str], max_length: int | None, *, in_pieces: bool = True
    ) -> tuple[IntArray, IntArray, list[int]]:
        """Kept ids of a batch as consecutive segments; segment k is text ``order[k]``."""
        cut = cut_texts(texts, max_length, self.median_length)
        texts = cut if isinstance(cut, list) else list(cut)
        if in_pieces and max_length is None and self.spec.eligible and self._piecewise:
            long = [i for i, text in enumerate(texts) if len(text) > _LONG_TEXT]
            if long:
                return self._with_long_texts(texts, long)
        if self.spec.eligible:
            self._cache.trim()
            order, joined, fallback = self._route(texts)
            ids, counts = self._fast_ids(joined, len(order), max_length)
        else:
            order, fallback = [], list(range(len(texts)))
            ids, counts = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        self.fast_texts += len(order)
        if fallback:
            self.fallback_texts += len(fallback)
            fb_ids, fb_counts = self._library_ids([texts[i] for i in fallback], max_length)
            ids = np.concatenate((ids, fb_ids))
            counts = np.concatenate((counts, fb_counts))
            order = order + fallback
        return ids, counts, order

    def _with_long_texts(
        self, texts: list[str], long: list[int]
    ) -> tuple[IntArray, IntArray, list[int]]:
        """``_batch`` without a token limit where some texts are very long: each long text
        is encoded in pieces cut at spaces, so that neither the library (a text the fast
        path cannot replay) nor the memo ever holds one text of millions of characters."""
        is_long = set(long)
        short = [i for i in range(len(texts)) if i not in is_long]
        ids, counts, order = self._batch([texts[i] for i in short], None, in_pieces=False)
        id_parts, count_parts = [ids], [counts]
        positions = [short[k] for k in order]
        for index in long:
            pieces = _space_pieces(texts[index], _PIECE)
            text_ids = [
                _in_text_order(
                    *self._batch(pieces[lo : lo + self.batch_size], None, in_pieces=False)
                )
                for lo in range(0, len(pieces), self.batch_size)
            ]
            joined = np.concatenate(text_ids) if text_ids else np.zeros(0, dtype=np.int64)
            id_parts.append(joined)
            count_parts.append(np.array([len(joined)], dtype=np.int64))
            positions.append(index)
        return np.concatenate(id_parts), np.concatenate(count_parts), positions

    def _added_hit(self, raw: str, normalized: bytes) -> bool:
        return any(v in raw for v in self._added_str) or any(
            v in normalized for v in self._added_bytes
        )

    def _route(self, texts: list[str]) -> tuple[list[int], bytes, list[int]]:
        """Normalize what the fast path handles into one joined byte string."""
        ascii_bytes = self._ascii
        table, delete = ascii_bytes.table, ascii_bytes.delete
        added = bool(self._added_str or self._added_bytes)
        order: list[int] = []
        fallback: list[int] = []
        parts: list[bytes] = []
        if ascii_bytes.ok:
            flags = list(map(str.isascii, texts))
            ascii_ids = [i for i, flag in enumerate(flags) if flag]
            others = [i for i, flag in enumerate(flags) if not flag]
        else:
            ascii_ids, others = [], list(range(len(texts)))
        if ascii_ids:
            group = texts if len(ascii_ids) == len(texts) else [texts[i] for i in ascii_ids]
            raw = _JOIN_STR.join(group)
            normalized = raw.encode("latin-1").translate(table, delete)
            if added and self._added_hit(raw, normalized):
                kept = [
                    i
                    for i in ascii_ids
                    if not self._added_hit(
                        texts[i], texts[i].encode("latin-1").translate(table, delete)
                    )
                ]
                fallback.extend(sorted(set(ascii_ids) - set(kept)))
                ascii_ids = kept
                raw = _JOIN_STR.join(texts[i] for i in kept)
                normalized = raw.encode("latin-1").translate(table, delete)
            if ascii_ids:
                parts.append(normalized)
                order.extend(ascii_ids)
        chars = self._chars
        for i in others:
            text = texts[i]
            translated = text.translate(chars)
            if UNSUPPORTED in translated:
                fallback.append(i)
                continue
            encoded = translated.encode("utf-8")
            if added and self._added_hit(text, encoded):
                fallback.append(i)
                continue
            parts.append(encoded)
            order.append(i)
        parts.append(b"")  # a separator after the last text too
        return order, _JOIN_BYTES.join(parts), fallback

    def _piece_ids(self, piece: bytes) -> tuple[int, ...]:
        """Model ids of one pre-tokenized piece (UTF-8)."""
        # WordPiece takes the longest vocabulary prefix first: a whole word that is in the
        # vocabulary (and not over the length limit, counted in characters) is one token.
        token = self._vocab.get(piece)
        if token is not None and (
            len(piece) <= self._max_chars or len(piece.decode("utf-8")) <= self._max_chars
        ):
            return (token,)
        return tuple(token.id for token in self._model_tokenize(piece.decode("utf-8")))

    def _split_chunk(self, chunk: bytes) -> list[bytes]:
        """Pre-tokenized pieces of one whitespace-free normalized chunk."""
        if self._ascii_pieces is not None and chunk.isascii():
            return self._ascii_pieces.split(chunk)
        return [piece.encode("utf-8") for piece in self._library_pieces(chunk.decode("utf-8"))]

    def _chunk_ids(self, chunks: list[bytes]) -> tuple[list[int], list[int]]:
        """Ids of new chunks: per-chunk counts and the ids back to back."""
        pieces = self._cache.pieces
        cached = pieces.get
        piece_ids = self._piece_ids
        split = self._split_chunk
        alnum_is_word = self._alnum_is_word
        lens: list[int] = []
        flat: list[int] = []
        for chunk in chunks:
            if alnum_is_word and chunk.isalnum():  # bytes.isalnum: ASCII letters and digits
                ids = cached(chunk)
                if ids is None:
                    ids = pieces[chunk] = piece_ids(chunk)
            else:
                ids = ()
                for piece in split(chunk):
                    more = cached(piece)
                    if more is None:
                        more = pieces[piece] = piece_ids(piece)
                    ids += more
            lens.append(len(ids))
            flat += ids
        return lens, flat

    def _fast_ids(
        self, joined: bytes, count: int, max_length: int | None
    ) -> tuple[IntArray, IntArray]:
        if count == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        cache = self._cache
        chunks = joined.split()
        get = cache.index.get
        idx = np.fromiter(map(get, chunks, repeat(-1)), dtype=np.int64, count=len(chunks))
        missing = np.flatnonzero(idx < 0)
        if len(missing):
            missed = [chunks[i] for i in missing.tolist()]
            new = list(dict.fromkeys(missed))
            cache.add(new, *self._chunk_ids(new))
            index = cache.index
            idx[missing] = [index[chunk] for chunk in missed]
        is_separator = idx == 0
        ends = np.flatnonzero(is_separator)  # one per text, the text's last chunk
        starts = np.empty(count, dtype=np.int64)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        all_len = cache.all_len[idx]
        totals = np.add.reduceat(all_len, starts)  # separators have no ids: empty texts ok
        if max_length is None or int(totals.max()) <= max_length:
            kept_len = cache.kept_len[idx]
            counts = np.add.reduceat(kept_len, starts)
            total = int(kept_len.sum())
            offsets = np.cumsum(kept_len) - kept_len
            positions = np.repeat(cache.kept_start[idx] - offsets, kept_len)
            positions += np.arange(total)
            return cache.kept_ids[positions], counts
        # Rule I3 cuts some text: expand every id (unknown ones included), then I3 and I4.
        total = int(all_len.sum())
        offsets = np.cumsum(all_len) - all_len
        positions = np.repeat(cache.all_start[idx] - offsets, all_len) + np.arange(total)
        return kept_ids(
            cache.all_ids[positions], totals, max_length=max_length, unknown_id=self.unknown_id
        )

    def _library_ids(self, texts: list[str], max_length: int | None) -> tuple[IntArray, IntArray]:
        encodings = self._encode_batch(texts, add_special_tokens=False)
        ids, counts = id_segments([encoding.ids for encoding in encodings])
        return kept_ids(ids, counts, max_length=max_length, unknown_id=self.unknown_id)


def _space_pieces(text: str, size: int) -> list[str]:
    """``text`` cut at spaces into pieces of about ``size`` characters (a piece without a
    space inside stays whole; each cut space begins the next piece)."""
    pieces: list[str] = []
    start = 0
    while len(text) - start > size:
        cut = text.rfind(" ", start + 1, start + size)
        if cut < 0:
            cut = text.find(" ", start + size)
            if cut < 0:
                break
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def _in_text_order(ids: IntArray, counts: IntArray, order: list[int]) -> IntArray:
    """The ids of ``_batch``'s segments put back in text order, back to back."""
    starts = np.cumsum(counts) - counts
    segment_of = np.argsort(np.asarray(order, dtype=np.int64), kind="stable")
    spans = [ids[starts[s] : starts[s] + counts[s]] for s in segment_of.tolist()]
    return np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)
