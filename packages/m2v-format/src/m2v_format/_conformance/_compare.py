"""Judging the reader's responses: each case passes, fails, or is a (stale) known failure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from m2v_format._conformance._run import ReaderRun
from m2v_format._conformance._suite import Case

Outcome = Literal["pass", "fail", "xfail", "stale"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "fail", "xfail", "stale")


@dataclass(frozen=True)
class Result:
    """The outcome of one case."""

    case: Case
    outcome: Outcome
    detail: str


def evaluate(
    cases: Sequence[Case], run: ReaderRun, known: dict[str, str], *, codes: bool
) -> list[Result]:
    """Judge every case from the reader's responses and the known-failures list."""
    results: list[Result] = []
    for case in cases:
        response = run.responses.get(case.id)
        if response is None:
            problem: str | None = run.why_missing
        elif case.id in run.duplicates:
            problem = "the reader answered this case more than once"
        else:
            problem = check_response(case, response, codes=codes)
        if case.id in known:
            if problem is None:
                results.append(Result(case, "stale", "passes but is listed as a known failure"))
            else:
                results.append(Result(case, "xfail", f"{problem} [known: {known[case.id]}]"))
        elif problem is None:
            results.append(Result(case, "pass", ""))
        else:
            results.append(Result(case, "fail", problem))
    return results


def check_response(case: Case, response: dict[str, Any], *, codes: bool) -> str | None:
    """None when the response satisfies the case, else why not."""
    ok = response.get("ok")
    if not isinstance(ok, bool):
        return "malformed response: 'ok' must be true or false"
    if not case.valid:
        if ok:
            return f"accepted an invalid model (expected {case.error_code}, rule {case.rule})"
        if codes and response.get("error_code") != case.error_code:
            return f"error code {response.get('error_code')!r}, expected {case.error_code!r}"
        return None
    if not ok:
        message = str(response.get("message", ""))[:200]
        code = response.get("error_code")
        return f"reader error {code}: {message}" if code else f"reader refused: {message}"
    if response.get("token_ids") is not None:
        problem = _check_token_ids(case, response["token_ids"])
        if problem:
            return problem
    return _check_embeddings(case, response.get("embeddings"))


def _check_token_ids(case: Case, got: Any) -> str | None:
    assert case.token_ids is not None
    if not isinstance(got, list) or len(got) != len(case.token_ids):
        return f"token_ids must be a list of {len(case.token_ids)} lists"
    for i, (ids, want) in enumerate(zip(got, case.token_ids, strict=True)):
        if ids != want:
            return f"token ids of text {i} differ: got {_short(ids)}, expected {_short(want)}"
    return None


def _check_embeddings(case: Case, got: Any) -> str | None:
    assert case.embeddings is not None
    expected = case.embeddings
    if not isinstance(got, list):
        return "embeddings missing or not a list"
    try:
        array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return "embeddings are not a list of equal-length lists of numbers"
    if expected.shape[0] == 0 and array.size == 0:
        return None
    if array.shape != expected.shape:
        return f"embeddings have shape {array.shape}, expected {expected.shape}"
    if not np.isfinite(array).all():
        return "embeddings hold NaN or infinity"
    close = np.isclose(array, expected, atol=case.atol, rtol=case.rtol)
    if close.all():
        return None
    bad_rows = np.flatnonzero(~close.all(axis=1))
    worst = float(np.abs(array - expected).max())
    return (
        f"embeddings differ for {len(bad_rows)}/{len(expected)} texts (first: text {bad_rows[0]}), "
        f"max |diff| {worst:.3g} (atol {case.atol:g}, rtol {case.rtol:g})"
    )


def _short(value: Any, limit: int = 60) -> str:
    """``value`` as JSON, cut to ``limit`` characters."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
