"""Fixtures of the m2v-train tests: tiny models, corpora and teachers built in code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from m2v_format import save_model
from m2v_testkit import SYNTHETIC_WORDS, sentiment_texts, synthetic_model, wordpiece_tokenizer

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _save_tiny_teacher(folder: Path) -> Path:
    """A random BERT (2 layers, hidden 32) over the synthetic words, as an ST folder."""
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tokenizer = wordpiece_tokenizer(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *SYNTHETIC_WORDS], bert_template=True
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
    )
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    fast.save_pretrained(folder)
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
    )
    return folder


@pytest.fixture
def tiny_model_dir(tmp_path: Path) -> Path:
    """A small WordLevel static model folder (float32, 16 dims, normalize on)."""
    return save_model(tmp_path / "tiny-model", synthetic_model())


@pytest.fixture
def sentiment_data() -> tuple[list[str], list[str]]:
    """Synthetic single-label texts: 'pos' texts use positive words, 'neg' negative ones."""
    return sentiment_texts(300, seed=0)


@pytest.fixture(scope="session")
def tiny_teacher_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer BERT (hidden 32) saved as a sentence-transformers folder."""
    return _save_tiny_teacher(tmp_path_factory.mktemp("teacher"))
