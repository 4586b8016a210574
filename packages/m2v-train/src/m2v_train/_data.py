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


def _number(value: Any, file: Path, number: int, column: str) -> float:
    """One numeric cell (a JSON number, or text that parses as a finite float)."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise DataFileError(f"{file}: row {number}: {column!r} is empty or not a number")
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        raise DataFileError(
            f"{file}: row {number}: {column!r} is not a number: {value!r}"
        ) from None
    if parsed != parsed or parsed in (float("inf"), float("-inf")):
        raise DataFileError(f"{file}: row {number}: {column!r} is not finite: {value!r}")
    return parsed


def read_targets(
    path: str | Path,
    *,
    text_column: str = "text",
    target_columns: list[str] | tuple[str, ...] = ("target",),
    encoding: str = "utf-8",
) -> tuple[list[str], list[list[float]]]:
    """Texts and numeric targets (one row ``[v1, v2, ...]`` per text, one value per target
    column) from a CSV/TSV/JSONL file, for regression.

    A single target column whose JSONL values are arrays of numbers gives those vectors
    (all of one length).  Rows with an empty text or a non-numeric target are an error.
    """
    file = Path(path)
    if not file.is_file():
        raise DataFileError(f"data file not found: {file}")
    columns = list(target_columns)
    if not columns or len(set(columns)) != len(columns):
        raise DataFileError(f"target columns must be distinct and at least one, got {columns}")
    rows = _rows(file, encoding)
    if not rows:
        raise DataFileError(f"{file} holds no rows")
    texts = _column(rows, text_column, file)
    cells = [_column(rows, column, file) for column in columns]
    targets: list[list[float]] = []
    width: int | None = None
    for index, text in enumerate(texts):
        number = index + 1
        if not isinstance(text, str) or not text:
            raise DataFileError(f"{file}: row {number}: text is empty or not a string")
        values = [column[index] for column in cells]
        if len(columns) == 1 and isinstance(values[0], list):
            vector = [_number(v, file, number, columns[0]) for v in values[0]]
        else:
            vector = [_number(v, file, number, c) for v, c in zip(values, columns, strict=True)]
        if not vector or (width is not None and len(vector) != width):
            raise DataFileError(
                f"{file}: row {number}: {len(vector)} target values, the rows before have {width}"
            )
        width = len(vector)
        targets.append(vector)
    return texts, targets


def read_pairs(
    path: str | Path,
    *,
    first_column: str = "text_a",
    second_column: str = "text_b",
    encoding: str = "utf-8",
) -> tuple[list[str], list[str]]:
    """The two texts of each pair from a CSV/TSV/JSONL file (pair similarity).

    Rows whose texts are empty or not strings are an error.
    """
    file = Path(path)
    if not file.is_file():
        raise DataFileError(f"data file not found: {file}")
    if first_column == second_column:
        raise DataFileError(f"the two pair columns are both {first_column!r}")
    rows = _rows(file, encoding)
    if not rows:
        raise DataFileError(f"{file} holds no rows")
    first = _column(rows, first_column, file)
    second = _column(rows, second_column, file)
    for number, (a, b) in enumerate(zip(first, second, strict=True), 1):
        for name, text in ((first_column, a), (second_column, b)):
            if not isinstance(text, str) or not text:
                raise DataFileError(f"{file}: row {number}: {name!r} is empty or not a string")
    return first, second
