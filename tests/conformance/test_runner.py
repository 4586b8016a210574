"""Self-tests of the runner: misbehaving readers, stale lists and broken suites are caught.

The fake reader below answers from the case files themselves (the suite folder is two levels
above each requested model), then misbehaves in the way its MODE asks.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from m2v_format import ConformanceError, M2VError, MissingDependencyError, SuiteError
from m2v_format._conformance import load_suite, read_known_failures, schema_errors

SUITE = Path(__file__).resolve().parents[2] / "spec" / "conformance"
# In request order (the runner sends cases sorted by id).
MINI_CASES = ["empty-batch", "invalid-embeddings-nan", "max-length-null", "wordpiece-basic"]
INSTALL = 'pip install "m2v-format[conformance]"'

FAKE_READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    mode, requests, responses = sys.argv[1:]
    if mode == "crash":
        sys.exit(3)
    if mode == "hang":
        time.sleep(120)
    out = open(responses, "w", encoding="utf-8")
    for number, line in enumerate(open(requests, encoding="utf-8")):
        request = json.loads(line)
        model = Path(request["model"])
        case = json.loads((model.parents[1] / "cases" / f"{request['id']}.json").read_text())
        if case["valid"]:
            answer = {"id": case["id"], "ok": True, **case["expected"]}
        else:
            answer = {"id": case["id"], "ok": False, "error_code": case["error_code"],
                      "message": "refused"}
        if mode == "wrong-vectors" and case["valid"]:
            answer["embeddings"] = [[x + 1e-3 for x in row] for row in answer["embeddings"]]
        if mode == "tiny-noise" and case["valid"]:
            answer["embeddings"] = [[x * (1 + 1e-7) for x in row] for row in answer["embeddings"]]
        if mode == "no-token-ids":
            answer.pop("token_ids", None)
        if mode == "wrong-token-ids" and case["valid"]:
            answer["token_ids"] = [ids[::-1] + [0] for ids in answer["token_ids"]]
        if mode == "accept-invalid" and not case["valid"]:
            answer = {"id": case["id"], "ok": True, "embeddings": [[0.0]]}
        if mode == "other-code" and not case["valid"]:
            answer["error_code"] = "some-other-code"
        if mode == "refuse-all":
            answer = {"id": case["id"], "ok": False, "error_code": None, "message": "no"}
        if mode == "garbage":
            out.write("this is not json\\n[1, 2, 3]\\n")
            continue
        if mode == "skip-first" and number == 0:
            continue
        if mode == "crash-midway" and number == 1:
            out.flush()
            raise RuntimeError("reader bug")
        out.write(json.dumps(answer) + "\\n")
        if mode == "duplicate":
            out.write(json.dumps(answer) + "\\n")
        if mode == "unknown-id":
            out.write(json.dumps({"id": "no-such-case", "ok": False}) + "\\n")
    """
)


@pytest.fixture
def mini_suite(tmp_path: Path) -> Path:
    """A copy of four cases of the suite, with their models and the schema."""
    suite = tmp_path / "suite"
    (suite / "cases").mkdir(parents=True)
    shutil.copy(SUITE / "case.schema.json", suite)
    for case_id in MINI_CASES:
        shutil.copy(SUITE / "cases" / f"{case_id}.json", suite / "cases")
        model = json.loads((SUITE / "cases" / f"{case_id}.json").read_text())["model"]
        if not (suite / model).exists():
            shutil.copytree(SUITE / model, suite / model)
    return suite


@pytest.fixture
def fake(tmp_path: Path) -> Any:
    script = tmp_path / "fake_reader.py"
    script.write_text(FAKE_READER)

    def reader(mode: str) -> list[str]:
        return [sys.executable, str(script), mode]

    return reader


def _known(tmp_path: Path, *lines: str) -> list[str]:
    path = tmp_path / "known.txt"
    path.write_text("\n".join(lines) + "\n")
    return ["--known-failures", str(path)]


