"""Self-tests of the runner: misbehaving readers, stale lists and broken suites are caught.

The fake reader below answers from the case files themselves (the suite folder is two levels
above each requested model), then misbehaves in the way its MODE asks.  Every report these
runs write is checked against report.schema.json (conftest.py).
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
from m2v_format._conformance import (
    CAPABILITIES,
    check_response,
    load_suite,
    read_known_failures,
    schema_errors,
)
from m2v_format._conformance._reader import serve

SUITE = Path(__file__).resolve().parents[2] / "spec" / "conformance"
# In request order (the runner sends cases sorted by id).
MINI_CASES = ["empty-batch", "invalid-embeddings-nan", "max-length-null", "wordpiece-basic"]
INSTALL = 'pip install "m2v-format[conformance]"'

FAKE_READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    DECLARATIONS = {
        "declare-max-length": {"name": "fake", "version": "1.0", "unsupported": ["max-length"]},
        "declare-normalize-null": {"unsupported": ["normalize-null"]},
        "declare-unknown": {"unsupported": ["max_length"]},
    }

    def first_row(rows):  # index of the first non-empty row
        return next(i for i, row in enumerate(rows) if row)

    mode, requests, responses = sys.argv[1:]
    with open(Path(__file__).with_name("calls.txt"), "a") as calls:
        calls.write(mode + "\\n")
    if mode == "crash":
        sys.exit(3)
    if mode == "hang":
        time.sleep(120)
    print("fake reader says hello")
    print("fake reader warns", file=sys.stderr)
    out = open(responses, "w", encoding="utf-8")
    if mode in DECLARATIONS:
        out.write(json.dumps({"reader": DECLARATIONS[mode]}) + "\\n")
    for number, line in enumerate(open(requests, encoding="utf-8")):
        request = json.loads(line)
        model = Path(request["model"])
        case = json.loads((model.parents[1] / "cases" / f"{request['id']}.json").read_text())
        if case["valid"]:
            answer = {"id": case["id"], "ok": True, **case["expected"]}
            rows, ids = answer["embeddings"], answer["token_ids"]
        else:
            answer = {"id": case["id"], "ok": False, "error_code": case["error_code"],
                      "message": "refused"}
        valid_with_rows = case["valid"] and bool(case["inputs"]["texts"])
        if mode == "string-embeddings" and case["valid"]:
            answer["embeddings"] = [[str(x) for x in row] for row in rows]
        if mode == "float-token-ids" and case["valid"]:
            answer["token_ids"] = [[float(i) for i in row] for row in ids]
        if mode == "booleans" and valid_with_rows:
            rows[0][0] = True
            ids[first_row(ids)][0] = False
        if mode == "nan" and valid_with_rows:
            rows[0][0] = float("nan")
        if mode == "extra-field":
            answer["elapsed"] = 0.5
        if mode == "ok-without-message" and not case["valid"]:
            answer = {"id": case["id"], "ok": False}
        if mode == "both-wrong" and valid_with_rows:
            answer["token_ids"] = [row + [0] for row in ids]
            answer["embeddings"] = [[x + 1e-3 for x in row] for row in rows]
        if mode in ("declare-normalize-null", "scaled") and case["valid"]:
            answer["embeddings"] = [[2.5 * x for x in row] for row in rows]
        if mode == "declare-normalize-null" and case["id"] == "normalize-absent":
            answer["embeddings"] = [[1.0]]  # wrong, but the case is n/a
        if mode == "declare-max-length" and case["inputs"]["max_length"] is None:
            continue  # n/a cases need no answer
        if mode == "declare-late" and number == 1:
            out.write(json.dumps({"reader": {"unsupported": ["max-length"]}}) + "\\n")
        if mode == "long-message" and case["valid"]:
            answer = {"id": case["id"], "ok": False, "error_code": "oops", "message": "x" * 5000}
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
            out.write(json.dumps({"id": "no-such-case", "ok": False, "error_code": None,
                                  "message": "?"}) + "\\n")
    """
)


@pytest.fixture
def mini_suite(tmp_path: Path) -> Path:
    """A copy of four cases of the suite, with their models and the schema."""
    return _copy_suite(tmp_path / "suite", MINI_CASES)


