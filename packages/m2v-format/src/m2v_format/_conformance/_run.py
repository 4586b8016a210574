"""Calling the reader under test: one subprocess for every selected case, with a timeout.

The runner writes one request per case to ``requests.jsonl`` in a temporary folder, calls
``<reader command...> REQUESTS.jsonl RESPONSES.jsonl`` and collects the responses file,
noting every way the reader misbehaved (crash, timeout, unreadable or duplicate lines).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2v_format._conformance._suite import Case


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
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _parse_responses(data: bytes, run: ReaderRun) -> None:
    """Add each response line of ``data`` to ``run`` (or a problem for a line that is not one).

    Lenient on purpose: NaN and Infinity literals are read, so that the comparison can say
    which embeddings are not finite.
    """
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
