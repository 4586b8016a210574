"""Regenerate the m2v conformance suite: ``spec/conformance/cases`` and ``spec/conformance/models``.

    uv run python tests/conformance/generate_vectors.py             # rewrite spec/conformance
    uv run python tests/conformance/generate_vectors.py --out DIR   # write a copy elsewhere

Everything is deterministic: tokenizers are written as explicit JSON from fixed vocabularies
(nothing is trained), embeddings come from ``numpy.random.default_rng`` with fixed seeds,
safetensors files are assembled byte by byte by ``m2v_testkit.raw_safetensors`` (so
invalid files can be built too), and floats are written as the shortest text that reads
back as the same float32.  Running the script
twice gives byte-identical output; ``tests/conformance/test_generator.py`` checks that the
committed suite is what this script produces.

Expected outputs of valid cases come from the reference implementation,
``m2v_format.reference_tokenize`` / ``m2v_format.reference_encode``.  They are cross-checked
against model2vec 0.10.0 by ``tests/conformance/test_peers.py``, so the suite is not only
checked against itself.

Only ``cases/`` and ``models/`` are rewritten; README.md, the schema and the known-failures
lists are maintained by hand.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from m2v_testkit import RawTensor, bf16_entry, raw_safetensors, tensor_entry

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "spec" / "conformance"
GENERATED = ("cases", "models")

# Default comparison tolerance of valid cases: tight enough that computing in float16
# instead of float32 (rule I5) shows, loose enough for any float32 summation order.
ATOL = 1e-6
RTOL = 1e-5

# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text with LF line endings, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def write_json(path: Path, obj: Any, *, ascii_only: bool = False) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=ascii_only) + "\n")


# ---------------------------------------------------------------------------------------------
# Safetensors, assembled by hand (m2v_testkit's raw writer: sorted by name, compact header)
# ---------------------------------------------------------------------------------------------

ST_METADATA = {"format": "pt"}

# ---------------------------------------------------------------------------------------------
# Tokenizers, written as explicit tokenizer.json documents
# ---------------------------------------------------------------------------------------------


def _added(
    token_id: int, content: str, *, special: bool = True, normalized: bool = False
) -> dict[str, Any]:
    return {
        "id": token_id,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": normalized,
        "special": special,
    }


def _tokenizer_doc(
    *,
    model: dict[str, Any],
    added_tokens: list[dict[str, Any]],
    normalizer: dict[str, Any] | None,
    pre_tokenizer: dict[str, Any] | None,
    post_processor: dict[str, Any] | None = None,
    decoder: dict[str, Any] | None = None,
    padding: dict[str, Any] | None = None,
    truncation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "version": "1.0",
        "truncation": truncation,
        "padding": padding,
        "added_tokens": added_tokens,
        "normalizer": normalizer,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post_processor,
        "decoder": decoder,
        "model": model,
    }


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDPIECE_VOCAB: list[str] = _unique([
    *WORDPIECE_SPECIALS,
    *".,!?'-:;()",
    *"0123456789",
    *"abcdefghijklmnopqrstuvwxyz",
    *(f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"),
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "hello", "world", "cafe",
    "creme", "brulee", "resume", "naive", "static", "model", "embed", "vector", "token", "text",
    "is", "of", "and", "to", "in", "it", "this", "that", "test", "small", "fast",
    "##s", "##ed", "##ing", "##er", "##ly", "##ding", "##dings", "##ize", "##tion",
    *"\u4e2d\u6587\u65e5\u672c\u8a9e\u6771\u4eac",  # CJK: zhong wen ri ben yu dong jing
])  # fmt: skip


def _bert_template(cls_id: int, sep_id: int) -> dict[str, Any]:
    def special(token: str, type_id: int) -> dict[str, Any]:
        return {"SpecialToken": {"id": token, "type_id": type_id}}

    def sequence(name: str, type_id: int) -> dict[str, Any]:
        return {"Sequence": {"id": name, "type_id": type_id}}

    return {
        "type": "TemplateProcessing",
        "single": [special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0)],
        "pair": [
            special("[CLS]", 0),
            sequence("A", 0),
            special("[SEP]", 0),
            sequence("B", 1),
            special("[SEP]", 1),
        ],
        "special_tokens": {
            "[CLS]": {"id": "[CLS]", "ids": [cls_id], "tokens": ["[CLS]"]},
            "[SEP]": {"id": "[SEP]", "ids": [sep_id], "tokens": ["[SEP]"]},
        },
    }


def wordpiece_tokenizer(
    *,
    padding: dict[str, Any] | None = None,
    truncation: dict[str, Any] | None = None,
    unk_token: str = "[UNK]",
) -> dict[str, Any]:
    """BERT-style WordPiece: BertNormalizer (lowercase, strip accents), BertPreTokenizer,
    [CLS]/[SEP] template post-processor (readers must not add special tokens), [UNK]."""
    vocab = {token: i for i, token in enumerate(WORDPIECE_VOCAB)}
    return _tokenizer_doc(
        model={
            "type": "WordPiece",
            "unk_token": unk_token,
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": vocab,
        },
        added_tokens=[_added(vocab[t], t) for t in WORDPIECE_SPECIALS],
        normalizer={
            "type": "BertNormalizer",
            "clean_text": True,
            "handle_chinese_chars": True,
            "strip_accents": None,
            "lowercase": True,
        },
        pre_tokenizer={"type": "BertPreTokenizer"},
        post_processor=_bert_template(vocab["[CLS]"], vocab["[SEP]"]),
        decoder={"type": "WordPiece", "prefix": "##", "cleanup": True},
        padding=padding,
        truncation=truncation,
    )


def _byte_alphabet() -> list[str]:
    """The GPT-2 byte-to-character table, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    table: dict[int, str] = {}
    extra = 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


BYTE_ALPHABET = _byte_alphabet()
BPE_WORDS = [
    "the", " the", " quick", " brown", " fox", " jumps", " over", " lazy", " dog", "hello",
    " hello", " world", "\u00e9", " caf\u00e9", "ing", "ed", "er", " \u6771\u4eac", "\u6771", " \U0001f642",
]  # fmt: skip


