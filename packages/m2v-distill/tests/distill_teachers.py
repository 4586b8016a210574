"""Tiny random teachers (BERT/WordPiece, RoBERTa/byte-level BPE, XLM-R/Unigram, GPT-2/BPE).

Each is a transformers model with a few thousand parameters built from a config, plus a
fast tokenizer built from an explicit vocabulary, saved to a folder like a hub model, so
distillation runs end to end in well under a second per teacher.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import BpeTrainer

WORDS = [
    "the", "a", "cat", "dog", "sat", "on", "mat", "king", "queen", "man", "woman",
    "apple", "banana", "fruit", "car", "road", "drive", "fast", "slow", "happy", "sad",
    "new", "york", "city", "token", "model", "static", "embedding", "word", "sentence",
]  # fmt: skip
SUFFIXES = ["##s", "##ing", "##ed", "##ization", "##er", "##ly"]
WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
UNUSED = [f"[unused{i}]" for i in range(3)]

CORPUS = [
    "the cat sat on the mat",
    "the dog sat on the road",
    "a king and a queen",
    "a man and a woman drive a car fast",
    "happy people eat an apple and a banana",
    "new york city is a city",
    "static embedding models embed every token",
    "a sentence is made of words and tokens",
    "slow cars and fast cars on the road",
] * 3

_TINY = {
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 64,
}


def wordpiece_tokenizer() -> Tokenizer:
    """A BERT-style uncased WordPiece tokenizer: [CLS] ... [SEP], [PAD] id 0, [UNK] id 1."""
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab_list = [
        *WORDPIECE_SPECIALS,
        *UNUSED,
        *letters,
        *(f"##{c}" for c in letters),
        ".",
        ",",
        "!",
        *WORDS,
        *SUFFIXES,
    ]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(vocab_list))}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.add_special_tokens(WORDPIECE_SPECIALS)
    # A fixed padding block, as some hub tokenizer.json files carry (all-MiniLM-L6-v2 does).
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=16)
    return tokenizer


def byte_level_bpe_tokenizer(*, roberta: bool = True) -> Tokenizer:
    """A byte-level BPE tokenizer trained on a tiny corpus (RoBERTa or GPT-2 flavour)."""
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] if roberta else ["<|endoftext|>"]
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    if roberta:
        tokenizer.post_processor = processors.RobertaProcessing(
            sep=("</s>", tokenizer.token_to_id("</s>")), cls=("<s>", tokenizer.token_to_id("<s>"))
        )
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer


def unigram_tokenizer() -> Tokenizer:
    """An XLM-R-style Unigram tokenizer from explicit pieces: <s> ... </s>, Metaspace."""
    specials = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces: list[tuple[str, float]] = [("▁", -2.0)]
    pieces += [(f"▁{word}", -5.0 - index * 0.01) for index, word in enumerate(WORDS)]
    pieces += [(suffix[2:], -6.0) for suffix in SUFFIXES]
    pieces += [(chr(c), -8.0) for c in range(ord("a"), ord("z") + 1)]
    pieces += [(f"▁{chr(c)}", -9.0) for c in range(ord("a"), ord("z") + 1)]
    pieces += [(".", -7.0), (",", -7.0), ("<mask>", 0.0)]
    unique: dict[str, float] = {}
    for piece, score in [*specials, *pieces]:
        unique.setdefault(piece, score)  # "▁a" and "s" occur twice: keep the first
    tokenizer = Tokenizer(models.Unigram(list(unique.items()), unk_id=3, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    tokenizer.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return tokenizer


def _save_tokenizer(tokenizer: Tokenizer, folder: Path, config: dict[str, object]) -> None:
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")


def build_bert(folder: Path, *, seed: int = 0) -> Path:
    """A tiny BERT teacher with a WordPiece tokenizer, saved to ``folder``."""
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = wordpiece_tokenizer()
    torch.manual_seed(seed)
    model = BertModel(BertConfig(vocab_size=tokenizer.get_vocab_size(), **_TINY)).eval()
    model.save_pretrained(folder)
    _save_tokenizer(
        tokenizer,
        folder,
        {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": True,
            "unk_token": "[UNK]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "mask_token": "[MASK]",
        },
    )
    return folder


def build_roberta(folder: Path, *, seed: int = 0) -> Path:
    """A tiny RoBERTa teacher with a byte-level BPE tokenizer, saved to ``folder``."""
    import torch
    from transformers import RobertaConfig, RobertaModel

    tokenizer = byte_level_bpe_tokenizer(roberta=True)
    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=tokenizer.get_vocab_size(),
        pad_token_id=tokenizer.token_to_id("<pad>"),
        bos_token_id=tokenizer.token_to_id("<s>"),
        eos_token_id=tokenizer.token_to_id("</s>"),
        **{**_TINY, "max_position_embeddings": 80},
    )
    RobertaModel(config).eval().save_pretrained(folder)
    _save_tokenizer(
        tokenizer,
        folder,
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
        },
    )
    return folder


def build_gpt2(folder: Path, *, seed: int = 0) -> Path:
    """A tiny GPT-2 teacher (byte-level BPE, no special tokens around sequences, no pooler)."""
    import torch
    from transformers import GPT2Config, GPT2Model

    tokenizer = byte_level_bpe_tokenizer(roberta=False)
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=tokenizer.get_vocab_size(), n_embd=16, n_layer=2, n_head=2, n_positions=64
    )
    GPT2Model(config).eval().save_pretrained(folder)
    _save_tokenizer(
        tokenizer,
        folder,
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<|endoftext|>",
            "eos_token": "<|endoftext|>",
        },
    )
    return folder


def build_xlmr(folder: Path, *, seed: int = 0) -> Path:
    """A tiny XLM-RoBERTa teacher with a Unigram tokenizer, saved to ``folder``."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    tokenizer = unigram_tokenizer()
    torch.manual_seed(seed)
    config = XLMRobertaConfig(
        vocab_size=tokenizer.get_vocab_size(),
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        **{**_TINY, "max_position_embeddings": 80},
    )
    XLMRobertaModel(config).eval().save_pretrained(folder)
    _save_tokenizer(
        tokenizer,
        folder,
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
        },
    )
    return folder


def build_slow_tokenizer_teacher(folder: Path) -> Path:
    """A tiny BERT whose tokenizer is Python-only (ByT5, no tokenizer.json): not distillable."""
    build_bert(folder)
    (folder / "tokenizer.json").unlink()
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "ByT5Tokenizer"}), encoding="utf-8"
    )
    return folder


BUILDERS = {
    "bert": build_bert,
    "roberta": build_roberta,
    "gpt2": build_gpt2,
    "xlmr": build_xlmr,
}