@pytest.fixture
def capability_suite(tmp_path: Path) -> Path:
    """The mini suite plus normalize-absent; that case and max-length-null have requires."""
    suite = _copy_suite(tmp_path / "suite", [*MINI_CASES, "normalize-absent"])
    _edit_case(suite, "normalize-absent", lambda d: d.update(requires=["normalize-null"]))
    _edit_case(suite, "max-length-null", lambda d: d.update(requires=["max-length"]))
    _edit_case(suite, "wordpiece-basic", lambda d: d.update(requires=[]))
    return suite


def _copy_suite(suite: Path, case_ids: list[str]) -> Path:
    (suite / "cases").mkdir(parents=True)
    shutil.copy(SUITE / "case.schema.json", suite)
    shutil.copy(SUITE / "response.schema.json", suite)
    for case_id in case_ids:
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


def _edit_case(suite: Path, case_id: str, change: Any) -> None:
    path = suite / "cases" / f"{case_id}.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _calls(tmp_path: Path) -> list[str]:
    """The modes the fake reader was started with, in order."""
    path = tmp_path / "calls.txt"
    return path.read_text().split() if path.exists() else []


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
    # Strict integers: 1.0 is a float, not a JSON integer (jsonschema itself would accept it).
    assert schema_errors({"a": 1.0}, schema) == ["$.a: 1.0 is not of type 'integer', 'null'"]
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


# ---------------------------------------------------------------- strict responses


@pytest.mark.parametrize(
    ("mode", "case_id", "pattern"),
    [
        (
            "string-embeddings",
            "wordpiece-basic",
            r"\$\.embeddings\[0\]\[0\]: '[-0-9.e]+' is not of type 'number'",
        ),
        (
            "float-token-ids",
            "wordpiece-basic",
            r"\$\.token_ids\[0\]\[0\]: 77\.0 is not of type 'integer'",
        ),
        ("booleans", "wordpiece-basic", r"\$\.embeddings\[0\]\[0\]: True is not of type 'number'"),
        ("booleans", "max-length-null", r"\$\.token_ids\[0\]\[0\]: False is not of type 'integer'"),
        (
            "extra-field",
            "wordpiece-basic",
            r"\$: Additional properties are not allowed \('elapsed' was unexpected\)",
        ),
        (
            "ok-without-message",
            "invalid-embeddings-nan",
            r"\$: 'error_code' is a required property",
        ),
    ],
)
def test_responses_are_checked_against_the_schema(
    run_conformance: Any, fake: Any, mini_suite: Path, mode: str, case_id: str, pattern: str
) -> None:
    """Numbers must be numbers and ids integers: the expected values as strings or floats fail."""
    result = run_conformance(fake(mode), suite=mini_suite)
    assert result.exit_code == 1
    assert result.outcomes()[case_id] == "fail"
    detail = result.details()[case_id]
    assert detail.startswith("the response breaks response.schema.json: ")
    assert re.search(pattern, detail), detail
    # The case fails and the run notes a reader problem naming the line and the case.
    assert any(
        f"({case_id}) breaks response.schema.json" in p and re.search(pattern, p)
        for p in result.report["reader_problems"]
    ), result.report["reader_problems"]
    assert result.report["results"][MINI_CASES.index(case_id)]["embeddings"]["status"] == (
        "not-compared"
    )


def test_schema_error_messages_are_bounded(
    run_conformance: Any, fake: Any, mini_suite: Path
) -> None:
    result = run_conformance(fake("string-embeddings"), suite=mini_suite)
    detail = result.details()["wordpiece-basic"]
    assert detail.count("is not of type 'number'") == 3
    assert re.search(r"\(and \d+ more\)$", detail), detail


def test_nan_embeddings_are_read_and_named(
    run_conformance: Any, fake: Any, mini_suite: Path
) -> None:
    """NaN literals are numbers to the schema; the comparison says what is wrong."""
    result = run_conformance(fake("nan"), suite=mini_suite)
    assert result.exit_code == 1
    assert result.details()["wordpiece-basic"] == "embeddings hold NaN or infinity"
    assert result.report["reader_problems"] == []


