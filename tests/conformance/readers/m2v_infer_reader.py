"""Conformance reader adapter for m2v-infer (the production runtime, fast path included).

    python tests/conformance/readers/m2v_infer_reader.py REQUESTS.jsonl RESPONSES.jsonl

Each request is answered with ``m2v_infer.StaticModel.from_pretrained(model)``, then
``encode`` and ``tokenize`` with the request's max_length.  Errors are m2v's typed errors,
so the runner can compare error codes (``--codes m2v``).
"""

from __future__ import annotations

import sys
from typing import Any


def answer(request: dict[str, Any]) -> dict[str, Any]:
    from m2v_format import FormatError
    from m2v_infer import StaticModel

    case_id = request["id"]
    try:
        model = StaticModel.from_pretrained(request["model"])
        texts = request["texts"]
        max_length = request["max_length"]
        vectors = model.encode(texts, max_length=max_length, normalize=request.get("normalize"))
        ids = model.tokenize(texts, max_length=max_length)
    except FormatError as error:
        return {"id": case_id, "ok": False, "error_code": error.code, "message": str(error)}
    return {
        "id": case_id,
        "ok": True,
        "embeddings": [[float(x) for x in row] for row in vectors],
        "token_ids": [[int(i) for i in row] for row in ids],
    }


def main(argv: list[str]) -> int:
    from m2v_format._conformance._reader import serve  # the protocol's request loop

    return serve(answer, argv, usage="usage: m2v_infer_reader.py REQUESTS.jsonl RESPONSES.jsonl")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
