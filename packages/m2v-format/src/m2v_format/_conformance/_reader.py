"""The conformance reader of m2v-format itself, and the reader side of the protocol.

    python -m m2v_format._conformance._reader REQUESTS.jsonl RESPONSES.jsonl

Answers each request of the conformance protocol (``spec/conformance/README.md``) with
``load_model`` + ``reference_tokenize`` / ``reference_encode``, and reports refusals with the
m2v error codes (run the suite with ``--codes m2v``).  :func:`serve` is the request loop
every Python reader shares (the adapters in ``tests/conformance/readers/`` use it too).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from m2v_format import load_model, reference_encode, reference_tokenize
from m2v_format._errors import FormatError
from m2v_format.cli import EXIT_OK, EXIT_USAGE

Answer = Callable[[dict[str, Any]], dict[str, Any]]
"""A reader's answer to one request: the response line, as a dict."""


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """The response line for one request."""
    case_id = request.get("id")
    try:
        texts: list[str] = request["texts"]
        max_length: int | None = request.get("max_length")
        normalize: bool | None = request.get("normalize")
        model = load_model(request["model"])
        token_ids = reference_tokenize(model, texts, max_length=max_length)
        embeddings = reference_encode(model, texts, max_length=max_length, normalize=normalize)
    except FormatError as exc:
        return {"id": case_id, "ok": False, "error_code": exc.code, "message": str(exc)}
    except Exception as exc:  # a bug, not a refusal: no error code
        return {
            "id": case_id,
            "ok": False,
            "error_code": None,
            "message": f"unexpected {type(exc).__name__}: {exc}",
        }
    return {
        "id": case_id,
        "ok": True,
        "token_ids": [[int(i) for i in ids] for ids in token_ids],
        "embeddings": [[float(x) for x in row] for row in embeddings],
    }


def serve(
    answer: Answer,
    argv: Sequence[str],
    *,
    usage: str,
    declaration: Mapping[str, Any] | None = None,
) -> int:
    """Answer REQUESTS.jsonl into RESPONSES.jsonl (``argv``), one line per request, in order.

    With ``declaration`` (``{"name": ..., "version": ..., "unsupported": [...]}``), the first
    line is the reader's declaration ``{"reader": declaration}``.  Each response is flushed as
    soon as it is written, so a reader that crashes midway keeps its earlier answers.  Other
    arguments print ``usage`` and give status 2.
    """
    if len(argv) != 2:
        print(usage, file=sys.stderr)
        return EXIT_USAGE
    with (
        open(argv[0], encoding="utf-8") as requests,
        open(argv[1], "w", encoding="utf-8", newline="\n") as responses,
    ):
        if declaration is not None:
            responses.write(json.dumps({"reader": dict(declaration)}) + "\n")
        for line in requests:
            if line.strip():
                responses.write(json.dumps(answer(json.loads(line))) + "\n")
                responses.flush()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Read REQUESTS.jsonl, write RESPONSES.jsonl (one line per request, in order)."""
    args = sys.argv[1:] if argv is None else argv
    return serve(
        answer, args, usage="usage: python -m m2v_format._conformance._reader REQUESTS RESPONSES"
    )


if __name__ == "__main__":
    sys.exit(main())
