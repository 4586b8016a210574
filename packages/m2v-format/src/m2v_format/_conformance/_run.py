"""Calling the reader under test: one subprocess for every selected case, with a timeout.

The runner writes one request per case to ``requests.jsonl`` in a temporary folder (or the
``--keep`` folder, which then keeps it), calls
``<reader command...> REQUESTS.jsonl RESPONSES.jsonl`` with its output in ``stdout.txt`` and
``stderr.txt`` there, and reads the responses file (:mod:`._responses`), noting every way
the reader misbehaved (crash, timeout, unreadable, invalid or duplicate lines).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2v_format._conformance._declaration import Declaration
from m2v_format._conformance._responses import LineChecker, parse_responses
from m2v_format._conformance._suite import Case

REQUESTS_FILE = "requests.jsonl"
RESPONSES_FILE = "responses.jsonl"
STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"
KEPT_FILES = (REQUESTS_FILE, RESPONSES_FILE, STDOUT_FILE, STDERR_FILE)
"""What a ``--keep`` folder holds after the run (the responses file if the reader wrote one)."""


@dataclass
class ReaderRun:
    """What one call of the reader produced.

    ``invalid`` maps a case id to the schema errors of the line that answered it;
    ``declaration`` is the reader's declaration (None when it wrote none or an invalid one);
    ``kept`` the folder the run's files were kept in (``--keep``), or None.
    """

    command: list[str]
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    duplicates: set[str] = field(default_factory=set)
    invalid: dict[str, list[str]] = field(default_factory=dict)
    declaration: Declaration | None = None
    returncode: int | None = None
    timed_out: bool = False
    stderr_tail: str = ""
    kept: Path | None = None

    @property
    def why_missing(self) -> str:
        """Why a case has no response, for its failure message."""
        if self.timed_out:
            return "no response: the reader timed out"
        if self.returncode not in (0, None):
            return f"no response: the reader exited with status {self.returncode}"
        return "no response from the reader"


def run_reader(
    command: Sequence[str],
    cases: Sequence[Case],
    timeout: float,
    *,
    check: LineChecker,
    keep: Path | None = None,
) -> ReaderRun:
    """Call the reader once on every case and collect its responses.

    ``check`` checks each line of the responses against the response schema
    (:func:`~m2v_format._conformance._suite.response_checker`).  With ``keep`` (an existing
    folder) the requests, the responses and the reader's stdout and stderr stay there
    (:data:`KEPT_FILES`); otherwise they go to a temporary folder, removed afterwards.
    """
    run = ReaderRun(command=list(command), kept=keep)
    with _work_folder(keep) as folder:
        requests = folder / REQUESTS_FILE
        responses = folder / RESPONSES_FILE
        with requests.open("w", encoding="utf-8", newline="\n") as out:
            for case in cases:
                out.write(json.dumps(case.request()) + "\n")
        stdout_path, stderr_path = folder / STDOUT_FILE, folder / STDERR_FILE
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
            parsed = parse_responses(responses.read_bytes(), check)
            run.responses, run.invalid = parsed.by_id, parsed.invalid
            run.duplicates, run.declaration = parsed.duplicates, parsed.declaration
            run.problems += parsed.problems
        else:
            run.problems.append("the reader wrote no responses file")
    wanted = {case.id for case in cases}
    for unknown in sorted(set(run.responses) - wanted):
        run.problems.append(f"response for unknown case id {unknown!r}")
    return run


@contextmanager
def _work_folder(keep: Path | None) -> Iterator[Path]:
    """``keep`` itself, or a temporary folder removed on exit."""
    if keep is not None:
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="m2v-conformance-") as tmp:
        yield Path(tmp)


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
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip().splitlines()[-lines:])
