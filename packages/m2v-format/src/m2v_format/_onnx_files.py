"""The files beside the ONNX graphs (spec/onnx.md O1, O2, O9): config, tokenizer, card.

Pure functions from a model to the documents written; :mod:`m2v_format._onnx_export`
writes them.  Nothing here imports ``onnx``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokenizers import Tokenizer

from m2v_format._card import _yaml_string
from m2v_format._errors import InvalidTokenizerError
from m2v_format._model import StaticModelData
from m2v_format._onnx import ONNX_LAYOUT_VERSION, InputForm

ONNX_FOLDER = "onnx"
"""The graphs' folder inside the export (transformers.js' default ``subfolder``)."""

FILE_NAMES = {"float32": "model.onnx", "float16": "model_fp16.onnx", "int8": "model_int8.onnx"}
"""Graph file per stored table dtype: transformers.js' names for its dtypes fp32, fp16, int8."""

TRANSFORMERS_JS_DTYPES = {"float32": "fp32", "float16": "fp16", "int8": "int8"}

TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"

_PAD_CANDIDATES = ("[PAD]", "<pad>", "<|pad|>", "<|endoftext|>")


@dataclass(frozen=True)
class ExportFacts:
    """What the documents say about the export: the client side of spec/onnx.md."""

    inputs: InputForm
    normalize: bool
    max_length: int | None
    median_token_length: int
    unknown_token_id: int | None
    vocab_size: int
    dim: int
    pad_token: str
    pad_token_id: int
    files: Mapping[str, str]
    """dtype -> path of the graph, relative to the export folder, in the order written."""
    external_data: frozenset[str] = frozenset()
    """The graphs (relative paths) whose tensors are in ``<graph>_data``."""


def pad_token(model: StaticModelData) -> tuple[str, int]:
    """The token (and id) clients that pad (``padded`` inputs) pad with.

    A literal pad token of the vocabulary, else the unknown token, else id 0.  Padding is
    masked out by ``attention_mask``, so the choice never changes a vector; fastembed adds
    it as a special token, which is why an existing token is preferred.
    """
    tokenizer = model.tokenizer
    for candidate in _PAD_CANDIDATES:
        found = tokenizer.token_to_id(candidate)
        if found is not None:
            return candidate, int(found)
    unknown = model.unknown_token_id
    for token_id in (unknown, 0):
        if token_id is not None:
            token = tokenizer.id_to_token(token_id)
            if token is not None:
                return str(token), int(token_id)
    raise InvalidTokenizerError("the vocabulary has no id 0", path=model.path)


def tokenizer_json(tokenizer: Tokenizer) -> str:
    """``tokenizer.json`` for clients (O2): no padding, no truncation, no post-processor.

    Without the post-processor, encoding with or without special tokens gives the ids of
    ``add_special_tokens=False`` (rule I3), so a client that cannot switch them off (fastembed)
    still gets the right ids.
    """
    document: dict[str, Any] = json.loads(tokenizer.to_str())
    document["padding"] = None
    document["truncation"] = None
    document["post_processor"] = None
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    Tokenizer.from_str(text)  # still loads (the post-processor is optional)
    return text


def config_json(model: StaticModelData, facts: ExportFacts) -> dict[str, Any]:
    """``config.json`` of the export (O2): what transformers.js, fastembed and clients read."""
    first = next(iter(facts.files))
    transformers_js: dict[str, Any] = {"dtype": TRANSFORMERS_JS_DTYPES[first]}
    if facts.external_data:
        transformers_js["use_external_data_format"] = {
            path.rsplit("/", 1)[-1]: True for path in sorted(facts.external_data)
        }
    return {
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "m2v_onnx_version": ONNX_LAYOUT_VERSION,
        "inputs": facts.inputs,
        "normalize": facts.normalize,
        "max_length": facts.max_length,
        "median_token_length": facts.median_token_length,
        "unknown_token_id": facts.unknown_token_id,
        "vocab_size": facts.vocab_size,
        "hidden_dim": facts.dim,
        "pad_token_id": facts.pad_token_id,
        "files": dict(facts.files),
        "transformers.js_config": transformers_js,
        "source_config": model.config.to_dict(),
    }


def tokenizer_config_json(facts: ExportFacts) -> dict[str, Any]:
    """``tokenizer_config.json``: transformers.js needs the file, fastembed the pad token and
    ``model_max_length`` (absent when the model does not truncate)."""
    document: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": False,
        "pad_token": facts.pad_token,
    }
    if facts.max_length is not None:
        document["model_max_length"] = facts.max_length
    return document


def special_tokens_map_json(facts: ExportFacts) -> dict[str, Any]:
    """``special_tokens_map.json`` (fastembed requires it): the pad token only."""
    return {"pad_token": facts.pad_token}


def readme(name: str, model: StaticModelData, facts: ExportFacts) -> str:
    """README.md of the export: front matter, what the graph computes, how to run it."""
    language = model.config.language
    languages = [language] if isinstance(language, str) else list(language or [])
    front = ["---", f"library_name: {_yaml_string('transformers.js')}"]
    if languages:
        front += ["language:", *(f"- {_yaml_string(code)}" for code in languages)]
    front += [
        "tags:",
        *(
            f"- {_yaml_string(tag)}"
            for tag in ("onnx", "model2vec", "static-embeddings", "m2v-format")
        ),
    ]
    front.append("---")
    inputs = (
        "`input_ids` (int64, every text's ids back to back) and `offsets` (int64, where each "
        "text starts)"
        if facts.inputs == "offsets"
        else "`input_ids` and `attention_mask` (int64, `[batch, sequence]`, padded)"
    )
    files = ", ".join(f"`{path}` ({dtype})" for dtype, path in facts.files.items())
    cut = (
        f"cut each text to its first {facts.max_length * facts.median_token_length} "
        f"characters, tokenize, keep the first {facts.max_length} ids"
        if facts.max_length is not None
        else "tokenize (no truncation)"
    )
    body = [
        "",
        f"# {name}",
        "",
        f"An ONNX export of a static embedding model: {facts.vocab_size} tokens, "
        f"{facts.dim} dimensions. Inputs: {inputs}; output `embeddings` (float32 "
        f"`[batch, {facts.dim}]`, the mean of each text's token vectors"
        f"{', L2-normalized' if facts.normalize else ''}). Graphs: {files}.",
        "",
        "The graph drops the unknown token and pools; tokenization stays outside: "
        f"{cut}, with `tokenizer.json` and no special tokens. The layout is specified in "
        "m2v's `spec/onnx.md`, version " + ONNX_LAYOUT_VERSION + ".",
        "",
        "```python",
        "import numpy as np",
        "import onnxruntime as ort",
        "from tokenizers import Tokenizer",
        "",
        f'tokenizer = Tokenizer.from_file("{name}/tokenizer.json")',
        f'session = ort.InferenceSession("{name}/{next(iter(facts.files.values()))}")',
        'ids = [e.ids for e in tokenizer.encode_batch(["An example", "Another one"], '
        "add_special_tokens=False)]",
    ]
    if facts.inputs == "offsets":
        body += [
            "offsets = np.cumsum([0] + [len(row) for row in ids[:-1]])",
            'feeds = {"input_ids": np.array(sum(ids, []), dtype=np.int64),',
            '         "offsets": offsets.astype(np.int64)}',
        ]
    else:
        body += [
            "width = max(map(len, ids))",
            "input_ids = np.array([row + [0] * (width - len(row)) for row in ids], dtype=np.int64)",
            "mask = np.array([[1] * len(row) + [0] * (width - len(row)) for row in ids], dtype=np.int64)",
            'feeds = {"input_ids": input_ids, "attention_mask": mask}',
        ]
    body += ["(embeddings,) = session.run(None, feeds)", "```", ""]
    return "\n".join(front + body)
