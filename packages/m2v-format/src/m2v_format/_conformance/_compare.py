"""Judging the reader's responses: each case passes, fails, is a (stale) known failure, or is
not applicable (it needs a capability the reader declares unsupported).

A valid case compares the token ids (when the reader returns them) and the embeddings, and
keeps both results, so a token-id mismatch does not hide the state of the embeddings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from m2v_format._conformance._declaration import NORMALIZE_NULL
from m2v_format._conformance._responses import summarize_errors
from m2v_format._conformance._run import ReaderRun
from m2v_format._conformance._suite import RESPONSE_SCHEMA_FILE, Case

Outcome = Literal["pass", "fail", "xfail", "stale", "n/a"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "fail", "xfail", "stale", "n/a")

Status = Literal["pass", "fail", "not-returned", "not-compared"]
"""One comparison's result: ``not-returned`` when the reader left out optional token ids,
``not-compared`` when the case is invalid, n/a, or its response is missing, refused or
broken."""

UP_TO_NORMALIZATION = "compared up to normalization"
"""The note on embeddings judged for a reader that declares ``normalize-null`` unsupported."""

MESSAGE_LIMIT = 1000
"""How many characters of the reader's message a result keeps."""


@dataclass(frozen=True)
class Comparison:
    """The result of comparing one part of a response (token ids or embeddings)."""

    status: Status
    detail: str = ""


NOT_COMPARED = Comparison("not-compared")


@dataclass(frozen=True)
class Reply:
    """What the reader answered for a case, as far as the report needs it."""

    ok: bool | None
    error_code: str | None
    message: str | None


@dataclass(frozen=True)
class Judgement:
    """Why a response does not satisfy its case (None when it does), and both comparisons."""

    problem: str | None
    token_ids: Comparison = NOT_COMPARED
    embeddings: Comparison = NOT_COMPARED


@dataclass(frozen=True)
class Result:
    """The outcome of one case, with what the reader answered and both comparisons."""

    case: Case
    outcome: Outcome
    detail: str
    reply: Reply | None = None
    token_ids: Comparison = NOT_COMPARED
    embeddings: Comparison = NOT_COMPARED


def evaluate(
    cases: Sequence[Case], run: ReaderRun, known: dict[str, str], *, codes: bool
) -> list[Result]:
    """Judge every case from the reader's responses, its declaration and the known failures.

    A case whose ``requires`` meets the declaration's ``unsupported`` is ``n/a`` whatever the
    reader answered (also when it is listed as a known failure).  When the reader declares
    ``normalize-null`` unsupported, valid cases are judged up to normalization.
    """
    unsupported = run.declaration.unsupported if run.declaration else frozenset()
    up_to_normalization = NORMALIZE_NULL in unsupported
    results: list[Result] = []
    for case in cases:
        response = run.responses.get(case.id)
        reply = _reply(response)
        missing = [c for c in case.requires if c in unsupported]
        if missing:
            detail = f"not applicable: needs {', '.join(missing)}, declared unsupported"
            results.append(Result(case, "n/a", detail, reply))
            continue
        if response is None:
            judgement = Judgement(run.why_missing)
        elif case.id in run.duplicates:
            judgement = Judgement("the reader answered this case more than once")
        elif case.id in run.invalid:
            errors = summarize_errors(run.invalid[case.id])
            judgement = Judgement(f"the response breaks {RESPONSE_SCHEMA_FILE}: {errors}")
        else:
            judgement = judge(case, response, codes=codes, up_to_normalization=up_to_normalization)
        results.append(_result(case, judgement, reply, known.get(case.id)))
    return results


def check_response(
    case: Case, response: dict[str, Any], *, codes: bool, up_to_normalization: bool = False
) -> str | None:
    """None when the response satisfies the case, else why not (see :func:`judge`)."""
    return judge(case, response, codes=codes, up_to_normalization=up_to_normalization).problem


