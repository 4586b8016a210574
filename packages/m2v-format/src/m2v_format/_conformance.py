"""``m2v-conformance``: run the m2v conformance suite against a reader under test.

The reader is a command.  The runner writes one request per case to ``requests.jsonl`` in a
temporary folder, calls ``<reader command...> REQUESTS.jsonl RESPONSES.jsonl`` once (with a
timeout), then compares each response with the case's expected output.  The protocol is
documented in ``spec/conformance/README.md``.

Exit status: 0 when every selected case passes or is a listed known failure; 1 when a case
fails unexpectedly, a listed known failure passes (stale list) or the reader misbehaves
(crash, timeout, unreadable output); 2 for a bad command line or an invalid suite.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

SCHEMA_FILE = "case.schema.json"
DEFAULT_TIMEOUT_S = 600.0

Outcome = Literal["pass", "fail", "xfail", "stale"]


class SuiteError(Exception):
    """The suite folder, a case file or the known-failures list is invalid."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------------------------------------
# JSON Schema (the subset case.schema.json uses; the runner depends on the stdlib only)
# ---------------------------------------------------------------------------------------------

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "number": (int, float),
    "integer": (int,),
}


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("number", "integer"):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES[name])


def schema_errors(value: Any, schema: Any, root: Any | None = None, where: str = "$") -> list[str]:
    """Errors of ``value`` against ``schema`` (a subset of JSON Schema 2020-12).

    Supported: boolean schemas, $ref to "#/$defs/...", type, const, enum, required,
    properties, additionalProperties, items, minItems, minLength, pattern, minimum,
    if/then/else.  Unknown keywords are ignored, as JSON Schema says.
    """
    root = schema if root is None else root
    if schema is True:
        return []
    if schema is False:
        return [f"{where}: not allowed here"]
    if not isinstance(schema, dict):
        return [f"{where}: invalid schema {schema!r}"]
    if "$ref" in schema:
        ref = str(schema["$ref"])
        if not ref.startswith("#/$defs/"):
            return [f"{where}: unsupported $ref {ref}"]
        return schema_errors(value, root["$defs"][ref.removeprefix("#/$defs/")], root, where)

    errors: list[str] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, n) for n in names):
            return [f"{where}: expected {' or '.join(names)}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: must be one of {schema['enum']!r}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if _is_type(value, "number") and "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{where}: {value} is less than {schema['minimum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], root, f"{where}[{i}]")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: missing required key {key!r}")
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], root, f"{where}.{key}")
            elif "additionalProperties" in schema:
                errors += schema_errors(
                    item, schema["additionalProperties"], root, f"{where}.{key}"
                )
    if "if" in schema:
        branch = "then" if not schema_errors(value, schema["if"], root, where) else "else"
        if branch in schema:
            errors += schema_errors(value, schema[branch], root, where)
    return errors


# ---------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One test vector, loaded and checked."""

    id: str
    description: str
    rules: list[str]
    model: Path
    valid: bool
    texts: list[str]
    max_length: int | None
    token_ids: list[list[int]] | None = None
    embeddings: np.ndarray | None = None
    atol: float = 0.0
    rtol: float = 0.0
    error_code: str | None = None
    rule: str | None = None

    def request(self) -> dict[str, Any]:
        """The request line the reader receives for this case."""
        return {
            "id": self.id,
            "model": str(self.model),
            "texts": self.texts,
            "max_length": self.max_length,
            "normalize": None,
        }


def load_suite(suite: Path) -> list[Case]:
    """Load every case of ``suite``, checking each file against the schema and the model folders.

    Raises SuiteError listing every problem found.
    """
    suite = suite.resolve()
    schema_path = suite / SCHEMA_FILE
    cases_dir = suite / "cases"
    if not schema_path.is_file() or not cases_dir.is_dir():
        raise SuiteError([f"{suite} is not a conformance suite: {SCHEMA_FILE} or cases/ missing"])
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    problems: list[str] = []
    cases: list[Case] = []
    for path in sorted(cases_dir.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{path.name}: not UTF-8 JSON: {exc}")
            continue
        errors = schema_errors(doc, schema)
        if not errors:
            case, errors = _case_from_document(doc, suite)
            if doc["id"] != path.stem:
                errors.append(f"id {doc['id']!r} differs from the file name")
            if case is not None and not errors:
                cases.append(case)
        problems += [f"{path.name}: {error}" for error in errors]
    if not cases and not problems:
        problems.append(f"{cases_dir} holds no case files")
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            problems.append(f"duplicate case id {case.id}")
        seen.add(case.id)
    if problems:
        raise SuiteError(problems)
    return cases


def _case_from_document(doc: dict[str, Any], suite: Path) -> tuple[Case | None, list[str]]:
    errors: list[str] = []
    model = (suite / doc["model"]).resolve()
    if not model.is_relative_to(suite / "models") or not model.is_dir():
        errors.append(f"model folder {doc['model']} does not exist in the suite")
    texts: list[str] = doc["inputs"]["texts"]
    common: dict[str, Any] = {
        "id": doc["id"],
        "description": doc["description"],
        "rules": doc["rules"],
        "model": model,
        "valid": doc["valid"],
        "texts": texts,
        "max_length": doc["inputs"]["max_length"],
    }
    if not doc["valid"]:
        if doc["rule"] not in doc["rules"]:
            errors.append(f"rule {doc['rule']} is not listed in rules")
        return Case(**common, error_code=doc["error_code"], rule=doc["rule"]), errors
    expected = doc["expected"]
    token_ids: list[list[int]] = expected["token_ids"]
    rows: list[list[float]] = expected["embeddings"]
    if len(token_ids) != len(texts) or len(rows) != len(texts):
        errors.append("expected token_ids and embeddings need one row per text")
    if len({len(row) for row in rows}) > 1:
        errors.append("expected embedding rows differ in length")
    if errors:
        return None, errors
    embeddings = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1 if rows else 0)
    if not np.isfinite(embeddings).all():
        errors.append("expected embeddings are not finite")
    tolerance = doc["tolerance"]
    case = Case(
        **common,
        token_ids=token_ids,
        embeddings=embeddings,
        atol=float(tolerance["atol"]),
        rtol=float(tolerance["rtol"]),
    )
    return case, errors


def read_known_failures(path: Path) -> dict[str, str]:
    """Case ids listed in a known-failures file, with their reason.

    One case id per line.  ``#`` starts a comment; the comment lines right above a block of
    ids (or a comment after an id on its line) give the reason.  A blank line ends a block.
    """
    known: dict[str, str] = {}
    reason: list[str] = []
    previous_was_id = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            reason, previous_was_id = [], False
            continue
        if line.startswith("#"):
            if previous_was_id:
                reason = []
            reason.append(line.lstrip("#").strip())
            previous_was_id = False
            continue
        case_id, _, comment = line.partition("#")
        known[case_id.strip()] = comment.strip() or " ".join(reason)
        previous_was_id = True
    return known


# ---------------------------------------------------------------------------------------------
# Running the reader
# ---------------------------------------------------------------------------------------------


@dataclass
class ReaderRun:
    """What one call of the reader produced."""

    command: list[str]
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    duplicates: set[str] = field(default_factory=set)
    returncode: int | None = None
    timed_out: bool = False
    stderr_tail: str = ""

    @property
    def why_missing(self) -> str:
        """Why a case has no response, for its failure message."""
        if self.timed_out:
            return "no response: the reader timed out"
        if self.returncode not in (0, None):
            return f"no response: the reader exited with status {self.returncode}"
        return "no response from the reader"


def run_reader(command: Sequence[str], cases: Sequence[Case], timeout: float) -> ReaderRun:
    """Call the reader once on every case and collect its responses."""
    run = ReaderRun(command=list(command))
    with tempfile.TemporaryDirectory(prefix="m2v-conformance-") as tmp:
        folder = Path(tmp)
        requests = folder / "requests.jsonl"
        responses = folder / "responses.jsonl"
        with requests.open("w", encoding="utf-8", newline="\n") as out:
            for case in cases:
                out.write(json.dumps(case.request()) + "\n")
        stdout_path, stderr_path = folder / "stdout.txt", folder / "stderr.txt"
        argv = [*command, str(requests), str(responses)]
        with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
            try:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    start_new_session=os.name == "posix",
                )
            except OSError as exc:
                run.problems.append(f"cannot start the reader {shlex.join(argv)}: {exc}")
                return run
            try:
                run.returncode = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                run.timed_out = True
                _kill(process)
                run.problems.append(f"the reader timed out after {timeout:g} s and was stopped")
        run.stderr_tail = _tail(stderr_path.read_bytes().decode("utf-8", "replace"))
        if run.returncode not in (0, None):
            run.problems.append(f"the reader exited with status {run.returncode}")
        if responses.exists():
            _parse_responses(responses.read_bytes(), run)
        else:
            run.problems.append("the reader wrote no responses file")
    wanted = {case.id for case in cases}
    for unknown in sorted(set(run.responses) - wanted):
        run.problems.append(f"response for unknown case id {unknown!r}")
    return run


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Stop the reader and anything it started (its own process group)."""
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _parse_responses(data: bytes, run: ReaderRun) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        run.problems.append(f"the responses file is not UTF-8: {exc}")
        text = data.decode("utf-8", "replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            response = json.loads(line)
        except json.JSONDecodeError as exc:
            run.problems.append(f"responses line {number} is not JSON ({exc.msg}): {line[:80]!r}")
            continue
        if not isinstance(response, dict) or not isinstance(response.get("id"), str):
            run.problems.append(
                f"responses line {number} is not an object with an id: {line[:80]!r}"
            )
            continue
        case_id = response["id"]
        if case_id in run.responses:
            run.duplicates.add(case_id)
        run.responses[case_id] = response


# ---------------------------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------------------------


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
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

_LABELS: dict[Outcome, str] = {"pass": "PASS", "fail": "FAIL", "xfail": "XFAIL", "stale": "STALE"}


def _print_report(
    results: Sequence[Result], run: ReaderRun, list_problems: Sequence[str], *, verbose: bool
) -> None:
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
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in _LABELS}
    print(
        f"{len(results)} cases: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['xfail']} known failures, {counts['stale']} stale known failures"
        + (f", {len(run.problems)} reader problems" if run.problems else "")
        + (f", {len(list_problems)} known-failures list problems" if list_problems else "")
    )


def _write_report(
    path: Path,
    results: Sequence[Result],
    run: ReaderRun,
    list_problems: Sequence[str],
    suite: Path,
    exit_code: int,
) -> None:
    report = {
        "suite": str(suite),
        "reader": run.command,
        "exit_code": exit_code,
        "reader_problems": run.problems,
        "known_failures_problems": list(list_problems),
        "summary": {o: sum(r.outcome == o for r in results) for o in _LABELS},
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


def _select(cases: Sequence[Case], patterns: Iterable[str] | None) -> list[Case]:
    patterns = list(patterns or [])
    if not patterns:
        return list(cases)
    return [c for c in cases if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``m2v-conformance``."""
    parser = argparse.ArgumentParser(
        prog="m2v-conformance",
        description="Run the m2v conformance suite against a reader command "
        "(called as: READER... REQUESTS.jsonl RESPONSES.jsonl).",
    )
    parser.add_argument("--suite", type=Path, required=True, help="suite folder (spec/conformance)")
    parser.add_argument("--reader", required=True, help='reader command, e.g. "python reader.py"')
    parser.add_argument("--known-failures", type=Path, help="file of case ids expected to fail")
    parser.add_argument(
        "--codes",
        choices=["none", "m2v"],
        default="none",
        help="m2v: the reader reports m2v error codes; invalid cases then compare them",
    )
    parser.add_argument(
        "--case", action="append", metavar="GLOB", help="run only matching case ids (repeatable)"
    )
    parser.add_argument("--report", type=Path, help="write a JSON report here")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="seconds the reader may run (default: %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``m2v-conformance`` console script."""
    args = build_parser().parse_args(argv)
    command = shlex.split(args.reader)
    if not command:
        print("m2v-conformance: --reader is empty", file=sys.stderr)
        return EXIT_USAGE
    try:
        cases = load_suite(args.suite)
        known = read_known_failures(args.known_failures) if args.known_failures else {}
    except SuiteError as exc:
        print("m2v-conformance: invalid suite:", file=sys.stderr)
        print("\n".join("  " + p for p in exc.problems), file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"m2v-conformance: {exc}", file=sys.stderr)
        return EXIT_USAGE
    all_ids = {case.id for case in cases}
    list_problems = [
        f"{args.known_failures} names unknown case {cid!r}" for cid in sorted(set(known) - all_ids)
    ]
    selected = _select(cases, args.case)
    if not selected:
        print("m2v-conformance: no case matches --case", file=sys.stderr)
        return EXIT_USAGE
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        print("m2v-conformance: --timeout must be positive", file=sys.stderr)
        return EXIT_USAGE

    run = run_reader(command, selected, args.timeout)
    results = evaluate(selected, run, known, codes=args.codes == "m2v")
    _print_report(results, run, list_problems, verbose=args.verbose)
    unexpected = any(r.outcome in ("fail", "stale") for r in results)
    exit_code = EXIT_FAILURE if unexpected or run.problems or list_problems else EXIT_OK
    if args.report:
        _write_report(args.report, results, run, list_problems, args.suite.resolve(), exit_code)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
