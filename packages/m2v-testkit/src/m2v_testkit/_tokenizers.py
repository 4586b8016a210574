"""Tiny tokenizers built in code from explicit vocabularies: WordLevel, WordPiece, Unigram
and byte-level BPE, each optionally dressed like a Hugging Face hub tokenizer
(post-processor template, decoder, padding block) to exercise what readers must ignore.

Token ids follow the order of the vocabulary given (first occurrence wins), so tests can
name ids; nothing is random.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import BpeTrainer


def _ids(vocabulary: Sequence[str]) -> dict[str, int]:
    return {token: index for index, token in enumerate(dict.fromkeys(vocabulary))}


def vocab_size(tokenizer: Tokenizer) -> int:
    """V of rule T5: the vocabulary size with added tokens."""
    return len(tokenizer.get_vocab(with_added_tokens=True))


def wordlevel_tokenizer(
    vocabulary: Sequence[str], *, unk_token: str | None = "[UNK]", lowercase: bool = False
) -> Tokenizer:
    """A WordLevel tokenizer over Whitespace pre-tokenization (one id per word).

    ``unk_token`` None gives a tokenizer without an unknown token (rule K3); ``lowercase``
    adds a Lowercase normalizer.
    """
    tokenizer = Tokenizer(models.WordLevel(_ids(vocabulary), unk_token=unk_token))
    if lowercase:
        tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def wordpiece_tokenizer(
    vocabulary: Sequence[str],
    *,
    special_tokens: Sequence[str] = (),
    strip_accents: bool | None = None,
    bert_template: bool = False,
    padding_length: int | None = None,
) -> Tokenizer:
    """A BERT-style uncased WordPiece tokenizer (``[UNK]``, ``##`` continuations).

    Args:
        vocabulary: every token in id order; must hold ``[UNK]`` (and ``[CLS]``, ``[SEP]``
            with ``bert_template``, ``[PAD]`` with ``padding_length``).
        special_tokens: tokens registered as added special tokens.
        strip_accents: BertNormalizer's option (None: follow lowercasing).
        bert_template: add the ``[CLS] $A [SEP]`` post-processor and a WordPiece decoder.
        padding_length: store a fixed padding block, as some hub tokenizer.json files do.
    """
    vocab = _ids(vocabulary)
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=strip_accents)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    if bert_template:
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        )
        tokenizer.decoder = decoders.WordPiece()
    if special_tokens:
        tokenizer.add_special_tokens(list(special_tokens))
    if padding_length is not None:
        tokenizer.enable_padding(pad_id=vocab["[PAD]"], pad_token="[PAD]", length=padding_length)
    return tokenizer


def unigram_tokenizer(
    pieces: Sequence[tuple[str, float]],
    *,
    unk_id: int,
    nfkc_lowercase: bool = False,
    xlmr_template: bool = False,
    special_tokens: Sequence[str] = (),
) -> Tokenizer:
    """A SentencePiece-style Unigram tokenizer (Metaspace) from explicit scored pieces.

    Args:
        pieces: (piece, log-probability) in id order; a repeated piece keeps its first score.
        unk_id: the id of the unknown piece.
        nfkc_lowercase: normalize with NFKC then Lowercase.
        xlmr_template: add the ``<s> $A </s>`` post-processor and a Metaspace decoder.
        special_tokens: tokens registered as added special tokens.
    """
    unique: dict[str, float] = {}
    for piece, score in pieces:
        unique.setdefault(piece, score)
    tokenizer = Tokenizer(models.Unigram(list(unique.items()), unk_id=unk_id, byte_fallback=False))
    if nfkc_lowercase:
        tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    if xlmr_template:
        ids = {piece: index for index, piece in enumerate(unique)}
        tokenizer.decoder = decoders.Metaspace()
        tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>",
            pair="<s> $A </s> </s> $B </s>",
            special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])],
        )
    if special_tokens:
        tokenizer.add_special_tokens(list(special_tokens))
    return tokenizer


def byte_level_bpe_tokenizer(
    corpus: Sequence[str],
    *,
    special_tokens: Sequence[str],
    post_processor: Literal["roberta", "byte-level"],
    vocab_size: int = 400,
) -> Tokenizer:
    """A byte-level BPE tokenizer trained on ``corpus`` (deterministic for a fixed corpus).

    ``post_processor`` "roberta" wraps sequences in ``<s> ... </s>`` (RoBERTa); "byte-level"
    adds nothing around them (GPT-2).
    """
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    if post_processor == "roberta":
        # (sep, cls) by position: tokenizers 0.23 no longer takes them as keywords.
        sep, cls = ("</s>", tokenizer.token_to_id("</s>")), ("<s>", tokenizer.token_to_id("<s>"))
        tokenizer.post_processor = processors.RobertaProcessing(sep, cls)
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer
