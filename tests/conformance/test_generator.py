"""The committed suite is exactly what the generator writes, small, and self-consistent."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from m2v_format import validate_model
from m2v_format._conformance import Case, load_suite, schema_errors

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "spec" / "conformance"
GENERATOR = REPO / "tests" / "conformance" / "generate_vectors.py"
GENERATED = ("cases", "models")


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for name in GENERATED
        for p in sorted((root / name).rglob("*"))
        if p.is_file()
    }


def test_regenerating_the_suite_is_byte_identical(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(tmp_path)], check=True)
    fresh, committed = _files(tmp_path), _files(SUITE)
    missing = sorted(set(fresh) - set(committed))
    extra = sorted(set(committed) - set(fresh))
    changed = sorted(p for p in set(fresh) & set(committed) if fresh[p] != committed[p])
    hint = (
        "spec/conformance is out of date; run: uv run python tests/conformance/generate_vectors.py"
    )
    assert not missing, f"{hint} (missing {missing})"
    assert not extra, f"{hint} (not generated: {extra})"
    assert not changed, f"{hint} (changed: {changed})"


def test_suite_is_small() -> None:
    total = sum(p.stat().st_size for p in SUITE.rglob("*") if p.is_file())
    assert total < 2_000_000, f"spec/conformance holds {total} bytes"


def test_every_case_file_matches_the_schema() -> None:
    schema = json.loads((SUITE / "case.schema.json").read_text())
    for path in sorted((SUITE / "cases").glob("*.json")):
        assert schema_errors(json.loads(path.read_text()), schema) == [], path.name
    cases = load_suite(SUITE)
    assert len(cases) >= 50
    assert any(c.valid for c in cases)
    assert any(not c.valid for c in cases)


def test_every_model_folder_is_used_by_a_case() -> None:
    used = {c.model.name for c in load_suite(SUITE)}
    folders = {p.name for p in (SUITE / "models").iterdir()}
    assert used == folders


@pytest.mark.parametrize("case", load_suite(SUITE), ids=lambda c: c.id)
def test_validator_agrees_with_the_case(case: Case) -> None:
    """validate_model accepts the folders of valid cases and reports each invalid case's rule."""
    report = validate_model(case.model)
    if case.valid:
        assert report.ok, [str(v) for v in report.violations]
    else:
        found = {(v.rule, v.code) for v in report.violations}
        assert (case.rule, case.error_code) in found, found


def test_readme_lists_every_case() -> None:
    readme = (SUITE / "README.md").read_text()
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", readme, flags=re.MULTILINE))
    assert listed == {c.id for c in load_suite(SUITE)}
