"""The suite run against real readers: ours (no known failures), the ONNX export and the peers
(their lists), and the README's table of which reader passes which case.

Each reader runs once per session, for the whole suite, through ``m2v-conformance`` in a
subprocess (``reader_table.run_reader``); its JSON report is checked against
``report.schema.json``.  A reader's known-failures list must be exact: a listed case that
passes fails the run as stale.  The last test renders the README table from the same reports.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from m2v_format._conformance import schema_errors

HERE = Path(__file__).resolve().parent
SUITE = HERE.parents[1] / "spec" / "conformance"
KNOWN_FAILURES = SUITE / "known-failures"


def _load_table_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reader_table", HERE / "reader_table.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("reader_table", module)
    spec.loader.exec_module(module)
    return module


reader_table = _load_table_module()
READERS = {reader.key: reader for reader in reader_table.READERS}
REQUIRED_MODULES = {
    "model2vec": "model2vec",
    "sentence-transformers": "sentence_transformers",
    "onnx": "onnxruntime",
}


def _known(name: str) -> set[str]:
    path = KNOWN_FAILURES / name
    if not path.is_file():
        return set()
    lines = path.read_text().splitlines()
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}


@pytest.fixture(scope="module")
def report_of(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Any]]:
    """report_of(key): the JSON report of one run of that reader (run once, then cached)."""
    folder = tmp_path_factory.mktemp("reader-reports")
    schema = json.loads((SUITE / "report.schema.json").read_text())
    cache: dict[str, dict[str, Any]] = {}

    def report(key: str) -> dict[str, Any]:
        if key not in cache:
            if key in REQUIRED_MODULES:
                pytest.importorskip(REQUIRED_MODULES[key])
            path = folder / f"{key}.json"
            code, output = reader_table.run_reader(READERS[key], path)
            assert code == 0, output
            data = json.loads(path.read_text())
            assert schema_errors(data, schema) == [], "the report breaks report.schema.json"
            cache[key] = data
        return cache[key]

    return report


def _outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["outcome"] for r in report["results"]}


@pytest.mark.parametrize("key", ["m2v-format", "m2v-infer"])
def test_our_readers_pass_everything_with_error_codes(
    report_of: Callable[[str], dict[str, Any]], key: str
) -> None:
    assert _known(READERS[key].known_failures) == set()
    assert set(_outcomes(report_of(key)).values()) == {"pass"}


def test_onnx_export_fails_only_its_known_failures(
    report_of: Callable[[str], dict[str, Any]],
) -> None:
    pytest.importorskip("onnx")
    outcomes = _outcomes(report_of("onnx"))
    assert {cid for cid, o in outcomes.items() if o == "xfail"} == _known("onnx-export.txt")
    assert set(outcomes.values()) <= {"pass", "xfail"}


@pytest.mark.peer
def test_model2vec_fails_only_its_known_failures(
    report_of: Callable[[str], dict[str, Any]],
) -> None:
    model2vec = pytest.importorskip("model2vec")
    assert model2vec.__version__ == "0.10.0", "the known-failures list is for model2vec 0.10.0"
    outcomes = _outcomes(report_of("model2vec"))
    assert {cid for cid, o in outcomes.items() if o == "xfail"} == _known("model2vec-0.10.0.txt")
    assert set(outcomes.values()) <= {"pass", "xfail"}


@pytest.mark.peer
def test_sentence_transformers_fails_only_its_known_failures(
    report_of: Callable[[str], dict[str, Any]],
) -> None:
    outcomes = _outcomes(report_of("sentence-transformers"))
    expected = _known("sentence-transformers.txt")
    assert {cid for cid, o in outcomes.items() if o == "xfail"} == expected
    assert set(outcomes.values()) <= {"pass", "xfail"}


@pytest.mark.peer
def test_readme_reader_table_is_current(report_of: Callable[[str], dict[str, Any]]) -> None:
    """The README's table is what the reports give (regenerated from this run in CI)."""
    reports = {key: report_of(key) for key in READERS}
    table = reader_table.render(reports)
    committed = reader_table.readme_section(reader_table.README.read_text(encoding="utf-8"))
    assert committed == table, (
        "spec/conformance/README.md's reader table is out of date; run: "
        "uv run --all-packages python tests/conformance/reader_table.py --write"
    )