def bpe_tokenizer(
    *,
    padding: dict[str, Any] | None = None,
    truncation: dict[str, Any] | None = None,
    unk_token: str | None = None,
) -> dict[str, Any]:
    """Byte-level BPE (GPT-2 style): every byte is a token, so nothing is unknown.

    Merges are derived from BPE_WORDS by joining characters left to right, in order.
    """
    vocab: dict[str, int] = {ch: i for i, ch in enumerate(BYTE_ALPHABET)}
    merges: list[str] = []
    for word in BPE_WORDS:
        chars = [BYTE_ALPHABET[b] for b in word.encode("utf-8")]
        current = chars[0]
        for ch in chars[1:]:
            merged = current + ch
            if merged not in vocab:
                vocab[merged] = len(vocab)
                merges.append(f"{current} {ch}")
            current = merged
    eos = len(vocab)
    return _tokenizer_doc(
        model={
            "type": "BPE",
            "dropout": None,
            "unk_token": unk_token,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
        added_tokens=[_added(eos, "<|endoftext|>")],
        normalizer=None,
        pre_tokenizer={
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": True,
        },
        decoder={
            "type": "ByteLevel",
            "add_prefix_space": True,
            "trim_offsets": True,
            "use_regex": True,
        },
        padding=padding,
        truncation=truncation,
    )


def unigram_tokenizer(
    *, padding: dict[str, Any] | None = None, truncation: dict[str, Any] | None = None
) -> dict[str, Any]:
    """SentencePiece-style Unigram: NFKC, Metaspace, unk_id 0; no uppercase pieces."""
    pieces: list[list[Any]] = [["<unk>", 0.0], ["\u2581", -2.5]]
    words = [
        "the",
        "quick",
        "fox",
        "dog",
        "hello",
        "world",
        "caf\u00e9",
        "\u6771\u4eac",
        "static",
        "model",
    ]
    pieces += [[f"\u2581{w}", round(-3.0 - 0.01 * i, 2)] for i, w in enumerate(words)]
    pieces += [[s, round(-4.0 - 0.1 * i, 2)] for i, s in enumerate(["ing", "ed", "er"])]
    pieces += [[c, round(-6.0 - 0.01 * i, 2)] for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")]
    metaspace = {
        "type": "Metaspace",
        "replacement": "\u2581",
        "prepend_scheme": "always",
        "split": True,
    }
    return _tokenizer_doc(
        model={"type": "Unigram", "unk_id": 0, "vocab": pieces, "byte_fallback": False},
        added_tokens=[_added(0, "<unk>")],
        normalizer={"type": "NFKC"},
        pre_tokenizer=metaspace,
        decoder=dict(metaspace),
        padding=padding,
        truncation=truncation,
    )


WORDLEVEL_VOCAB = _unique([
    "[UNK]", "[PAD]", *".,!?", "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog",
    "hello", "world", "new", "york", "city", "caf\u00e9", "\u6771\u4eac", "static", "model",
])  # fmt: skip


def wordlevel_tokenizer(*, unk_token: str = "[UNK]") -> dict[str, Any]:
    """WordLevel over Whitespace pre-tokenization, lowercase, [UNK]; one multi-word added token."""
    vocab = {token: i for i, token in enumerate(WORDLEVEL_VOCAB)}
    return _tokenizer_doc(
        model={"type": "WordLevel", "vocab": vocab, "unk_token": unk_token},
        added_tokens=[
            _added(vocab["[UNK]"], "[UNK]"),
            _added(vocab["[PAD]"], "[PAD]"),
            _added(len(vocab), "new york", special=False, normalized=True),
        ],
        normalizer={"type": "Lowercase"},
        pre_tokenizer={"type": "Whitespace"},
    )


def vocab_size(doc: dict[str, Any]) -> int:
    """Vocabulary size including added tokens (rule T5), as the tokenizers library counts it."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(json.dumps(doc))
    size = len(tokenizer.get_vocab(with_added_tokens=True))
    assert size == tokenizer.get_vocab_size(with_added_tokens=False) + sum(
        entry["id"] >= tokenizer.get_vocab_size(with_added_tokens=False)
        for entry in doc["added_tokens"]
    ), "duplicate tokens in the vocabulary"
    return size


def token_id(doc: dict[str, Any], token: str) -> int:
    from tokenizers import Tokenizer

    found = Tokenizer.from_str(json.dumps(doc)).token_to_id(token)
    assert found is not None, token
    return int(found)


# ---------------------------------------------------------------------------------------------
# Model folders
# ---------------------------------------------------------------------------------------------

ST_MODULE = "sentence_transformers.models.StaticEmbedding"
NORMALIZE_MODULE = "sentence_transformers.models.Normalize"


def modules_json(*, normalize: bool, static_path: str = ".") -> list[dict[str, Any]]:
    """modules.json as writers produce it (rule C5)."""
    modules: list[dict[str, Any]] = [
        {"idx": 0, "name": "0", "path": static_path, "type": ST_MODULE}
    ]
    if normalize:
        modules.append({"idx": 1, "name": "1", "path": "1_Normalize", "type": NORMALIZE_MODULE})
    return modules


ST_CONFIG = {
    "__version__": {"sentence_transformers": "3.3.1"},
    "prompts": {},
    "default_prompt_name": None,
    "similarity_fn_name": "cosine",
}


def native_config(
    dim: int, *, normalize: bool | None, dtype: str = "float32", **extra: Any
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "tokenizer_name": "m2v-conformance",
        "hidden_dim": dim,
        "embedding_dtype": dtype,
        "format_version": "1.0",
    }
    if normalize is not None:
        config["normalize"] = normalize
    config.update(extra)
    return config


@dataclass
class Folder:
    """The files of one model folder, by relative path (bytes, or JSON-serializable objects)."""

    files: dict[str, Any] = field(default_factory=dict)

    def write(self, root: Path) -> None:
        for rel, content in sorted(self.files.items()):
            path = root / rel
            if isinstance(content, bytes):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            elif isinstance(content, str):
                write_text(path, content)
            else:
                write_json(path, content)


def native_folder(
    tokenizer: dict[str, Any],
    tensors: Sequence[RawTensor],
    config: dict[str, Any] | None,
    *,
    modules: list[dict[str, Any]] | None = None,
) -> Folder:
    files: dict[str, Any] = {
        "tokenizer.json": tokenizer,
        "model.safetensors": raw_safetensors(tensors, metadata=ST_METADATA),
    }
    if config is not None:
        files["config.json"] = config
    if modules is not None:
        files["modules.json"] = modules
    return Folder(files)


def gaussian(rows: int, dim: int, seed: int) -> np.ndarray:
    """Deterministic float32 embeddings."""
    return np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)


def wp_vectors(dim: int = 12) -> tuple[dict[str, Any], np.ndarray]:
    doc = wordpiece_tokenizer()
    return doc, gaussian(vocab_size(doc), dim, seed=1)


def build_models() -> dict[str, Folder]:
    """Every model folder of the suite, by name."""
    models: dict[str, Folder] = {}
    wp, emb = wp_vectors()
    rows, dim = emb.shape

    def native(name: str, tensors: Sequence[RawTensor], config: dict[str, Any] | None,
               tokenizer: dict[str, Any] = wp, modules: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
        if modules is None and config is not None:
            modules = modules_json(normalize=bool(config.get("normalize")))
        models[name] = native_folder(tokenizer, tensors, config, modules=modules)

    # --- valid: WordPiece float32 in the three normalize states and without modules.json
    native("wordpiece-f32", [tensor_entry("embeddings", emb)], native_config(dim, normalize=True))
    native(
        "wordpiece-f32-raw", [tensor_entry("embeddings", emb)], native_config(dim, normalize=False)
    )
    native(
        "wordpiece-normalize-absent",
        [tensor_entry("embeddings", emb)],
        native_config(dim, normalize=None),
    )
    models["wordpiece-no-modules-json"] = native_folder(
        wp, [tensor_entry("embeddings", emb)], native_config(dim, normalize=True)
    )

    # --- valid: other embedding dtypes
    native("wordpiece-f16", [tensor_entry("embeddings", gaussian(rows, dim, 2).astype(np.float16))],
           native_config(dim, normalize=False, dtype="float16"))  # fmt: skip
    f64 = np.random.default_rng(3).standard_normal((rows, dim))
    native("wordpiece-f64", [tensor_entry("embeddings", f64)],
           native_config(dim, normalize=False, dtype="float64"))  # fmt: skip
    i8 = np.random.default_rng(4).integers(-127, 128, size=(rows, dim), dtype=np.int8)
    scale = np.array([0.0123], dtype=np.float32)
    native("wordpiece-i8", [tensor_entry("embeddings", i8)],
           native_config(dim, normalize=False, dtype="int8"))  # fmt: skip
    native("wordpiece-i8-scale", [tensor_entry("embeddings", i8), tensor_entry("embeddings_scale", scale)],
           native_config(dim, normalize=False, dtype="int8", format_version="1.1"))  # fmt: skip
    native("wordpiece-i8-scale-normalized",
           [tensor_entry("embeddings", i8), tensor_entry("embeddings_scale", scale)],
           native_config(dim, normalize=True, dtype="int8", format_version="1.1"))  # fmt: skip

    # --- valid: vocabulary quantization and per-token weights
    clusters = 16
    centroids = gaussian(clusters, dim, 5)
    mapping = np.asarray(np.random.default_rng(6).integers(0, clusters, size=rows), np.int64)
    mapping[:clusters] = np.arange(clusters)  # every cluster is used
    weights = np.asarray(np.random.default_rng(7).uniform(0.25, 2.0, size=rows), np.float32)
    native("wordpiece-vq-i32",
           [tensor_entry("embeddings", centroids), tensor_entry("mapping", mapping.astype(np.int32)),
            tensor_entry("weights", weights)],
           native_config(dim, normalize=False, vocabulary_quantization=clusters))  # fmt: skip
    native("wordpiece-vq-i64",
           [tensor_entry("embeddings", centroids), tensor_entry("mapping", mapping.astype(np.int64)),
            tensor_entry("weights", weights)],
           native_config(dim, normalize=False, vocabulary_quantization=clusters))  # fmt: skip
    native("wordpiece-weights", [tensor_entry("embeddings", emb), tensor_entry("weights", weights)],
           native_config(dim, normalize=False))  # fmt: skip

    # --- valid: sentence-transformers layouts (no config.json; normalize from modules.json)
    st_tensors = [tensor_entry("embedding.weight", emb)]
    st_file = raw_safetensors(st_tensors, metadata=ST_METADATA)
    for normalize in (True, False):
        suffix = "-normalize" if normalize else ""
        models[f"st-root{suffix}"] = Folder({
            "config_sentence_transformers.json": ST_CONFIG,
            "modules.json": modules_json(normalize=normalize),
            "model.safetensors": st_file,
            "tokenizer.json": wp,
        })  # fmt: skip
        models[f"st-nested{suffix}"] = Folder({
            "config_sentence_transformers.json": ST_CONFIG,
            "modules.json": modules_json(normalize=normalize, static_path="0_StaticEmbedding"),
            "0_StaticEmbedding/model.safetensors": st_file,
            "0_StaticEmbedding/tokenizer.json": wp,
        })  # fmt: skip
    models["st-root-no-modules-json"] = Folder({
        "config_sentence_transformers.json": ST_CONFIG,
        "model.safetensors": st_file,
        "tokenizer.json": wp,
    })  # fmt: skip

    # --- valid: tokenizer.json with padding and truncation blocks (K2)
    padded = wordpiece_tokenizer(**padding_and_truncation(0, "[PAD]"))
    native("wordpiece-padding-truncation", [tensor_entry("embeddings", emb)],
           native_config(dim, normalize=False), tokenizer=padded)  # fmt: skip

    # --- valid: forward compatibility (V2, C4, T8)
    extras = native_config(
        dim,
        normalize=True,
        future_option={"enabled": True, "levels": [1, 2, 3]},
        comment="unknown keys are ignored by readers",
    )
    native("wordpiece-unknown-extras",
           [tensor_entry("embeddings", emb), tensor_entry("future_tensor", np.arange(6, dtype=np.int32))],
           extras)  # fmt: skip
    native("wordpiece-format-1-7", [tensor_entry("embeddings", emb)],
           native_config(dim, normalize=True, format_version="1.7"))  # fmt: skip

    # --- valid: the other tokenizer models
    bpe = bpe_tokenizer()
    native("bpe-byte-level", [tensor_entry("embeddings", gaussian(vocab_size(bpe), 16, 8))],
           native_config(16, normalize=True), tokenizer=bpe)  # fmt: skip
    uni = unigram_tokenizer()
    native("unigram", [tensor_entry("embeddings", gaussian(vocab_size(uni), 8, 9))],
           native_config(8, normalize=True), tokenizer=uni)  # fmt: skip
    wl = wordlevel_tokenizer()
    native("wordlevel", [tensor_entry("embeddings", gaussian(vocab_size(wl), 10, 10))],
           native_config(10, normalize=False), tokenizer=wl)  # fmt: skip

    # --- valid: padding and truncation blocks on the other tokenizer models (K2)
    bpe_padded = bpe_tokenizer(**padding_and_truncation(vocab_size(bpe) - 1, "<|endoftext|>"))
    native("bpe-padding-truncation", [tensor_entry("embeddings", gaussian(vocab_size(bpe), 16, 8))],
           native_config(16, normalize=False), tokenizer=bpe_padded)  # fmt: skip
    uni_padded = unigram_tokenizer(**padding_and_truncation(0, "<unk>"))
    native("unigram-padding-truncation", [tensor_entry("embeddings", gaussian(vocab_size(uni), 8, 9))],
           native_config(8, normalize=False), tokenizer=uni_padded)  # fmt: skip

    # --- valid: an unk_token that is not in the vocabulary: the unknown id is null (K3)
    wp_missing = wordpiece_tokenizer(unk_token="[UNKNOWN]")
    native("wordpiece-unk-missing", [tensor_entry("embeddings", emb)],
           native_config(dim, normalize=False), tokenizer=wp_missing)  # fmt: skip
    bpe_missing = bpe_tokenizer(unk_token="<unk>")
    native("bpe-unk-missing", [tensor_entry("embeddings", gaussian(vocab_size(bpe), 16, 8))],
           native_config(16, normalize=False), tokenizer=bpe_missing)  # fmt: skip
    wl_missing = wordlevel_tokenizer(unk_token="<unk>")
    native("wordlevel-unk-missing", [tensor_entry("embeddings", gaussian(vocab_size(wl), 10, 10))],
           native_config(10, normalize=False), tokenizer=wl_missing)  # fmt: skip

    # --- valid: the embedding tensor is not the first tensor of the file (S1, L4)
    models.update(build_tensor_order_models(wp, emb))
    # --- valid: the other tensor dtypes and combinations writers produce
    half_weights = weights.astype(np.float16)
    native("wordpiece-weights-f16", [tensor_entry("embeddings", emb), tensor_entry("weights", half_weights)],
           native_config(dim, normalize=False))  # fmt: skip
    i8_centroids = np.random.default_rng(11).integers(
        -127, 128, size=(clusters, dim), dtype=np.int8
    )
    native("wordpiece-vq-i8-scale",
           [tensor_entry("embeddings", i8_centroids), tensor_entry("embeddings_scale", scale),
            tensor_entry("mapping", mapping.astype(np.int32)), tensor_entry("weights", weights)],
           native_config(dim, normalize=True, dtype="int8", format_version="1.1",
                         vocabulary_quantization=clusters))  # fmt: skip
    row_scales = np.asarray(np.random.default_rng(13).uniform(0.001, 0.05, size=rows), np.float32)
    native("wordpiece-i8-row-scales", [tensor_entry("embeddings", i8), tensor_entry("weights", row_scales)],
           native_config(dim, normalize=False, dtype="int8"))  # fmt: skip
    models["wordpiece-no-metadata"] = Folder({
        "config.json": native_config(dim, normalize=False),
        "model.safetensors": raw_safetensors([tensor_entry("embeddings", emb)]),
        "modules.json": modules_json(normalize=False),
        "tokenizer.json": wp,
    })  # fmt: skip

    models.update(build_invalid_models(wp, emb))
    return models


def padding_and_truncation(pad_id: int, pad_token: str) -> dict[str, dict[str, Any]]:
    """tokenizer.json blocks that pad every text to 16 ids and truncate it to 2 (K2)."""
    return {
        "padding": {
            "strategy": {"Fixed": 16},
            "direction": "Right",
            "pad_to_multiple_of": None,
            "pad_id": pad_id,
            "pad_type_id": 0,
            "pad_token": pad_token,
        },
        "truncation": {
            "direction": "Right",
            "max_length": 2,
            "strategy": "LongestFirst",
            "stride": 0,
        },
    }


def build_tensor_order_models(wp: dict[str, Any], emb: np.ndarray) -> dict[str, Folder]:
    """Files whose first tensor (in the header, in the data, or both) is not the embeddings.

    Writers are free to order tensors (m2v's writer puts the widest dtype first in the data);
    a reader must find each tensor by name, not by position.
    """
    rows, dim = emb.shape
    i8 = np.random.default_rng(4).integers(-127, 128, size=(rows, dim), dtype=np.int8)
    scale = np.array([0.0123], dtype=np.float32)
    weights = np.asarray(np.random.default_rng(7).uniform(0.25, 2.0, size=rows), np.float32)
    clusters = 16
    centroids = gaussian(clusters, dim, 5)
    mapping = (np.arange(rows) * 7 % clusters).astype(np.int32)

    def folder(tensors: list[RawTensor], config: dict[str, Any], header: list[str],
               data: list[str]) -> Folder:  # fmt: skip
        return Folder({
            "config.json": config,
            "model.safetensors": raw_safetensors(
                tensors, metadata=ST_METADATA, header_order=header, data_order=data
            ),
            "modules.json": modules_json(normalize=bool(config.get("normalize"))),
            "tokenizer.json": wp,
        })  # fmt: skip

    # normalize true: a reader that ignores embeddings_scale (T7) still gets these vectors,
    # so the case fails only readers that take the first tensor
    int8_config = native_config(dim, normalize=True, dtype="int8", format_version="1.1")
    return {
        # what `m2v quantize --to int8` wrote before writers put embeddings first (W3)
        "order-scale-first": folder(
            [tensor_entry("embeddings", i8), tensor_entry("embeddings_scale", scale)],
            int8_config, ["embeddings_scale", "embeddings"], ["embeddings_scale", "embeddings"]),
        # header order and data order disagree
        "order-weights-first": folder(
            [tensor_entry("embeddings", emb), tensor_entry("weights", weights)],
            native_config(dim, normalize=False), ["weights", "embeddings"],
            ["embeddings", "weights"]),
        "order-mapping-first": folder(
            [tensor_entry("embeddings", centroids), tensor_entry("mapping", mapping),
             tensor_entry("weights", weights)],
            native_config(dim, normalize=False, vocabulary_quantization=clusters),
            ["mapping", "weights", "embeddings"], ["weights", "mapping", "embeddings"]),
        "order-unknown-tensor-first": folder(
            [tensor_entry("embeddings", emb), tensor_entry("aaa_extra", gaussian(rows, dim, 12))],
            native_config(dim, normalize=False), ["aaa_extra", "embeddings"],
            ["aaa_extra", "embeddings"]),
    }  # fmt: skip


def build_invalid_models(wp: dict[str, Any], emb: np.ndarray) -> dict[str, Folder]:
    """Model folders that break exactly one rule each."""
    rows, dim = emb.shape
    good = [tensor_entry("embeddings", emb)]
    config = native_config(dim, normalize=True)
    modules = modules_json(normalize=True)
    hello = token_id(wp, "hello")

    def folder(
        tensors: Sequence[RawTensor] | bytes = good,
        cfg: Any = config,
        tokenizer: Any = wp,
    ) -> Folder:
        files: dict[str, Any] = {"modules.json": modules}
        files["model.safetensors"] = (
            tensors
            if isinstance(tensors, bytes)
            else raw_safetensors(tensors, metadata=ST_METADATA)
        )
        if cfg is not None:
            files["config.json"] = cfg
        if tokenizer is not None:
            files["tokenizer.json"] = tokenizer
        return Folder(files)

    def cfg_with(**changes: Any) -> dict[str, Any]:
        return {**config, **changes}

    valid_file = raw_safetensors(good, metadata=ST_METADATA)
    nan = emb.copy()
    nan[hello, 3] = np.nan
    i8 = np.clip(np.round(emb * 40), -127, 127).astype(np.int8)
    centroids = emb[:16]
    mapping = (np.arange(rows) % 16).astype(np.int32)
    # The broken mapping entries sit at ids below the row count (punctuation), and the cases'
    # texts use only such ids: a reader that ignores the mapping indexes real rows and must
    # notice the fault itself rather than crash on an id beyond the table.
    period, comma = token_id(wp, "."), token_id(wp, ",")
    assert max(period, comma, token_id(wp, "!"), token_id(wp, "?")) < 16
    bad_mapping = mapping.copy()
    bad_mapping[period] = 16
    negative_mapping = mapping.copy()
    negative_mapping[comma] = -1
    nan_weights = np.ones(rows, dtype=np.float32)
    nan_weights[hello] = np.nan
    embeddings_entry = tensor_entry("embeddings", emb)

    return {
        "invalid-missing-tokenizer": folder(tokenizer=None),
        "invalid-config-json": folder(cfg='{"format_version": "1.0", "normalize": true,\n'),
        "invalid-config-not-object": folder(cfg=[config]),
        "invalid-normalize-type": folder(cfg=cfg_with(normalize="yes")),
        "invalid-max-length-zero": folder(cfg=cfg_with(max_length=0)),
        "invalid-format-version-2-0": folder(cfg=cfg_with(format_version="2.0")),
        "invalid-format-version-one": folder(cfg=cfg_with(format_version="one")),
        "invalid-truncated-safetensors": folder(valid_file[: len(valid_file) - 100]),
        "invalid-header-too-large": folder(struct.pack("<Q", 100_000_008) + b'{"embeddings":'),
        "invalid-header-not-json": folder(struct.pack("<Q", 16) + b"this is not JSON"),
        "invalid-bad-data-offsets": folder(
            raw_safetensors(
                good,
                metadata=ST_METADATA,
                offsets={"embeddings": (0, len(embeddings_entry.data) - 4 * dim)},
            )
        ),
        "invalid-embeddings-rank-1": folder([tensor_entry("embeddings", emb.reshape(-1))]),
        "invalid-rows-mismatch": folder([tensor_entry("embeddings", emb[:-1])]),
        "invalid-weights-length": folder(
            [embeddings_entry, tensor_entry("weights", np.ones(rows - 1, dtype=np.float32))]
        ),
        "invalid-mapping-out-of-range": folder(
            [tensor_entry("embeddings", centroids), tensor_entry("mapping", bad_mapping)]
        ),
        "invalid-mapping-negative": folder(
            [tensor_entry("embeddings", centroids), tensor_entry("mapping", negative_mapping)]
        ),
        "invalid-mapping-length": folder(
            [tensor_entry("embeddings", centroids), tensor_entry("mapping", mapping[:-1])]
        ),
        "invalid-weights-nan": folder([embeddings_entry, tensor_entry("weights", nan_weights)]),
        "invalid-scale-shape": folder(
            [
                tensor_entry("embeddings", i8),
                tensor_entry("embeddings_scale", np.array([0.5, 0.5], np.float32)),
            ],
            cfg_with(format_version="1.1", embedding_dtype="int8"),
        ),
        "invalid-scale-f16": folder(
            [
                tensor_entry("embeddings", i8),
                tensor_entry("embeddings_scale", np.array([0.5], np.float16)),
            ],
            cfg_with(format_version="1.1", embedding_dtype="int8"),
        ),
        "invalid-mapping-float": folder(
            [
                tensor_entry("embeddings", centroids),
                tensor_entry("mapping", mapping.astype(np.float32)),
            ]
        ),
        "invalid-embeddings-nan": folder([tensor_entry("embeddings", nan)]),
        "invalid-embeddings-bf16": folder([bf16_entry("embeddings", emb)]),
        "invalid-scale-negative": folder(
            [
                tensor_entry("embeddings", i8),
                tensor_entry("embeddings_scale", np.array([-0.5], np.float32)),
            ],
            cfg_with(format_version="1.1", embedding_dtype="int8"),
        ),
        "invalid-scale-with-float32": folder(
            [embeddings_entry, tensor_entry("embeddings_scale", np.array([0.5], np.float32))],
            cfg_with(format_version="1.1"),
        ),
        "invalid-missing-embeddings": folder([tensor_entry("vectors", emb)]),
        "invalid-tokenizer-json": folder(
            tokenizer={"version": "1.0", "model": {"type": "NeuralMagic", "vocab": {"hello": 0}}}
        ),
    }


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

# Texts whose every character is in the WordPiece vocabulary (after lowercasing and accent
# stripping): cases about dtypes, layouts and weights use them, so that a reader that keeps
# unknown ids fails only the cases about unknown ids.
BASIC_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world!",
    "HELLO",
    "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e",
    "cafe\u0301 (decomposed accent)",
    "r\u00e9sum\u00e9 na\u00efve",
    "\u6771\u4eac \u65e5\u672c\u8a9e \u4e2d\u6587",
    "embeddings, tokenization and vectors",
    "x",
    "",
]
UNKNOWN_MIXED_TEXTS = [
    "hello \U0001f642 world",
    "hello\U0001f642 world",
    "\u03b1\u03b2\u03b3 dog",
    "the \u2603 fox",
    "[UNK] hello",
]
UNKNOWN_TEXTS = [
    "\U0001f642",
    "\U0001f642\U0001f642 \U0001f389",
    "\u2603\u2603\u2603",
    "\u03b1\u03b2\u03b3 \u2192",
]
LONG_TEXT = " ".join("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(600))
# Characters BERT's normalizer removes (categories Cc, Cf, Co: clean_text drops "control"
# characters before it maps whitespace to spaces), so the words around them are joined.
# Several are whitespace to Python's str.isspace or JavaScript's \s, which is what
# hand-written normalizers get wrong.
BERT_CONTROL_TEXTS = [
    "hello\x1cworld",
    "the\x1dquick\x1ebrown\x1ffox",
    "hello\x85world",
    "lazy\x0bdog\x0cover",
    "hello\x00world\ufffd",
    "\x1c\x1d\x1e\x1f\x85",
]
BERT_PRIVATE_USE_TEXTS = [
    "hello\ue000world",
    "\uf8ff fox \ue123",
    "\ue000",
    "the\uf8fflazy dog",
]
# Format characters (removed) and the spaces BERT keeps as separators.
BERT_SPACE_TEXTS = [
    "hello\u200bworld",
    "\ufeffthe quick fox",
    "soft\u00adly",
    "hello\u00a0world",
    "hello\u2028world\u2029dog",
    "the\u3000fox\u2003dog\u202fcat",
    "tab\tnew\nline\rreturn",
]


@dataclass(frozen=True)
class Case:
    id: str
    description: str
    rules: list[str]
    model: str
    texts: list[str]
    max_length: int | None = 512
    error_code: str | None = None
    rule: str | None = None


def valid_cases() -> list[Case]:
    wp = "wordpiece-f32"
    raw = "wordpiece-f32-raw"
    return [
        # --- tokenization and inference (WordPiece, float32)
        Case("wordpiece-basic",
             "WordPiece (BERT normalizer and pre-tokenizer; its [CLS]/[SEP] template must not be "
             "applied), float32, normalize true: punctuation, case, composed and decomposed "
             "accents, CJK, the empty string.",
             ["L2", "I1", "I3", "I5", "I6", "I7"], wp, BASIC_TEXTS),
        Case("wordpiece-no-normalize", "The basic texts with normalize false: raw means.",
             ["I5"], raw, BASIC_TEXTS),
        Case("normalize-absent",
             "config.json without a normalize key: readers must not normalize (C3).",
             ["C3"], "wordpiece-normalize-absent", BASIC_TEXTS),
        Case("unknown-mixed",
             "Unknown ids (emoji, Greek, a snowman, a literal [UNK]) are dropped before the mean; "
             "WordPiece turns a whole word with an unknown character into one [UNK].",
             ["K3", "I4"], raw, UNKNOWN_MIXED_TEXTS),
        Case("unknown-only",
             "Texts made only of characters outside the vocabulary: every id is the unknown id, "
             "all are dropped, the result is the zero vector, also with normalize true.",
             ["K3", "I4", "I6", "I7"], wp, UNKNOWN_TEXTS),
        Case("empty-strings", "Empty and whitespace-only texts give zero vectors.",
             ["I6"], wp, ["", " ", "\t\n", "   "]),
        Case("empty-batch", "An empty batch gives an empty result of shape (0, dim).",
             ["I8"], wp, []),
        Case("literal-special-tokens",
             "Special tokens written in the text are matched by the tokenizer and kept (they are "
             "not the unknown token); the template is still not applied.",
             ["I3"], raw, ["[CLS] hello [SEP]", "[PAD][MASK]", "fox [SEP] dog"]),
        # --- max_length
        Case("max-length-char-cut",
             "max_length 2, median token length 3: texts are first cut to 6 code points (astral "
             "characters count once, not as two UTF-16 units or four UTF-8 bytes).",
             ["I1", "I2"], raw, ["hello world", "\U0001f642\U0001f642\U0001f642\U0001f642 a"], 2),
        Case("max-length-token-cut",
             "max_length 3: after the character cut, only the first 3 token ids are kept.",
             ["I2", "I3"], raw, ["a b c d e", "the quick brown fox"], 3),
        Case("max-length-unk-in-prefix",
             "max_length 3: the token cut happens before unknown ids are dropped, so an unknown "
             "id inside the first 3 ids costs a slot.",
             ["I3", "I4"], raw, ["\U0001f642 a b c d", "a \u2603 b c d"], 3),
        Case("max-length-512", "A 600-token text with the default max_length 512.",
             ["I3"], raw, [LONG_TEXT], 512),
        Case("max-length-null", "The same 600-token text with max_length null: no truncation.",
             ["I2", "I3"], raw, [LONG_TEXT], None),
        # --- the other tokenizer models
        Case("bpe-byte-level",
             "Byte-level BPE (ByteLevel pre-tokenizer; no unknown token, every byte is a token): "
             "accents, CJK, emoji, repeated spaces.",
             ["K1", "K3", "I3"], "bpe-byte-level",
             ["The quick brown fox", "hello world", "na\u00efve caf\u00e9", "\u6771\u4eac",
              "emoji \U0001f642!", "  two  spaces  ", ""]),
        Case("unigram", "Unigram (NFKC, Metaspace) on texts without unknown characters.",
             ["K1", "I3"], "unigram",
             ["the quick fox", "hello world", "\u6771\u4eac caf\u00e9", "static models", ""]),
        Case("unigram-unk-id",
             "Unigram with unk_id 0: unknown characters (uppercase, emoji) are dropped.",
             ["K3", "I4"], "unigram",
             ["The Dog", "\U0001f642\U0001f642", "hello \U0001f642 world", "\u00dcBER"]),
        Case("wordlevel",
             "WordLevel over Whitespace with a multi-word added token (\"new york\").",
             ["K1", "I3", "T5"], "wordlevel",
             ["The quick brown fox!", "New York city", "caf\u00e9 \u6771\u4eac", ""]),
        Case("wordlevel-unk", "WordLevel with [UNK]: unknown words are dropped.",
             ["K3", "I4"], "wordlevel", ["hello unknownword", "zzz qqq", "the lazy cat"]),
        # --- embedding dtypes, quantization, weights
        Case("float16", "float16 embeddings; means are computed in float32.",
             ["T3", "I5"], "wordpiece-f16", BASIC_TEXTS),
        Case("float64", "float64 embeddings must be accepted (computed as float32).",
             ["T3", "I5"], "wordpiece-f64", BASIC_TEXTS),
        Case("int8-unscaled", "int8 embeddings without embeddings_scale: raw int8 values as float32.",
             ["T3", "I5"], "wordpiece-i8", BASIC_TEXTS),
        Case("int8-scale", "int8 embeddings with embeddings_scale, normalize false: rows are "
             "multiplied by the scale.", ["T7", "I5"], "wordpiece-i8-scale", BASIC_TEXTS),
        Case("int8-scale-normalized",
             "int8 with embeddings_scale and normalize true (a reader that ignores the scale gets "
             "the same output).", ["T7", "I7"], "wordpiece-i8-scale-normalized", BASIC_TEXTS),
        Case("vocab-quantized-i32",
             "Vocabulary quantization: 16 rows, an int32 mapping and per-token weights.",
             ["T3", "T5", "T6", "I5"], "wordpiece-vq-i32", BASIC_TEXTS),
        Case("vocab-quantized-i64", "The same model with an int64 mapping.",
             ["T3", "I5"], "wordpiece-vq-i64", BASIC_TEXTS),
        Case("weights-without-mapping", "Per-token weights without a mapping.",
             ["T5", "I5"], "wordpiece-weights", BASIC_TEXTS),
        # --- layouts
        Case("st-root-normalize",
             "sentence-transformers root layout (tensor embedding.weight, no config.json); "
             "modules.json lists Normalize, so outputs are normalized.",
             ["L2", "L3", "L4"], "st-root-normalize", BASIC_TEXTS),
        Case("st-root", "sentence-transformers root layout without a Normalize module.",
             ["L2", "L3", "L4"], "st-root", BASIC_TEXTS),
        Case("st-root-no-modules-json",
             "sentence-transformers root layout without modules.json: normalize is false.",
             ["L2", "L3"], "st-root-no-modules-json", BASIC_TEXTS),
        Case("st-nested-normalize",
             "Nested layout: config_sentence_transformers.json at the root, model files in "
             "0_StaticEmbedding/, Normalize listed in modules.json.",
             ["L2", "L3", "L4"], "st-nested-normalize", BASIC_TEXTS),
        Case("st-nested", "Nested layout without a Normalize module.",
             ["L2", "L3", "L4"], "st-nested", BASIC_TEXTS),
        Case("native-without-modules-json",
             "Native layout with no modules.json (readers must not need it).",
             ["L2"], "wordpiece-no-modules-json", BASIC_TEXTS),
        # --- tokenizer.json blocks, forward compatibility
        Case("tokenizer-padding-truncation",
             "tokenizer.json stores padding (fixed 16) and truncation (2) blocks; readers ignore "
             "both.", ["K2"], "wordpiece-padding-truncation",
             ["the quick brown fox jumps", "hello world", "a b c d e f g"]),
        Case("tokenizer-padding-truncation-null",
             "The same tokenizer with max_length null.", ["K2", "I2"],
             "wordpiece-padding-truncation", ["the quick brown fox jumps", "a b c d e f g"], None),
        Case("unknown-config-keys-and-tensor",
             "Unknown config keys and an unknown extra tensor are ignored.",
             ["V2", "C4", "T8"], "wordpiece-unknown-extras", BASIC_TEXTS),
        Case("format-version-1-7", "format_version \"1.7\": a newer minor of major 1 is read.",
             ["V1", "V2"], "wordpiece-format-1-7", BASIC_TEXTS),
        # --- v2: what third-party readers got wrong on real models
        Case("tensor-order-scale-first",
             "int8 with embeddings_scale listed first in the header and stored first in the "
             "data (as m2v quantize wrote it before W3), normalize true: tensors are found by "
             "name.", ["S1", "L4", "T7"], "order-scale-first", BASIC_TEXTS),
        Case("tensor-order-weights-first",
             "weights listed first in the header while its bytes come after the embeddings: "
             "header order and data order are unrelated.",
             ["S1", "L4", "T5"], "order-weights-first", BASIC_TEXTS),
        Case("tensor-order-mapping-first",
             "Vocabulary quantization with mapping listed first and weights stored first.",
             ["S1", "L4", "T6"], "order-mapping-first", BASIC_TEXTS),
        Case("tensor-order-unknown-first",
             "An unknown tensor with the same shape is the first tensor: it is ignored.",
             ["S1", "L4", "T8"], "order-unknown-tensor-first", BASIC_TEXTS),
        Case("safetensors-without-metadata", "A safetensors header without __metadata__.",
             ["S1"], "wordpiece-no-metadata", BASIC_TEXTS),
        Case("st-root-unknown",
             "Unknown characters in the sentence-transformers root layout: the unknown id is "
             "dropped there too.", ["L2", "K3", "I4"], "st-root", UNKNOWN_MIXED_TEXTS),
        Case("st-nested-unknown",
             "Unknown characters in the nested sentence-transformers layout, including texts "
             "made only of unknown characters (zero vectors).", ["L2", "K3", "I4", "I6"],
             "st-nested", UNKNOWN_MIXED_TEXTS + UNKNOWN_TEXTS),
        Case("bert-normalizer-control",
             "BERT normalization removes control characters (U+001C-U+001F, U+0085, vertical "
             "tab, form feed, NUL, U+FFFD) instead of splitting on them.",
             ["K1", "I3"], raw, BERT_CONTROL_TEXTS),
        Case("bert-normalizer-private-use",
             "BERT normalization removes private-use characters (U+E000-U+F8FF).",
             ["K1", "I3", "I6"], wp, BERT_PRIVATE_USE_TEXTS),
        Case("bert-normalizer-format-and-spaces",
             "Format characters (U+200B, U+FEFF, U+00AD) are removed; no-break, line, "
             "paragraph, ideographic and other Unicode spaces separate words.",
             ["K1", "I3"], raw, BERT_SPACE_TEXTS),
        Case("bpe-padding-truncation",
             "Byte-level BPE whose tokenizer.json pads to 16 and truncates to 2: both ignored.",
             ["K2"], "bpe-padding-truncation",
             ["The quick brown fox", "hello world", "emoji \U0001f642!"]),
        Case("bpe-padding-truncation-null", "The same BPE tokenizer with max_length null.",
             ["K2", "I2"], "bpe-padding-truncation", ["The quick brown fox", "hello"], None),
        Case("unigram-padding-truncation",
             "Unigram whose tokenizer.json pads to 16 (with <unk>) and truncates to 2: both "
             "ignored.", ["K2"], "unigram-padding-truncation",
             ["the quick fox", "hello world static model", "The Dog"]),
        Case("unigram-padding-truncation-null", "The same Unigram tokenizer with max_length null.",
             ["K2", "I2"], "unigram-padding-truncation", ["the quick fox", "hello world"], None),
        Case("unk-token-missing-wordpiece",
             "WordPiece whose unk_token \"[UNKNOWN]\" is not in the vocabulary: the unknown id is "
             "null, the model loads, nothing is dropped (texts without unknown pieces).",
             ["K3", "I4"], "wordpiece-unk-missing", BASIC_TEXTS),
        Case("unk-token-missing-bpe",
             "Byte-level BPE naming an unk_token \"<unk>\" that is not in the vocabulary.",
             ["K3", "I4"], "bpe-unk-missing", ["The quick brown fox", "emoji \U0001f642!", ""]),
        Case("unk-token-missing-wordlevel",
             "WordLevel naming an unk_token \"<unk>\" that is not in the vocabulary.",
             ["K3", "I4"], "wordlevel-unk-missing", ["The quick brown fox!", "New York city"]),
        Case("max-length-token-cut-unk-early",
             "max_length 8: the character cut (24 code points) leaves more than 8 ids, so the "
             "token cut applies too, and the unknown ids among the first 8 cost their slots.",
             ["I2", "I3", "I4"], raw,
             ["\U0001f642 \u2603 a b c d e f g h i j k l m n",
              "\u2603 the quick brown fox jumps over the lazy dog again"], 8),
        Case("max-length-512-unk-early",
             "A 602-token text whose first two ids are unknown, default max_length 512: 510 ids "
             "are pooled.", ["I3", "I4"], raw, ["\U0001f642 \u2603 " + LONG_TEXT], 512),
        Case("unigram-max-length-unk-early",
             "Unigram, max_length 4: unknown uppercase pieces early in the text count towards "
             "the 4 ids before they are dropped.", ["I2", "I3", "I4"], "unigram",
             ["The Dog the quick fox hello world", "HELLO the quick fox"], 4),
        Case("weights-float16", "float16 per-token weights are converted to float32.",
             ["T3", "I5"], "wordpiece-weights-f16", BASIC_TEXTS),
        Case("int8-row-scales",
             "int8 rows with a per-token weight holding each row's scale and no "
             "embeddings_scale (what m2v quantize --to int8 writes, format 1.0).",
             ["T3", "T5", "I5"], "wordpiece-i8-row-scales", BASIC_TEXTS),
        Case("vocab-quantized-int8-scale",
             "Vocabulary quantization with int8 rows, embeddings_scale, a mapping and weights, "
             "normalize true (what m2v quantize --to int8 --vocabulary-clusters writes).",
             ["T6", "T7", "I5", "I7"], "wordpiece-vq-i8-scale", BASIC_TEXTS),
    ]  # fmt: skip


INVALID: list[tuple[str, str, str, str]] = [
    # (case id = model folder name, description, rule, error code)
    ("invalid-missing-tokenizer", "Native layout without tokenizer.json.", "L2", "missing-file"),
    ("invalid-config-json", "config.json is not valid JSON.", "C1", "invalid-json"),
    ("invalid-config-not-object", "config.json is a JSON array, not an object.", "C1",
     "invalid-json"),
    ("invalid-normalize-type", "normalize is the string \"yes\", not a boolean.", "C2",
     "invalid-config-value"),
    ("invalid-max-length-zero", "max_length 0 (must be an integer >= 1 or null).", "C2",
     "invalid-config-value"),
    ("invalid-format-version-2-0", "format_version \"2.0\": an unknown major version.", "V3",
     "unsupported-format-version"),
    ("invalid-format-version-one", "format_version \"one\" is not MAJOR.MINOR.", "V1",
     "invalid-format-version"),
    ("invalid-truncated-safetensors", "model.safetensors is 100 bytes shorter than its header "
     "says.", "S3", "truncated-file"),
    ("invalid-header-too-large", "The safetensors header length is 100000008 (> 100 MB).", "S2",
     "header-too-large"),
    ("invalid-header-not-json", "The safetensors header is not JSON.", "S1",
     "invalid-safetensors"),
    ("invalid-bad-data-offsets", "The data_offsets of embeddings cover one row less than its "
     "shape.", "S1", "invalid-safetensors"),
    ("invalid-embeddings-rank-1", "embeddings is rank 1.", "T2", "invalid-tensor-shape"),
    ("invalid-rows-mismatch", "embeddings has one row less than the vocabulary and there is no "
     "mapping.", "T5", "vocab-size-mismatch"),
    ("invalid-weights-length", "weights has one entry less than the vocabulary.", "T5",
     "vocab-size-mismatch"),
    ("invalid-mapping-out-of-range", "The mapping entry of \".\" is 16, with 16 rows; the texts "
     "use only ids below 16, so ignoring the mapping does not crash.", "T6",
     "mapping-out-of-range"),
    ("invalid-mapping-negative", "The mapping entry of \",\" is -1 (a negative index must not wrap "
     "around); the texts use only ids below the row count.", "T6", "mapping-out-of-range"),
    ("invalid-mapping-length", "mapping has one entry less than the vocabulary; the texts use "
     "only ids below the row count.", "T5", "vocab-size-mismatch"),
    ("invalid-mapping-float", "mapping is float32; the texts use only ids below the row count.",
     "T3", "unsupported-dtype"),
    ("invalid-weights-nan", "The weight of \"hello\" is NaN.", "T4", "non-finite-values"),
    ("invalid-scale-shape", "embeddings_scale has shape [2], not [1].", "T7", "invalid-scale"),
    ("invalid-scale-f16", "embeddings_scale is F16, not F32.", "T7", "invalid-scale"),
    ("invalid-embeddings-nan", "The embedding row of \"hello\" holds a NaN.", "T4",
     "non-finite-values"),
    ("invalid-embeddings-bf16", "embeddings is BF16.", "T3", "unsupported-dtype"),
    ("invalid-scale-negative", "int8 embeddings with embeddings_scale -0.5.", "T7",
     "invalid-scale"),
    ("invalid-scale-with-float32", "embeddings_scale next to float32 embeddings.", "T7",
     "invalid-scale"),
    ("invalid-missing-embeddings", "The only tensor is named \"vectors\".", "T1", "missing-tensor"),
    ("invalid-tokenizer-json", "tokenizer.json names an unknown model type.", "K1",
     "invalid-tokenizer"),
]  # fmt: skip


# Invalid cases whose texts are not "hello world": only ids below the mapping's 16 rows.
LOW_ID_TEXTS = [". , !", "?", ", . ! ?"]
INVALID_TEXTS: dict[str, list[str]] = {
    "invalid-mapping-out-of-range": LOW_ID_TEXTS,
    "invalid-mapping-negative": LOW_ID_TEXTS,
    "invalid-mapping-length": LOW_ID_TEXTS,
    "invalid-mapping-float": LOW_ID_TEXTS,
}


def invalid_cases() -> list[Case]:
    return [
        Case(
            cid,
            description,
            [rule],
            cid,
            INVALID_TEXTS.get(cid, ["hello world"]),
            512,
            error_code=code,
            rule=rule,
        )
        for cid, description, rule, code in INVALID
    ]


# ---------------------------------------------------------------------------------------------
# Expected values and serialization
# ---------------------------------------------------------------------------------------------


def float32_text(value: np.float32) -> str:
    """Shortest decimal that reads back as the same float32 (valid JSON)."""
    return str(np.float32(value))


def _rows(rows: list[str], indent: int) -> str:
    if not rows:
        return "[]"
    pad = " " * indent
    return "[\n" + ",\n".join(pad + row for row in rows) + "\n" + " " * (indent - 2) + "]"


def case_document(case: Case, suite: Path) -> str:
    """The JSON text of one case file."""
    doc: dict[str, Any] = {
        "id": case.id,
        "description": case.description,
        "rules": case.rules,
        "model": f"models/{case.model}",
        "valid": case.error_code is None,
        "inputs": {"texts": case.texts, "max_length": case.max_length},
    }
    blocks: dict[str, str] = {}
    if case.error_code is None:
        doc["requires"] = required_capabilities(suite / "models" / case.model, case)
        token_ids, embeddings = expected_outputs(suite / "models" / case.model, case)
        doc["expected"] = {"token_ids": "@token_ids@", "embeddings": "@embeddings@"}
        doc["tolerance"] = {"atol": ATOL, "rtol": RTOL}
        blocks['"@token_ids@"'] = _rows([json.dumps(ids) for ids in token_ids], 6)
        blocks['"@embeddings@"'] = _rows(
            ["[" + ", ".join(float32_text(v) for v in row) + "]" for row in embeddings], 6
        )
    else:
        doc["error_code"] = case.error_code
        doc["rule"] = case.rule
    text = json.dumps(doc, indent=2, ensure_ascii=True)
    for placeholder, block in blocks.items():
        text = text.replace(placeholder, block)
    return text + "\n"


# Request options a reader may declare it cannot honour (spec/conformance/README.md).
NORMALIZE_RULES = ("C3", "L3")  # cases about how the model's normalize setting is found


def required_capabilities(model_dir: Path, case: Case) -> list[str]:
    """The capabilities a reader needs to pass ``case``.

    ``normalize-null``: the case tests how the normalize setting is determined.
    ``max-length``: the expected output changes when the given max_length is replaced by no
    truncation or by the default 512, so a reader that cannot apply it cannot pass.
    """
    import m2v_format

    required: list[str] = []
    if any(rule in NORMALIZE_RULES for rule in case.rules):
        required.append("normalize-null")
    model = m2v_format.load_model(model_dir)
    outputs = [
        m2v_format.reference_encode(model, case.texts, max_length=length)
        for length in (case.max_length, None, 512)
    ]
    if any(not np.array_equal(outputs[0], other) for other in outputs[1:]):
        required.append("max-length")
    return required


def expected_outputs(model_dir: Path, case: Case) -> tuple[list[list[int]], np.ndarray]:
    """Token ids (I1-I4) and embeddings (I1-I8) from the reference implementation."""
    import m2v_format

    model = m2v_format.load_model(model_dir)
    token_ids = m2v_format.reference_tokenize(model, case.texts, max_length=case.max_length)
    embeddings = m2v_format.reference_encode(model, case.texts, max_length=case.max_length)
    assert embeddings.dtype == np.float32, embeddings.dtype
    assert embeddings.shape == (len(case.texts), model.dim), embeddings.shape
    return [list(map(int, ids)) for ids in token_ids], embeddings


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def all_cases() -> list[Case]:
    cases = valid_cases() + invalid_cases()
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases


def generate(out: Path, *, log: Callable[[str], None] = lambda _: None) -> None:
    """Write cases/ and models/ under ``out`` (replacing those two folders only)."""
    for name in GENERATED:
        shutil.rmtree(out / name, ignore_errors=True)
    models = build_models()
    cases = all_cases()
    used = {c.model for c in cases}
    assert used == set(models), f"unused or missing models: {used ^ set(models)}"
    for name, folder in sorted(models.items()):
        folder.write(out / "models" / name)
    for case in cases:
        write_text(out / "cases" / f"{case.id}.json", case_document(case, out))
    log(f"wrote {len(cases)} cases and {len(models)} model folders under {out}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=SUITE, help="suite folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    generate(args.out, log=print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
