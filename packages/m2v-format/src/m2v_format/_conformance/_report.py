"""Reporting the results: the printed list and summary, and the JSON report (``--report``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from m2v_format._conformance._compare import OUTCOMES, Outcome, Result
from m2v_format._conformance._run import ReaderRun

_LABELS: dict[Outcome, str] = {"pass": "PASS", "fail": "FAIL", "xfail": "XFAIL", "stale": "STALE"}


def count_outcomes(results: Sequence[Result]) -> dict[Outcome, int]:
    """How many results have each outcome (every outcome present, in a fixed order)."""
    return {outcome: sum(r.outcome == outcome for r in results) for outcome in OUTCOMES}


def print_report(
    results: Sequence[Result], run: ReaderRun, list_problems: Sequence[str], *, verbose: bool
) -> None:
    """Print failures and known failures (passes too when ``verbose``), problems, a summary."""
    width = max((len(r.case.id) for r in results), default=10)
    for result in results:
        if result.outcome == "pass" and not verbose:
            continue
        detail = f"  {result.detail}" if result.detail else ""
        print(f"{_LABELS[result.outcome]:<6} {result.case.id:<{width}}{detail}")
    for problem in run.problems:
        print(f"READER {problem}")
    for problem in list_problems:
        print(f"LIST   {problem}")
    if run.problems and run.stderr_tail:
        print("reader stderr (tail):")
        print("\n".join("  " + line for line in run.stderr_tail.splitlines()))
    counts = count_outcomes(results)
    print(
        f"{len(results)} cases: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['xfail']} known failures, {counts['stale']} stale known failures"
        + (f", {len(run.problems)} reader problems" if run.problems else "")
        + (f", {len(list_problems)} known-failures list problems" if list_problems else "")
    )


def write_report(
    path: Path,
    results: Sequence[Result],
    run: ReaderRun,
    list_problems: Sequence[str],
    suite: Path,
    exit_code: int,
) -> None:
    """Write the results as JSON to ``path``."""
    report = {
        "suite": str(suite),
        "reader": run.command,
        "exit_code": exit_code,
        "reader_problems": run.problems,
        "known_failures_problems": list(list_problems),
        "summary": count_outcomes(results),
        "results": [
            {
                "id": r.case.id,
                "outcome": r.outcome,
                "detail": r.detail,
                "valid": r.case.valid,
                "rules": r.case.rules,
            }
            for r in results
        ],
    }
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