def test_perfect_reader_passes(run_conformance: Any, fake: Any, mini_suite: Path) -> None:
    result = run_conformance(fake("perfect"), suite=mini_suite, extra=["--codes", "m2v"])
    assert result.exit_code == 0, result.output
    assert set(result.outcomes().values()) == {"pass"}
    assert len(result.outcomes()) == len(MINI_CASES)
    assert "4 cases: 4 passed" in result.output


def test_values_within_tolerance_and_absent_token_ids_pass(
    run_conformance: Any, fake: Any, mini_suite: Path
) -> None:
    assert run_conformance(fake("tiny-noise"), suite=mini_suite).exit_code == 0
    assert run_conformance(fake("no-token-ids"), suite=mini_suite).exit_code == 0


def test_crashing_reader_fails_every_case(
    run_conformance: Any, fake: Any, mini_suite: Path
) -> None:
    result = run_conformance(fake("crash"), suite=mini_suite)
    assert result.exit_code == 1
    assert set(result.outcomes().values()) == {"fail"}
    assert "exited with status 3" in result.output
    assert "no responses file" in result.output


def test_crash_midway_keeps_earlier_answers(
    run_conformance: Any, fake: Any, mini_suite: Path
) -> None:
    result = run_conformance(fake("crash-midway"), suite=mini_suite)
    assert result.exit_code == 1
    outcomes = result.outcomes()
    assert outcomes[MINI_CASES[0]] == "pass"
    assert [outcomes[c] for c in MINI_CASES[1:]] == ["fail"] * 3
    assert "RuntimeError: reader bug" in result.output  # the reader's stderr is shown
    assert "no response: the reader exited with status 1" in result.details()[MINI_CASES[1]]


def test_hanging_reader_times_out(run_conformance: Any, fake: Any, mini_suite: Path) -> None:
    result = run_conformance(fake("hang"), suite=mini_suite, extra=["--timeout", "2"])
    assert result.exit_code == 1
    assert set(result.outcomes().values()) == {"fail"}
    assert "timed out after 2 s" in result.output
    assert all("timed out" in d for d in result.details().values())


def test_wrong_vectors_fail(run_conformance: Any, fake: Any, mini_suite: Path) -> None:
    result = run_conformance(fake("wrong-vectors"), suite=mini_suite)
    assert result.exit_code == 1
    outcomes = result.outcomes()
    assert outcomes["wordpiece-basic"] == "fail"
    assert outcomes["empty-batch"] == "pass"  # nothing to be wrong about
    assert "embeddings differ" in result.details()["wordpiece-basic"]


def test_wrong_token_ids_fail(run_conformance: Any, fake: Any, mini_suite: Path) -> None:
    result = run_conformance(fake("wrong-token-ids"), suite=mini_suite)
    assert result.exit_code == 1
    assert "token ids of text 0 differ" in result.details()["wordpiece-basic"]


def test_garbage_output_fails(run_conformance: Any, fake: Any, mini_suite: Path) -> None:
    result = run_conformance(fake("garbage"), suite=mini_suite)
    assert result.exit_code == 1
    assert set(result.outcomes().values()) == {"fail"}
    assert "is not JSON" in result.output
    assert "not an object with an id" in result.output


def test_each_missing_id_is_a_failure(run_conformance: Any, fake: Any, mini_suite: Path) -> None:
    result = run_conformance(fake("skip-first"), suite=mini_suite)
    assert result.exit_code == 1
    outcomes = result.outcomes()
    assert outcomes[MINI_CASES[0]] == "fail"
    assert result.details()[MINI_CASES[0]] == "no response from the reader"
    assert all(outcomes[c] == "pass" for c in MINI_CASES[1:])


def test_duplicate_and_unknown_ids_are_reported(
    run_conformance: Any, fake: Any, mini_suite: Path
) -> None:
    duplicate = run_conformance(fake("duplicate"), suite=mini_suite)
    assert duplicate.exit_code == 1
    assert "more than once" in duplicate.details()["wordpiece-basic"]
    unknown = run_conformance(fake("unknown-id"), suite=mini_suite)
    assert unknown.exit_code == 1
    assert "unknown case id 'no-such-case'" in unknown.output


