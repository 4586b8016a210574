"""Reading RESPONSES.jsonl: every line checked against ``response.schema.json``.

Each line is a response (``id``, ``ok``, ...) or, on the first line only, the reader's
declaration (:mod:`~m2v_format._conformance._declaration`).  A line that is not JSON, not a
response with an id, a declaration that breaks the schema or one after the first line is a
problem of the run; a response with an id that breaks the schema is also noted against its
case, which then fails with the JSON path at fault.

NaN and Infinity literals are read as numbers on purpose (JSON has none, but common writers
emit them), so that the comparison can say which embeddings are not finite.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from m2v_format._conformance._declaration import Declaration
from m2v_format._conformance._suite import RESPONSE_SCHEMA_FILE

LineChecker = Callable[[Any], list[str]]
"""Every error of one parsed line against the response schema, as ``PATH: MESSAGE``."""

SHOWN_ERRORS = 3
"""How many schema errors a message quotes before saying how many more there are."""


@dataclass
class Responses:
    """What RESPONSES.jsonl holds, line by line, and what was wrong with it."""

    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    invalid: dict[str, list[str]] = field(default_factory=dict)
    duplicates: set[str] = field(default_factory=set)
    declaration: Declaration | None = None
    problems: list[str] = field(default_factory=list)


def parse_responses(data: bytes, check: LineChecker) -> Responses:
    """Parse and check every line of a responses file (``check``: see :data:`LineChecker`)."""
    parsed = Responses()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        parsed.problems.append(f"the responses file is not UTF-8: {exc}")
        text = data.decode("utf-8", "replace")
    first = True
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        _add_line(parsed, number, line, check, first=first)
        first = False
    return parsed


def summarize_errors(errors: list[str]) -> str:
    """The first :data:`SHOWN_ERRORS` schema errors, and how many more there are."""
    shown = "; ".join(errors[:SHOWN_ERRORS])
    more = len(errors) - SHOWN_ERRORS
    return f"{shown} (and {more} more)" if more > 0 else shown


def _add_line(
    parsed: Responses, number: int, line: str, check: LineChecker, *, first: bool
) -> None:
    try:
        document = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        parsed.problems.append(f"responses line {number} is not JSON ({message}): {line[:80]!r}")
        return
    errors = check(document)
    where = f"responses line {number}"
    if isinstance(document, dict) and "reader" in document:
        if not first:
            parsed.problems.append(f"{where}: a declaration must be the first line; ignored")
        elif errors:
            parsed.problems.append(
                f"{where}: the declaration breaks {RESPONSE_SCHEMA_FILE}; ignored: "
                + summarize_errors(errors)
            )
        else:
            parsed.declaration = Declaration.from_document(document)
        return
    if not isinstance(document, dict) or not isinstance(document.get("id"), str):
        parsed.problems.append(f"{where} is not an object with an id: {line[:80]!r}")
        return
    case_id: str = document["id"]
    if case_id in parsed.by_id:
        parsed.duplicates.add(case_id)
    parsed.by_id[case_id] = document
    if errors:
        parsed.invalid[case_id] = errors
        parsed.problems.append(
            f"{where} ({case_id}) breaks {RESPONSE_SCHEMA_FILE}: {summarize_errors(errors)}"
        )
    else:
        parsed.invalid.pop(case_id, None)
