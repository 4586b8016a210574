"""``m2v-conformance``: run the m2v conformance suite against a reader under test.

The reader is a command.  The runner writes one request per case to ``requests.jsonl`` in a
temporary folder, calls ``<reader command...> REQUESTS.jsonl RESPONSES.jsonl`` once (with a
timeout), then compares each response with the case's expected output.  The protocol is
documented in ``spec/conformance/README.md``.

One module per job: ``_suite`` loads the case files (checked against ``case.schema.json`` by
``_schema``, with the optional ``jsonschema``), ``_known`` reads known-failures lists,
``_run`` calls the reader, ``_compare`` judges its responses, ``_report`` prints and writes
the results, ``_cli`` is the command line.  ``_reader`` is m2v-format's own reader
(``python -m m2v_format._conformance._reader REQUESTS RESPONSES``).

Exit status: 0 when every selected case passes or is a listed known failure; 1 when a case
fails unexpectedly, a listed known failure passes (stale list) or the reader misbehaves
(crash, timeout, unreadable output); 2 for a bad command line or an invalid suite.
"""

from m2v_format._conformance._cli import DEFAULT_TIMEOUT_S, build_parser, main
from m2v_format._conformance._compare import Outcome, Result, check_response, evaluate
from m2v_format._conformance._known import read_known_failures
from m2v_format._conformance._run import ReaderRun, run_reader
from m2v_format._conformance._schema import schema_errors
from m2v_format._conformance._suite import SCHEMA_FILE, Case, load_suite, select_cases
from m2v_format._errors import ConformanceError, SuiteError

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "SCHEMA_FILE",
    "Case",
    "ConformanceError",
    "Outcome",
    "ReaderRun",
    "Result",
    "SuiteError",
    "build_parser",
    "check_response",
    "evaluate",
    "load_suite",
    "main",
    "read_known_failures",
    "run_reader",
    "schema_errors",
    "select_cases",
]