def test_accepting_an_invalid_model_fails(
    run_conformance: Any, fake: Any, mini_suite: Path
) -> None:
    result = run_conformance(fake("accept-invalid"), suite=mini_suite)
    assert result.exit_code == 1
    detail = result.details()["invalid-embeddings-nan"]
    assert "accepted an invalid model (expected non-finite-values, rule T4)" in detail


def test_error_codes_are_compared_only_with_codes_m2v(
    run_conformance: Any, fake: Any, mini_suite: Path
) -> None:
    assert run_conformance(fake("other-code"), suite=mini_suite).exit_code == 0
    strict = run_conformance(fake("other-code"), suite=mini_suite, extra=["--codes", "m2v"])
    assert strict.exit_code == 1
    assert "expected 'non-finite-values'" in strict.details()["invalid-embeddings-nan"]


def test_known_failures_are_tolerated(
    run_conformance: Any, fake: Any, mini_suite: Path, tmp_path: Path
) -> None:
    known = _known(
        tmp_path, "# the fake reader is off by 1e-3", "max-length-null", "wordpiece-basic"
    )
    result = run_conformance(fake("wrong-vectors"), suite=mini_suite, extra=known)
    assert result.exit_code == 0, result.output
    assert result.outcomes()["wordpiece-basic"] == "xfail"
    assert "[known: the fake reader is off by 1e-3]" in result.details()["wordpiece-basic"]


def test_stale_known_failure_fails_the_run(
    run_conformance: Any, fake: Any, mini_suite: Path, tmp_path: Path
) -> None:
    result = run_conformance(
        fake("perfect"), suite=mini_suite, extra=_known(tmp_path, "wordpiece-basic  # fixed?")
    )
    assert result.exit_code == 1
    assert result.outcomes()["wordpiece-basic"] == "stale"
    assert "STALE" in result.output


def test_known_failure_naming_no_case_fails_the_run(
    run_conformance: Any, fake: Any, mini_suite: Path, tmp_path: Path
) -> None:
    result = run_conformance(fake("perfect"), suite=mini_suite, extra=_known(tmp_path, "typo-id"))
    assert result.exit_code == 1
    assert "names unknown case 'typo-id'" in result.output


def test_case_selection(run_conformance: Any, fake: Any, mini_suite: Path) -> None:
    result = run_conformance(fake("refuse-all"), suite=mini_suite, extra=["--case", "invalid-*"])
    assert result.exit_code == 0
    assert result.outcomes() == {"invalid-embeddings-nan": "pass"}
    none = run_conformance(fake("perfect"), suite=mini_suite, extra=["--case", "nothing*"])
    assert none.exit_code == 2


def test_read_known_failures_keeps_reasons(tmp_path: Path) -> None:
    path = tmp_path / "known.txt"
    path.write_text(
        "# header\n\n# I5: float16\n# in float16\nfloat16\n\n# T7: scale\nint8-scale\n"
        "x  # inline\n# next\ny\n\nz\n"
    )
    assert read_known_failures(path) == {
        "float16": "I5: float16 in float16",
        "int8-scale": "T7: scale",
        "x": "inline",
        "y": "next",
        "z": "",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("rules"), "$: 'rules' is a required property"),
        (
            lambda d: d.update(surprise=1),
            "$: Additional properties are not allowed ('surprise' was unexpected)",
        ),
        (lambda d: d.update(id="other-id"), "differs from the file name"),
        (lambda d: d.update(model="models/nowhere"), "does not exist in the suite"),
        (
            lambda d: d["inputs"].update(max_length=0),
            "$.inputs.max_length: 0 is less than the minimum of 1",
        ),
        (lambda d: d.pop("tolerance"), "$: 'tolerance' is a required property"),
        (
            lambda d: d.update(error_code="x", rule="T4"),
            "$.error_code: False schema does not allow 'x'",
        ),
        (lambda d: d["expected"]["embeddings"].pop(), "one row per text"),
    ],
)
def test_invalid_suite_files_are_rejected(
    run_conformance: Any, fake: Any, mini_suite: Path, change: Any, message: str
) -> None:
    path = mini_suite / "cases" / "wordpiece-basic.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(SuiteError) as excinfo:
        load_suite(mini_suite)
    assert message in str(excinfo.value)
    result = run_conformance(fake("perfect"), suite=mini_suite)
    assert result.exit_code == 2
    assert message in result.output


