"""The ``m2v-conformance`` command line: arguments, the run, and its exit status.

Exit status: :data:`~m2v_format.cli.EXIT_OK` when every selected case passes or is a listed
known failure; :data:`~m2v_format.cli.EXIT_FAILURE` when a case fails unexpectedly, a listed
known failure passes (stale list), the list names an unknown case or the reader misbehaves
(crash, timeout, unreadable or invalid output); :data:`~m2v_format.cli.EXIT_USAGE` for a
bad command line (``--report`` or ``--keep`` unusable: checked before the reader runs), an
invalid suite or a missing optional dependency.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from m2v_format._conformance._compare import evaluate
from m2v_format._conformance._known import read_known_failures, unknown_case_problems
from m2v_format._conformance._report import build_report, print_report, write_report
from m2v_format._conformance._run import KEPT_FILES, run_reader
from m2v_format._conformance._suite import load_suite, response_checker, select_cases
from m2v_format._errors import MissingDependencyError, SuiteError
from m2v_format.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, error_line

PROG = "m2v-conformance"
DEFAULT_TIMEOUT_S = 600.0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``m2v-conformance``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
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
    parser.add_argument(
        "--report", type=Path, help="write a JSON report here (its folder is created)"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the requests, responses and the reader's stdout and stderr in DIR "
        "(created; must be empty)",
    )
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
        print(f"{PROG}: --reader is empty", file=sys.stderr)
        return EXIT_USAGE
    try:
        cases = load_suite(args.suite)
        check = response_checker(args.suite)
        known = read_known_failures(args.known_failures) if args.known_failures else {}
    except SuiteError as exc:
        print(f"{PROG}: invalid suite:", file=sys.stderr)
        print("\n".join("  " + p for p in exc.problems), file=sys.stderr)
        return EXIT_USAGE
    except MissingDependencyError as exc:
        print(error_line(PROG, exc), file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    list_problems = (
        unknown_case_problems(args.known_failures, known, (case.id for case in cases))
        if args.known_failures
        else []
    )
    selected = select_cases(cases, args.case)
    if not selected:
        print(f"{PROG}: no case matches --case", file=sys.stderr)
        return EXIT_USAGE
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        print(f"{PROG}: --timeout must be positive", file=sys.stderr)
        return EXIT_USAGE

    problem = (_report_problem(args.report) if args.report else None) or (
        _keep_problem(args.keep) if args.keep else None
    )
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return EXIT_USAGE

    keep = args.keep.resolve() if args.keep else None
    run = run_reader(command, selected, args.timeout, check=check, keep=keep)
    results = evaluate(selected, run, known, codes=args.codes == "m2v")
    print_report(results, run, list_problems, verbose=args.verbose)
    unexpected = any(r.outcome in ("fail", "stale") for r in results)
    exit_code = EXIT_FAILURE if unexpected or run.problems or list_problems else EXIT_OK
    if args.report:
        report = build_report(
            results,
            run,
            list_problems,
            suite=args.suite.resolve(),
            exit_code=exit_code,
            codes=args.codes,
            known_failures=args.known_failures.resolve() if args.known_failures else None,
        )
        try:
            write_report(args.report, report)
        except OSError as exc:
            print(f"{PROG}: --report {args.report}: cannot write: {_reason(exc)}", file=sys.stderr)
            return EXIT_USAGE
    return exit_code


def _report_problem(path: Path) -> str | None:
    """Why the report cannot be written at ``path`` (None when it can); creates its folder."""
    if path.exists() and not path.is_file():
        return f"--report {path}: exists and is not a file"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=".m2v-conformance-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"--report {path}: cannot write in {path.parent}: {_reason(exc)}"
    if path.exists() and not os.access(path, os.W_OK):
        return f"--report {path}: the file is not writable"
    return None


def _keep_problem(folder: Path) -> str | None:
    """Why the run's files cannot be kept in ``folder`` (None when they can); creates it."""
    if folder.exists():
        if not folder.is_dir():
            return f"--keep {folder}: exists and is not a folder"
        try:
            empty = not any(folder.iterdir())
        except OSError as exc:
            return f"--keep {folder}: cannot list the folder: {_reason(exc)}"
        if not empty:
            names = ", ".join(KEPT_FILES)
            return f"--keep {folder}: the folder is not empty (it would receive {names})"
        return None
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        return f"--keep {folder}: cannot create the folder: {_reason(exc)}"
    return None


def _reason(error: OSError) -> str:
    """The OS's reason for ``error``, without the file name it repeats."""
    return error.strerror or str(error)
