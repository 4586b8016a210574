"""Reporting the results: the printed list, per-rule table and summary, and the JSON report.

The JSON report (``--report``) follows ``spec/conformance/report.schema.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from m2v_format._conformance._compare import OUTCOMES, Comparison, Outcome, Result
from m2v_format._conformance._run import ReaderRun

REPORT_VERSION = 1
"""``report_version`` of the JSON report; raised whenever a field is added, changes or goes."""

RULE_LETTERS = "LSTCKIVW"
"""The rule families in the order of spec/format.md; other letters sort after, A to Z."""

_LABELS: dict[Outcome, str] = {
    "pass": "PASS",
    "fail": "FAIL",
    "xfail": "XFAIL",
    "stale": "STALE",
    "n/a": "N/A",
}


def count_outcomes(results: Sequence[Result]) -> dict[Outcome, int]:
    """How many results have each outcome (every outcome present, in a fixed order)."""
    return {outcome: sum(r.outcome == outcome for r in results) for outcome in OUTCOMES}


def rule_key(rule: str) -> tuple[int, str, int]:
    """Sort key of a rule id: spec order of its letter (:data:`RULE_LETTERS`), then number."""
    letter, number = rule[:1], rule[1:]
    rank = RULE_LETTERS.find(letter)
    return (
        rank if rank >= 0 else len(RULE_LETTERS),
        letter,
        int(number) if number.isdigit() else 0,
    )


def count_by_rule(results: Sequence[Result]) -> dict[str, dict[Outcome, int]]:
    """For each rule the cases exercise (spec order), how many cases had each outcome."""
    rules = sorted({rule for r in results for rule in r.case.rules}, key=rule_key)
    return {rule: count_outcomes([r for r in results if rule in r.case.rules]) for rule in rules}


def print_report(
    results: Sequence[Result], run: ReaderRun, list_problems: Sequence[str], *, verbose: bool
) -> None:
    """Print the declaration, failures, known failures and n/a cases (passes too when
    ``verbose``), problems, the per-rule table, where the files were kept, and a summary."""
    if run.declaration is not None:
        print(f"reader: {run.declaration.describe()}")
    width = max((len(r.case.id) for r in results), default=10)
    for result in results:
        if result.outcome == "pass" and not verbose:
            continue
        detail = f"  {result.detail}" if result.detail else ""
        print(f"{_LABELS[result.outcome]:<6} {result.case.id:<{width}}{detail}".rstrip())
    for problem in run.problems:
        print(f"READER {problem}")
    for problem in list_problems:
        print(f"LIST   {problem}")
    if run.problems and run.stderr_tail:
        print("reader stderr (tail):")
        print("\n".join("  " + line for line in run.stderr_tail.splitlines()))
    _print_rules(count_by_rule(results))
    if run.kept is not None:
        print(f"requests, responses and the reader's stdout and stderr are kept in {run.kept}")
    counts = count_outcomes(results)
    print(
        f"{len(results)} cases: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['xfail']} known failures, {counts['stale']} stale known failures"
        + (f", {counts['n/a']} not applicable" if counts["n/a"] else "")
        + (f", {len(run.problems)} reader problems" if run.problems else "")
        + (f", {len(list_problems)} known-failures list problems" if list_problems else "")
    )


def _print_rules(by_rule: dict[str, dict[Outcome, int]]) -> None:
    """The per-rule table: one row per rule, one column per outcome."""
    if not by_rule:
        return
    print("rule  " + "".join(f"{outcome:>7}" for outcome in OUTCOMES))
    for rule, counts in by_rule.items():
        print(f"{rule:<6}" + "".join(f"{counts[outcome]:>7}" for outcome in OUTCOMES))


def build_report(
    results: Sequence[Result],
    run: ReaderRun,
    list_problems: Sequence[str],
    *,
    suite: Path,
    exit_code: int,
    codes: str,
    known_failures: Path | None,
) -> dict[str, Any]:
    """The JSON report (``spec/conformance/report.schema.json``) as a dict."""
    return {
        "report_version": REPORT_VERSION,
        "suite": str(suite),
        "reader": run.command,
        "declaration": run.declaration.as_json() if run.declaration else None,
        "codes": codes,
        "known_failures": None if known_failures is None else str(known_failures),
        "kept": None if run.kept is None else str(run.kept),
        "exit_code": exit_code,
        "reader_exit_status": run.returncode,
        "reader_timed_out": run.timed_out,
        "reader_problems": run.problems,
        "known_failures_problems": list(list_problems),
        "summary": count_outcomes(results),
        "rules": count_by_rule(results),
        "results": [_result_json(r) for r in results],
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` (see :func:`build_report`) as JSON to ``path``."""
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _result_json(result: Result) -> dict[str, Any]:
    reply = result.reply
    return {
        "id": result.case.id,
        "outcome": result.outcome,
        "detail": result.detail,
        "valid": result.case.valid,
        "rules": result.case.rules,
        "requires": list(result.case.requires),
        "response": None
        if reply is None
        else {"ok": reply.ok, "error_code": reply.error_code, "message": reply.message},
        "token_ids": _comparison_json(result.token_ids),
        "embeddings": _comparison_json(result.embeddings),
    }


def _comparison_json(comparison: Comparison) -> dict[str, str]:
    return {"status": comparison.status, "detail": comparison.detail}