def test_invalid_case_needs_its_rule_listed(mini_suite: Path) -> None:
    path = mini_suite / "cases" / "invalid-embeddings-nan.json"
    doc = json.loads(path.read_text())
    doc["rules"] = ["T1"]
    path.write_text(json.dumps(doc))
    with pytest.raises(SuiteError, match="rule T4 is not listed"):
        load_suite(mini_suite)


def test_schema_errors_name_the_json_path() -> None:
    """Case files are checked by jsonschema (draft 2020-12); every error says where it is."""
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"type": ["integer", "null"], "minimum": 1},
            "b": {"$ref": "#/$defs/word"},
            "c": {"type": "array", "items": {"$ref": "#/$defs/word"}},
        },
        "additionalProperties": False,
        "if": {"properties": {"a": {"const": None}}},
        "then": {"required": ["b"]},
        "$defs": {"word": {"type": "string", "pattern": "^[a-z]+$"}},
    }
    assert schema_errors({"a": 2}, schema) == []
    assert schema_errors({"a": None, "b": "ok"}, schema) == []
    assert schema_errors({"a": True}, schema) == ["$.a: True is not of type 'integer', 'null'"]
    assert schema_errors({"a": 1.0}, schema) == []
    assert schema_errors({"a": None}, schema) == ["$: 'b' is a required property"]
    assert schema_errors({"a": 0, "b": "X"}, schema) == [
        "$.a: 0 is less than the minimum of 1",
        "$.b: 'X' does not match '^[a-z]+$'",
    ]
    assert schema_errors({"a": 2, "c": ["ok", "No"]}, schema) == [
        "$.c[1]: 'No' does not match '^[a-z]+$'"
    ]
    assert schema_errors({"a": 2, "d": 1}, schema) == [
        "$: Additional properties are not allowed ('d' was unexpected)"
    ]
    assert schema_errors([], schema) == ["$: [] is not of type 'object'"]


def test_an_invalid_schema_is_an_invalid_suite(mini_suite: Path) -> None:
    (mini_suite / "case.schema.json").write_text(json.dumps({"type": "no-such-type"}))
    with pytest.raises(SuiteError, match=r"case.schema.json: invalid JSON Schema: \$.type: "):
        load_suite(mini_suite)


def test_case_files_must_be_strict_json(mini_suite: Path) -> None:
    (mini_suite / "cases" / "wordpiece-basic.json").write_text('{"id": NaN}')
    with pytest.raises(SuiteError, match=re.escape("wordpiece-basic.json: not valid JSON: NaN")):
        load_suite(mini_suite)


def test_suite_errors_are_m2v_errors(mini_suite: Path) -> None:
    (mini_suite / "cases" / "wordpiece-basic.json").write_text("[]")
    with pytest.raises(M2VError) as excinfo:
        load_suite(mini_suite)
    error = excinfo.value
    assert isinstance(error, SuiteError)
    assert isinstance(error, ConformanceError)
    assert error.code == "invalid-suite"
    assert error.problems == ["wordpiece-basic.json: top-level value is list, expected an object"]
    assert error.path == mini_suite.resolve()


def test_missing_jsonschema_is_a_usage_error(
    run_conformance: Any, fake: Any, mini_suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # import now raises ImportError
    with pytest.raises(MissingDependencyError, match=re.escape(INSTALL)):
        load_suite(mini_suite)
    result = run_conformance(fake("perfect"), suite=mini_suite)
    assert result.exit_code == 2
    assert "m2v-conformance: error[missing-dependency]: " in result.output
    assert INSTALL in result.output


def test_refusing_a_valid_model_fails(run_conformance: Any, fake: Any, mini_suite: Path) -> None:
    result = run_conformance(fake("refuse-all"), suite=mini_suite)
    assert result.exit_code == 1
    assert result.details()["wordpiece-basic"] == "reader refused: no"
    assert result.outcomes()["invalid-embeddings-nan"] == "pass"
