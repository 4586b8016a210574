"""Reading labelled texts and corpora from CSV, JSONL and plain-text files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from m2v_train._errors import DataFileError

csv.field_size_limit(100_000_000)

SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".ndjson", ".txt")


def _rows(path: Path, encoding: str) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            with path.open(encoding=encoding, newline="") as handle:
                return list(csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ","))
        if suffix in (".jsonl", ".json", ".ndjson"):
            rows = []
            with path.open(encoding=encoding) as handle:
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    if not isinstance(row, dict):
                        raise DataFileError(f"{path}:{number}: each line must be a JSON object")
                    rows.append(row)
            return rows
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as error:
        raise DataFileError(f"cannot read {path}: {error}") from None
    raise DataFileError(f"{path}: unsupported file type {suffix!r} (use {', '.join(SUFFIXES)})")


def _column(rows: list[dict[str, Any]], name: str, path: Path) -> list[Any]:
    if rows and name not in rows[0]:
        raise DataFileError(
            f"{path} has no column {name!r} (columns: {', '.join(map(str, rows[0]))})"
        )
    return [row.get(name) for row in rows]


def read_labelled(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    label_separator: str | None = None,
    encoding: str = "utf-8",
) -> tuple[list[str], list[Any]]:
    """Texts and labels from a CSV/TSV/JSONL file.

    A JSON list label means multi-label; in CSV, ``label_separator`` (e.g. ``"|"``) splits a
    cell into several labels.  Rows with an empty text or label are an error.
    """
    file = Path(path)
    if not file.is_file():
        raise DataFileError(f"data file not found: {file}")
    rows = _rows(file, encoding)
    if not rows:
        raise DataFileError(f"{file} holds no rows")
    texts = _column(rows, text_column, file)
    labels = _column(rows, label_column, file)
    for number, (text, label) in enumerate(zip(texts, labels, strict=True), 1):
        if not isinstance(text, str):
            raise DataFileError(f"{file}: row {number}: text is not a string")
        if label is None or label == "":
            raise DataFileError(f"{file}: row {number}: empty label")
    if label_separator:
        labels = [
            [part.strip() for part in str(label).split(label_separator) if part.strip()]
            for label in labels
        ]
    return texts, labels


def read_corpus(
    path: str | Path, *, text_column: str = "text", encoding: str = "utf-8"
) -> list[str]:
    """A corpus: one text per line of a ``.txt`` file, or a column of a CSV/JSONL file.

    Blank texts are skipped.
    """
    file = Path(path)
    if not file.is_file():
        raise DataFileError(f"corpus file not found: {file}")
    if file.suffix.lower() == ".txt":
        try:
            lines = file.read_text(encoding=encoding).splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise DataFileError(f"cannot read {file}: {error}") from None
        return [line.strip() for line in lines if line.strip()]
    column = _column(_rows(file, encoding), text_column, file)
    return [text for text in column if isinstance(text, str) and text.strip()]