def test_token_ids_and_embeddings_are_both_compared(
    run_conformance: Any, fake: Any, mini_suite: Path
) -> None:
    result = run_conformance(fake("both-wrong"), suite=mini_suite)
    assert result.exit_code == 1
    detail = result.details()["wordpiece-basic"]
    assert re.fullmatch(
        r"token ids of text 0 differ: got .+, expected .+ \(10/10 texts differ\); "
        r"embeddings differ for 10/10 texts \(first: text 0\), max \|diff\| 0\.001 .*",
        detail,
    ), detail
    entry = result.report["results"][MINI_CASES.index("wordpiece-basic")]
    assert entry["token_ids"]["status"] == "fail"
    assert entry["token_ids"]["detail"].startswith("token ids of text 0 differ")
    assert entry["embeddings"]["status"] == "fail"
    assert entry["embeddings"]["detail"].startswith("embeddings differ for 10/10 texts")


def test_wrong_token_ids_do_not_hide_right_embeddings(
    run_conformance: Any, fake: Any, mini_suite: Path
) -> None:
    result = run_conformance(fake("wrong-token-ids"), suite=mini_suite)
    entry = result.report["results"][MINI_CASES.index("wordpiece-basic")]
    assert (entry["token_ids"]["status"], entry["embeddings"]["status"]) == ("fail", "pass")
    without = run_conformance(fake("no-token-ids"), suite=mini_suite)
    entry = without.report["results"][MINI_CASES.index("wordpiece-basic")]
    assert (entry["token_ids"]["status"], entry["embeddings"]["status"]) == (
        "not-returned",
        "pass",
    )


def test_check_response_is_strict_about_types(mini_suite: Path) -> None:
    """Called directly (no schema in between), floats and strings still do not pass."""
    case = next(c for c in load_suite(mini_suite) if c.id == "wordpiece-basic")
    assert case.token_ids is not None
    assert case.embeddings is not None
    rows = case.embeddings.tolist()
    good = {"id": case.id, "ok": True, "embeddings": rows, "token_ids": case.token_ids}
    assert check_response(case, good, codes=False) is None
    floats = [[float(i) for i in ids] for ids in case.token_ids]
    assert check_response(case, {**good, "token_ids": floats}, codes=False) == (
        "token_ids must be a list of lists of integers"
    )
    strings = [[str(x) for x in row] for row in rows]
    assert check_response(case, {**good, "embeddings": strings}, codes=False) == (
        "embeddings must be a list of lists of numbers"
    )


# ---------------------------------------------------------------- capabilities


def test_declared_max_length_makes_cases_not_applicable(
    run_conformance: Any, fake: Any, capability_suite: Path, tmp_path: Path
) -> None:
    """n/a whatever the reader answered (here: nothing); a known failure for it is not stale."""
    known = _known(tmp_path, "# needs max_length", "max-length-null")
    result = run_conformance(fake("declare-max-length"), suite=capability_suite, extra=known)
    assert result.exit_code == 0, result.output
    outcomes = result.outcomes()
    assert outcomes.pop("max-length-null") == "n/a"
    assert set(outcomes.values()) == {"pass"}
    assert result.details()["max-length-null"] == (
        "not applicable: needs max-length, declared unsupported"
    )
    assert result.report["declaration"] == {
        "name": "fake",
        "version": "1.0",
        "unsupported": ["max-length"],
    }
    assert result.report["summary"]["n/a"] == 1
    assert "reader: fake 1.0; declares unsupported: max-length" in result.output
    assert "N/A    max-length-null" in result.output
    assert "1 not applicable" in result.output


def test_declared_normalize_null_judges_up_to_normalization(
    run_conformance: Any, fake: Any, capability_suite: Path
) -> None:
    """Rows scaled by 2.5 pass up to normalization; normalize-absent (requires it) is n/a."""
    result = run_conformance(fake("declare-normalize-null"), suite=capability_suite)
    assert result.exit_code == 0, result.output
    outcomes = result.outcomes()
    assert outcomes["normalize-absent"] == "n/a"
    assert outcomes["wordpiece-basic"] == outcomes["max-length-null"] == "pass"
    assert result.details()["wordpiece-basic"] == "compared up to normalization"
    assert result.report["declaration"]["unsupported"] == ["normalize-null"]
    # Without the declaration, the same scaled rows fail.
    strict = run_conformance(fake("scaled"), suite=capability_suite)
    assert strict.exit_code == 1
    assert strict.outcomes()["wordpiece-basic"] == "fail"
    assert strict.outcomes()["normalize-absent"] == "fail"


