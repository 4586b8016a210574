"""Strict JSON reading shared by config.json, modules.json and config_sentence_transformers.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from m2v_format._errors import InvalidJSONError


def reject_constant(name: str) -> Any:
    """``parse_constant`` hook refusing NaN and Infinity literals (RFC 8259)."""
    raise ValueError(f"{name} is not valid JSON")


def parse_json_text(data: bytes, path: Path) -> Any:
    """Decode UTF-8 JSON (RFC 8259: no NaN/Infinity literals); rule C1."""
    try:
        text = data.decode("utf-8")
        return json.loads(text, parse_constant=reject_constant)
    except UnicodeDecodeError as error:
        raise InvalidJSONError(f"not UTF-8: {error}", path=path) from None
    except (ValueError, RecursionError) as error:
        raise InvalidJSONError(f"not valid JSON: {error}", path=path) from None


def read_json(path: Path, expected: type[dict[Any, Any]] | type[list[Any]]) -> Any:
    """Read ``path`` as UTF-8 JSON whose top-level value is a ``dict`` or ``list``; rule C1."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidJSONError(f"cannot be read: {error.strerror or error}", path=path) from None
    document = parse_json_text(data, path)
    if not isinstance(document, expected):
        wanted = "an object" if expected is dict else "an array"
        raise InvalidJSONError(
            f"top-level value is {type(document).__name__}, expected {wanted}", path=path
        )
    return document
