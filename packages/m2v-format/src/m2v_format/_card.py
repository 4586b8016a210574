"""The README.md model card the writer produces (rule C6)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_TAGS = ("embeddings", "static-embeddings", "m2v-format")


@dataclass(frozen=True)
class ModelCard:
    """Metadata for the model card's YAML front matter (C6).

    ``tags`` are added to the default tags; ``sentence-transformers`` is added by the
    writer when sentence-transformers can load the folder.
    """

    base_model: str | None = None
    language: str | Sequence[str] | None = None
    license: str | None = None
    tags: Sequence[str] = ()


def _yaml_string(text: str) -> str:
    """A YAML double-quoted scalar: printable ASCII kept, everything else escaped."""
    parts = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            parts.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            parts.append(char)
        elif code < 0x10000:
            parts.append(f"\\u{code:04x}")
        else:
            parts.append(f"\\U{code:08x}")
    parts.append('"')
    return "".join(parts)


def _yaml_list(key: str, values: Sequence[str]) -> list[str]:
    if not values:
        return []
    return [f"{key}:", *(f"- {_yaml_string(value)}" for value in values)]


def _dedupe(values: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return list(seen)


def render_card(
    card: ModelCard,
    *,
    model_name: str,
    rows: int,
    dim: int,
    dtype: str,
    tokenizer_type: str,
    normalize: bool,
    format_version: str,
    quantized_vocabulary: bool,
    sentence_transformers: bool,
) -> str:
    """The README.md text: YAML front matter, then a short description and usage."""
    tags = _dedupe(
        [*DEFAULT_TAGS, *(["sentence-transformers"] if sentence_transformers else []), *card.tags]
    )
    language: list[str] = (
        [card.language] if isinstance(card.language, str) else list(card.language or [])
    )
    front = ["---", f"library_name: {_yaml_string('model2vec')}"]
    if card.base_model:
        front.append(f"base_model: {_yaml_string(card.base_model)}")
    if card.license:
        front.append(f"license: {_yaml_string(card.license)}")
    front += _yaml_list("language", language)
    front += _yaml_list("tags", tags)
    front.append("---")

    based = f", distilled from `{card.base_model}`" if card.base_model else ""
    vocabulary = " with a quantized vocabulary" if quantized_vocabulary else ""
    body = [
        "",
        f"# {model_name}",
        "",
        f"A static embedding model{based}: one {dim}-dimensional vector per token "
        f"({rows} rows of {dtype}{vocabulary}, {tokenizer_type} tokenizer). A text's embedding "
        f"is the mean of its tokens' vectors{', L2-normalized' if normalize else ''}.",
        "",
        f"Stored in the m2v format, version {format_version} (a model2vec-compatible folder:",
        "`config.json`, `model.safetensors`, `tokenizer.json`, `modules.json`).",
        "",
        "## Usage",
        "",
        "The folder loads with the m2v tools (`m2v-infer`), with model2vec:",
        "",
        "```python",
        "from model2vec import StaticModel",
        "",
        f"model = StaticModel.from_pretrained({json.dumps(model_name)})",
        'embeddings = model.encode(["An example sentence", "Another one"])',
        "```",
        "",
    ]
    if sentence_transformers:
        body += [
            "and with sentence-transformers:",
            "",
            "```python",
            "from sentence_transformers import SentenceTransformer",
            "",
            f"model = SentenceTransformer({json.dumps(model_name)})",
            "```",
            "",
        ]
    return "\n".join(front + body)
