"""Shared helpers of the conformance tests: paths and an in-process runner call.

Every JSON report a run writes is checked against ``report.schema.json``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from m2v_format import _conformance

SUITE = Path(__file__).resolve().parents[2] / "spec" / "conformance"
REPORT_SCHEMA = SUITE / "report.schema.json"


@dataclass
class RunResult:
    """Exit status, printed output and JSON report of one m2v-conformance run."""

    exit_code: int
    output: str
    report: dict[str, Any]

    def outcomes(self) -> dict[str, str]:
        return {r["id"]: r["outcome"] for r in self.report.get("results", [])}

    def details(self) -> dict[str, str]:
        return {r["id"]: r["detail"] for r in self.report.get("results", [])}


RunConformance = Callable[..., RunResult]


@pytest.fixture
def run_conformance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> RunConformance:
    """Call ``m2v-conformance`` in-process: run(reader_argv, suite=..., extra=[...])."""

    def run(reader: Sequence[str], *, suite: Path = SUITE, extra: Sequence[str] = ()) -> RunResult:
        report = tmp_path / "report.json"
        report.unlink(missing_ok=True)
        code = _conformance.main(
            ["--suite", str(suite), "--reader", shlex.join(reader), "--report", str(report), *extra]
        )
        captured = capsys.readouterr()
        data = json.loads(report.read_text()) if report.exists() else {}
        if data:
            schema = json.loads(REPORT_SCHEMA.read_text())
            assert _conformance.schema_errors(data, schema) == [], "report breaks its schema"
        return RunResult(code, captured.out + captured.err, data)

    return run