def test_up_to_normalization_still_compares_directions(mini_suite: Path) -> None:
    case = next(c for c in load_suite(mini_suite) if c.id == "wordpiece-basic")
    assert case.embeddings is not None
    rows = case.embeddings.tolist()
    zero = [i for i, row in enumerate(rows) if not any(row)]
    assert zero, "wordpiece-basic has an empty text: a zero row"

    def judged(got: list[list[float]]) -> str | None:
        response = {"id": case.id, "ok": True, "embeddings": got}
        return check_response(case, response, codes=False, up_to_normalization=True)

    assert judged([[7.0 * x for x in row] for row in rows]) is None
    turned = [row[:] for row in rows]
    turned[0][0] += 0.5
    assert judged(turned) == (
        f"embeddings differ for 1/{len(rows)} texts (first: text 0), max |diff| "
        f"{_unit_diff(rows[0], turned[0]):.3g} (atol 1e-06, rtol 1e-05), "
        "compared up to normalization"
    )
    not_zero = [row[:] for row in rows]
    not_zero[zero[0]][0] = 1.0
    problem = judged(not_zero)
    assert problem is not None
    assert f"(first: text {zero[0]})" in problem


def _unit_diff(want: list[float], got: list[float]) -> float:
    import numpy as np

    a, b = np.asarray(want), np.asarray(got)
    return float(np.abs(a / np.linalg.norm(a) - b / np.linalg.norm(b)).max())


@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        ("declare-unknown", "'max_length' is not one of ['normalize-null', 'max-length']"),
        ("declare-late", "responses line 2: a declaration must be the first line; ignored"),
    ],
)
def test_bad_declarations_are_reader_problems(
    run_conformance: Any, fake: Any, capability_suite: Path, mode: str, problem: str
) -> None:
    result = run_conformance(fake(mode), suite=capability_suite)
    assert result.exit_code == 1
    assert any(problem in p for p in result.report["reader_problems"]), result.output
    assert result.report["declaration"] is None
    assert "n/a" not in result.outcomes().values()


def test_capabilities_are_the_same_everywhere() -> None:
    """The capability enum of the three schemas is the runner's CAPABILITIES."""
    for name in ("case", "response", "report"):
        schema = json.loads((SUITE / f"{name}.schema.json").read_text())
        assert schema["$defs"]["capability"]["enum"] == list(CAPABILITIES), name


def test_requires_is_read_from_case_files(capability_suite: Path) -> None:
    cases = {c.id: c for c in load_suite(capability_suite)}
    assert cases["max-length-null"].requires == ("max-length",)
    assert cases["wordpiece-basic"].requires == ()
    assert cases["empty-batch"].requires == ()  # no field: nothing required
    _edit_case(capability_suite, "empty-batch", lambda d: d.update(requires=["gpu"]))
    with pytest.raises(SuiteError, match=re.escape("empty-batch.json: $.requires[0]: 'gpu'")):
        load_suite(capability_suite)


def test_serve_writes_the_declaration_first(tmp_path: Path) -> None:
    requests, responses = tmp_path / "requests.jsonl", tmp_path / "responses.jsonl"
    requests.write_text('{"id": "a"}\n{"id": "b"}\n')
    declaration = {"name": "x", "unsupported": ["max-length"]}

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        return {"id": request["id"], "ok": True, "embeddings": []}

    assert serve(answer, [str(requests), str(responses)], usage="", declaration=declaration) == 0
    lines = [json.loads(line) for line in responses.read_text().splitlines()]
    assert lines == [
        {"reader": declaration},
        {"id": "a", "ok": True, "embeddings": []},
        {"id": "b", "ok": True, "embeddings": []},
    ]
    schema = json.loads((SUITE / "response.schema.json").read_text())
    assert [schema_errors(line, schema) for line in lines] == [[], [], []]


# ---------------------------------------------------------------- report and files


