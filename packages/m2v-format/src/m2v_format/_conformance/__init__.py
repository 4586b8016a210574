"""``m2v-conformance``: run the m2v conformance suite against a reader under test.

The reader is a command.  The runner writes one request per case to ``requests.jsonl`` in a
temporary folder (or the ``--keep`` folder), calls
``<reader command...> REQUESTS.jsonl RESPONSES.jsonl`` once (with a timeout), checks every
line the reader wrote against ``response.schema.json``, then compares each response with the
case's expected output: token ids (when returned) and embeddings, both reported.  A reader
may declare the capabilities it lacks (:data:`CAPABILITIES`) in its first line; cases that
require one are "n/a".  The protocol is documented in ``spec/conformance/README.md``; the
JSON report (``--report``) follows ``spec/conformance/report.schema.json``.

One module per job: ``_suite`` loads the case files (checked against ``case.schema.json`` by
``_schema``, with the optional ``jsonschema``), ``_known`` reads known-failures lists,
``_run`` calls the reader, ``_responses`` reads and checks its responses file,
``_declaration`` holds the capabilities and the reader's declaration, ``_compare`` judges the
responses, ``_report`` prints and writes the results, ``_cli`` is the command line.
``_reader`` is m2v-format's own reader
(``python -m m2v_format._conformance._reader REQUESTS RESPONSES``) and the request loop
:func:`~m2v_format._conformance._reader.serve` the Python adapters share.

Exit status: 0 when every selected case passes, is a listed known failure or is n/a; 1 when
a case fails unexpectedly, a listed known failure passes (stale list) or the reader
misbehaves (crash, timeout, unreadable or invalid output); 2 for a bad command line
(including a ``--report`` or ``--keep`` path that cannot be used, found before the reader
runs) or an invalid suite.
"""

from m2v_format._conformance._cli import DEFAULT_TIMEOUT_S, build_parser, main
from m2v_format._conformance._compare import (
    Comparison,
    Outcome,
    Reply,
    Result,
    check_response,
    evaluate,
)
from m2v_format._conformance._declaration import CAPABILITIES, Declaration
from m2v_format._conformance._known import read_known_failures
from m2v_format._conformance._report import REPORT_VERSION
from m2v_format._conformance._run import ReaderRun, run_reader
from m2v_format._conformance._schema import schema_errors
from m2v_format._conformance._suite import (
    RESPONSE_SCHEMA_FILE,
    SCHEMA_FILE,
    Case,
    load_suite,
    response_checker,
    select_cases,
)
from m2v_format._errors import ConformanceError, SuiteError

__all__ = [
    "CAPABILITIES",
    "DEFAULT_TIMEOUT_S",
    "REPORT_VERSION",
    "RESPONSE_SCHEMA_FILE",
    "SCHEMA_FILE",
    "Case",
    "Comparison",
    "ConformanceError",
    "Declaration",
    "Outcome",
    "ReaderRun",
    "Reply",
    "Result",
    "SuiteError",
    "build_parser",
    "check_response",
    "evaluate",
    "load_suite",
    "main",
    "read_known_failures",
    "response_checker",
    "run_reader",
    "schema_errors",
    "select_cases",
]