def judge(
    case: Case, response: dict[str, Any], *, codes: bool, up_to_normalization: bool = False
) -> Judgement:
    """Judge one response: its problem (None when it passes) and both comparisons.

    With ``up_to_normalization`` the embeddings are compared after L2-normalizing each row of
    both the response and the expected output (a zero row stays zero).
    """
    ok = response.get("ok")
    if not isinstance(ok, bool):
        return Judgement("malformed response: 'ok' must be true or false")
    if not case.valid:
        if ok:
            return Judgement(
                f"accepted an invalid model (expected {case.error_code}, rule {case.rule})"
            )
        if codes and response.get("error_code") != case.error_code:
            return Judgement(
                f"error code {response.get('error_code')!r}, expected {case.error_code!r}"
            )
        return Judgement(None)
    if not ok:
        message = str(response.get("message", ""))[:200]
        code = response.get("error_code")
        return Judgement(
            f"reader error {code}: {message}" if code else f"reader refused: {message}"
        )
    token_ids = _compare_token_ids(case, response.get("token_ids"))
    embeddings = _compare_embeddings(case, response.get("embeddings"), up_to_normalization)
    problems = [c.detail for c in (token_ids, embeddings) if c.status == "fail"]
    return Judgement("; ".join(problems) or None, token_ids, embeddings)


def _result(case: Case, judgement: Judgement, reply: Reply | None, known: str | None) -> Result:
    """The case's outcome from its judgement and its known-failures entry (None: not listed)."""
    parts = (reply, judgement.token_ids, judgement.embeddings)
    if known is not None:
        if judgement.problem is None:
            return Result(case, "stale", "passes but is listed as a known failure", *parts)
        return Result(case, "xfail", f"{judgement.problem} [known: {known}]", *parts)
    if judgement.problem is None:
        note = judgement.embeddings.detail if judgement.embeddings.status == "pass" else ""
        return Result(case, "pass", note, *parts)
    return Result(case, "fail", judgement.problem, *parts)


def _reply(response: dict[str, Any] | None) -> Reply | None:
    """The reader's ``ok``, ``error_code`` and ``message`` (each when of the right type)."""
    if response is None:
        return None
    ok, code, message = (response.get(k) for k in ("ok", "error_code", "message"))
    if isinstance(message, str) and len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 3] + "..."
    return Reply(
        ok=ok if isinstance(ok, bool) else None,
        error_code=code if isinstance(code, str) else None,
        message=message if isinstance(message, str) else None,
    )


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare_token_ids(case: Case, got: Any) -> Comparison:
    assert case.token_ids is not None
    want = case.token_ids
    if got is None:
        return Comparison("not-returned")
    if not isinstance(got, list) or not all(
        isinstance(ids, list) and all(_is_integer(i) for i in ids) for ids in got
    ):
        return Comparison("fail", "token_ids must be a list of lists of integers")
    if len(got) != len(want):
        return Comparison("fail", f"token_ids has {len(got)} rows, expected {len(want)}")
    bad = [i for i, (ids, expected) in enumerate(zip(got, want, strict=True)) if ids != expected]
    if not bad:
        return Comparison("pass")
    first = bad[0]
    return Comparison(
        "fail",
        f"token ids of text {first} differ: got {_short(got[first])}, expected "
        f"{_short(want[first])} ({len(bad)}/{len(want)} texts differ)",
    )


def _compare_embeddings(case: Case, got: Any, up_to_normalization: bool) -> Comparison:
    assert case.embeddings is not None
    expected = case.embeddings
    if not isinstance(got, list) or not all(
        isinstance(row, list) and all(_is_number(x) for x in row) for row in got
    ):
        return Comparison("fail", "embeddings must be a list of lists of numbers")
    try:
        array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return Comparison("fail", "embeddings are not a list of equal-length lists of numbers")
    if expected.shape[0] == 0 and not got:
        return Comparison("pass")
    if array.shape != expected.shape:
        return Comparison("fail", f"embeddings have shape {array.shape}, expected {expected.shape}")
    if not np.isfinite(array).all():
        return Comparison("fail", "embeddings hold NaN or infinity")
    note = UP_TO_NORMALIZATION if up_to_normalization else ""
    if up_to_normalization:
        array, expected = _unit_rows(array), _unit_rows(expected)
    close = np.isclose(array, expected, atol=case.atol, rtol=case.rtol)
    if close.all():
        return Comparison("pass", note)
    bad_rows = np.flatnonzero(~close.all(axis=1))
    worst = float(np.abs(array - expected).max())
    return Comparison(
        "fail",
        f"embeddings differ for {len(bad_rows)}/{len(expected)} texts (first: text {bad_rows[0]}), "
        f"max |diff| {worst:.3g} (atol {case.atol:g}, rtol {case.rtol:g})"
        + (f", {note}" if note else ""),
    )


def _unit_rows(array: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm; a zero row stays zero."""
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    unit: np.ndarray = np.divide(array, norms, out=np.zeros_like(array), where=norms > 0)
    return unit


def _short(value: Any, limit: int = 60) -> str:
    """``value`` as JSON, cut to ``limit`` characters."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