def test_report_carries_the_readers_answers(
    run_conformance: Any, fake: Any, mini_suite: Path
) -> None:
    result = run_conformance(fake("long-message"), suite=mini_suite, extra=["--codes", "m2v"])
    by_id = {r["id"]: r for r in result.report["results"]}
    refused = by_id["wordpiece-basic"]["response"]
    assert (refused["ok"], refused["error_code"], len(refused["message"])) == (False, "oops", 1000)
    assert refused["message"].endswith("...")
    assert by_id["invalid-embeddings-nan"]["response"] == {
        "ok": False,
        "error_code": "non-finite-values",
        "message": "refused",
    }
    report = result.report
    assert report["report_version"] == 1
    assert (report["codes"], report["known_failures"]) == ("m2v", None)
    assert (report["reader_exit_status"], report["reader_timed_out"]) == (0, False)
    missing = run_conformance(fake("skip-first"), suite=mini_suite)
    assert missing.report["results"][0]["response"] is None


def test_per_rule_summary(run_conformance: Any, fake: Any, mini_suite: Path) -> None:
    result = run_conformance(fake("wrong-vectors"), suite=mini_suite)
    rules = result.report["rules"]
    # Spec order of the families (L, S, T, C, K, I, V, W), then by number.
    assert list(rules) == ["L2", "T4", "I1", "I2", "I3", "I5", "I6", "I7", "I8"]
    zero = {"pass": 0, "fail": 0, "xfail": 0, "stale": 0, "n/a": 0}
    assert rules["I3"] == {**zero, "fail": 2}  # max-length-null and wordpiece-basic
    assert rules["T4"] == {**zero, "pass": 1}
    assert rules["I8"] == {**zero, "pass": 1}
    lines = result.output.splitlines()
    assert "rule     pass   fail  xfail  stale    n/a" in lines
    assert "I3          0      2      0      0      0" in lines


def test_report_folder_is_created(
    run_conformance: Any, fake: Any, mini_suite: Path, tmp_path: Path
) -> None:
    path = tmp_path / "new" / "deeper" / "report.json"
    result = run_conformance(fake("wrong-vectors"), suite=mini_suite, extra=["--report", str(path)])
    assert result.exit_code == 1  # the run's failures, not the report's folder
    report = json.loads(path.read_text())
    assert report["exit_code"] == 1
    assert report["summary"]["fail"] == 2


@pytest.mark.parametrize("where", ["folder", "below-a-file"])
def test_unusable_report_path_fails_before_running(
    run_conformance: Any, fake: Any, mini_suite: Path, tmp_path: Path, where: str
) -> None:
    if where == "folder":
        path, message = tmp_path, "exists and is not a file"
    else:
        (tmp_path / "plain.txt").write_text("")
        path, message = tmp_path / "plain.txt" / "report.json", "cannot write in"
    result = run_conformance(fake("perfect"), suite=mini_suite, extra=["--report", str(path)])
    assert result.exit_code == 2
    assert f"m2v-conformance: --report {path}: {message}" in result.output
    assert _calls(tmp_path) == []  # the reader never ran


def test_keep_keeps_the_run_files(
    run_conformance: Any, fake: Any, mini_suite: Path, tmp_path: Path
) -> None:
    keep = tmp_path / "kept" / "run1"
    result = run_conformance(fake("perfect"), suite=mini_suite, extra=["--keep", str(keep)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in keep.iterdir()) == [
        "requests.jsonl",
        "responses.jsonl",
        "stderr.txt",
        "stdout.txt",
    ]
    requests = [json.loads(line) for line in (keep / "requests.jsonl").read_text().splitlines()]
    assert [r["id"] for r in requests] == MINI_CASES
    responses = (keep / "responses.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in responses] == MINI_CASES
    assert (keep / "stdout.txt").read_text() == "fake reader says hello\n"
    assert (keep / "stderr.txt").read_text() == "fake reader warns\n"
    assert f"kept in {keep}" in result.output
    assert result.report["kept"] == str(keep)


def test_keep_refuses_a_folder_that_is_not_empty(
    run_conformance: Any, fake: Any, mini_suite: Path, tmp_path: Path
) -> None:
    keep = tmp_path / "kept"
    keep.mkdir()
    (keep / "old.txt").write_text("earlier run")
    result = run_conformance(fake("perfect"), suite=mini_suite, extra=["--keep", str(keep)])
    assert result.exit_code == 2
    assert f"--keep {keep}: the folder is not empty" in result.output
    assert _calls(tmp_path) == []
    assert sorted(p.name for p in keep.iterdir()) == ["old.txt"]
