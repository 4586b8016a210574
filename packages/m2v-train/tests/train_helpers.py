"""Builders for the m2v-train tests: tiny static models, synthetic labelled texts, a tiny
random BERT teacher and a fake teacher with a known bag-of-words structure."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from m2v_format import ModelConfig, StaticModelData, save_model
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

POSITIVE = ("good", "great", "fine", "happy", "love", "superb")
NEGATIVE = ("bad", "awful", "poor", "sad", "hate", "boring")
TOPICS = ("sport", "music", "money", "food")
FILLER = ("the", "a", "movie", "film", "was", "is", "really", "quite", "this", "it", "and")
WORDS = (*POSITIVE, *NEGATIVE, *TOPICS, *FILLER)


def tokenizer() -> Tokenizer:
    """Lower-casing whitespace WordLevel tokenizer over :data:`WORDS` plus ``[UNK]``."""
    vocab = {"[UNK]": 0}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


def tiny_model_data(dim: int = 16, seed: int = 0, dtype: str = "float32") -> StaticModelData:
    """Random embeddings for every token of :func:`tokenizer`."""
    tok = tokenizer()
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(tok.get_vocab_size(), dim)).astype(dtype)
    return StaticModelData(
        embeddings=table, tokenizer=tok, config=ModelConfig(normalize=True, max_length=64)
    )


def save_tiny_model(folder: Path, **kwargs: Any) -> Path:
    """Write :func:`tiny_model_data` to ``folder``."""
    return save_model(folder, tiny_model_data(**kwargs))


def sentiment_texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` texts labelled ``pos``/``neg`` by the sentiment words they contain."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 8))]
        words += [rng.choice(POSITIVE if label == "pos" else NEGATIVE) for _ in range(2)]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def topic_texts(n: int, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    """``n`` texts with one to two topic words each; labels = the topics present."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        topics = sorted(rng.sample(TOPICS, rng.randint(1, 2)))
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 6))] + topics
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(topics)
    return texts, labels


class BagOfWordsTeacher:
    """A fake teacher: the mean of fixed random word vectors (dim 24) — learnable exactly."""

    name = "bag-of-words"
    dim = 24

    def __init__(self, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.vectors = {word: rng.normal(size=self.dim).astype(np.float32) for word in WORDS}
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors = [self.vectors[w] for w in text.lower().split() if w in self.vectors]
            if vectors:
                out[row] = np.mean(vectors, axis=0)
        return out


def corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct random texts over :data:`WORDS`."""
    rng = random.Random(seed)
    texts: list[str] = []
    seen: set[str] = set()
    while len(texts) < n:
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9)))
        if text not in seen:
            seen.add(text)
            texts.append(text)
    return texts


def save_tiny_teacher(folder: Path) -> Path:
    """A random BERT (2 layers, hidden 32) with a WordPiece tokenizer, as an ST folder."""
    from tokenizers import processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
    )
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    import torch

    torch.manual_seed(0)
    model = BertModel(config)
    model.save_pretrained(folder, safe_serialization=True)
    fast.save_pretrained(folder)
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
    )
    return folder
