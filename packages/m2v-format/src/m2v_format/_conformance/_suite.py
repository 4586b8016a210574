"""The suite: its case files, loaded into :class:`Case` objects and checked.

A suite is a folder holding ``case.schema.json``, ``response.schema.json`` (what the reader
may write), ``cases/<id>.json`` and the model folders under ``models/`` the cases name
(``spec/conformance/README.md``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from m2v_format._conformance._schema import schema_checker, schema_problems
from m2v_format._errors import InvalidJSONError, SuiteError
from m2v_format._json import read_json

SCHEMA_FILE = "case.schema.json"
RESPONSE_SCHEMA_FILE = "response.schema.json"


@dataclass(frozen=True)
class Case:
    """One test vector, loaded and checked.

    ``requires`` lists the capabilities (:data:`~m2v_format._conformance._declaration.CAPABILITIES`)
    the case needs, in the order of the case file; empty when the file has no ``requires``.
    """

    id: str
    description: str
    rules: list[str]
    model: Path
    valid: bool
    texts: list[str]
    max_length: int | None
    token_ids: list[list[int]] | None = None
    embeddings: np.ndarray | None = None
    atol: float = 0.0
    rtol: float = 0.0
    error_code: str | None = None
    rule: str | None = None
    requires: tuple[str, ...] = ()

    def request(self) -> dict[str, Any]:
        """The request line the reader receives for this case."""
        return {
            "id": self.id,
            "model": str(self.model),
            "texts": self.texts,
            "max_length": self.max_length,
            "normalize": None,
        }


def load_suite(suite: Path) -> list[Case]:
    """Load every case of ``suite``, checking each file against the schema and the model folders.

    Raises SuiteError listing every problem found, and MissingDependencyError when
    jsonschema (the extra ``conformance``) is not installed.
    """
    suite = suite.resolve()
    schema_path = suite / SCHEMA_FILE
    cases_dir = suite / "cases"
    if not schema_path.is_file() or not cases_dir.is_dir():
        raise SuiteError(
            [f"{suite} is not a conformance suite: {SCHEMA_FILE} or cases/ missing"], path=suite
        )
    schema_errors = schema_checker(_read_schema(schema_path))
    problems: list[str] = []
    cases: list[Case] = []
    for path in sorted(cases_dir.glob("*.json")):
        try:
            doc = read_json(path, dict)
        except InvalidJSONError as error:
            problems.append(f"{path.name}: {error.message}")
            continue
        errors = schema_errors(doc)
        if not errors:
            case, errors = _case_from_document(doc, suite)
            if doc["id"] != path.stem:
                errors.append(f"id {doc['id']!r} differs from the file name")
            if case is not None and not errors:
                cases.append(case)
        problems += [f"{path.name}: {error}" for error in errors]
    if not cases and not problems:
        problems.append(f"{cases_dir} holds no case files")
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            problems.append(f"duplicate case id {case.id}")
        seen.add(case.id)
    if problems:
        raise SuiteError(problems, path=suite)
    return cases


def response_checker(suite: Path) -> Callable[[Any], list[str]]:
    """A checker of response lines against the suite's ``response.schema.json``.

    The checker returns every error as ``PATH: MESSAGE`` (empty for a valid line).  Raises
    SuiteError when the schema is missing or invalid, MissingDependencyError without
    jsonschema.
    """
    path = suite.resolve() / RESPONSE_SCHEMA_FILE
    if not path.is_file():
        raise SuiteError([f"{suite} has no {RESPONSE_SCHEMA_FILE}"], path=suite)
    return schema_checker(_read_schema(path))


def select_cases(cases: Sequence[Case], patterns: Iterable[str] | None) -> list[Case]:
    """The cases whose id matches one of the shell-style ``patterns`` (all when there are none)."""
    patterns = list(patterns or [])
    if not patterns:
        return list(cases)
    return [c for c in cases if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)]


def _read_schema(path: Path) -> dict[str, Any]:
    """A schema of the suite, read and checked against the draft 2020-12 meta-schema."""
    try:
        schema: dict[str, Any] = read_json(path, dict)
    except InvalidJSONError as error:
        raise SuiteError([f"{path.name}: {error.message}"], path=path) from None
    problems = schema_problems(schema)
    if problems:
        raise SuiteError([f"{path.name}: invalid JSON Schema: {p}" for p in problems], path=path)
    return schema


def _case_from_document(doc: dict[str, Any], suite: Path) -> tuple[Case | None, list[str]]:
    errors: list[str] = []
    model = (suite / doc["model"]).resolve()
    if not model.is_relative_to(suite / "models") or not model.is_dir():
        errors.append(f"model folder {doc['model']} does not exist in the suite")
    texts: list[str] = doc["inputs"]["texts"]
    common: dict[str, Any] = {
        "id": doc["id"],
        "description": doc["description"],
        "rules": doc["rules"],
        "model": model,
        "valid": doc["valid"],
        "texts": texts,
        "max_length": doc["inputs"]["max_length"],
        "requires": tuple(doc.get("requires", ())),
    }
    if not doc["valid"]:
        if doc["rule"] not in doc["rules"]:
            errors.append(f"rule {doc['rule']} is not listed in rules")
        return Case(**common, error_code=doc["error_code"], rule=doc["rule"]), errors
    expected = doc["expected"]
    token_ids: list[list[int]] = expected["token_ids"]
    rows: list[list[float]] = expected["embeddings"]
    if len(token_ids) != len(texts) or len(rows) != len(texts):
        errors.append("expected token_ids and embeddings need one row per text")
    if len({len(row) for row in rows}) > 1:
        errors.append("expected embedding rows differ in length")
    if errors:
        return None, errors
    embeddings = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1 if rows else 0)
    if not np.isfinite(embeddings).all():
        errors.append("expected embeddings are not finite")
    tolerance = doc["tolerance"]
    case = Case(
        **common,
        token_ids=token_ids,
        embeddings=embeddings,
        atol=float(tolerance["atol"]),
        rtol=float(tolerance["rtol"]),
    )
    return case, errors
