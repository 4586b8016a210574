"""Conformance reader adapter for model2vec (the Python package, tested with 0.10.0).

    python tests/conformance/readers/model2vec_reader.py REQUESTS.jsonl RESPONSES.jsonl

Each request is answered with ``StaticModel.from_pretrained(model)`` and
``model.encode(texts, max_length=...)``: the library's own defaults, nothing patched.
model2vec has no typed errors, so failures are reported with ``error_code: null``.

Token ids are returned only where the library exposes exactly the ids it averages: for
requests without max_length, ``encode`` disables the tokenizer's truncation and averages
``StaticModel.tokenize(texts)``; the adapter does the same.  With a max_length, ``encode``
cuts the text and the ids internally, so no ids are returned and only the embeddings are
compared.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def answer(request: dict[str, Any]) -> dict[str, Any]:
    from model2vec import StaticModel

    case_id = request["id"]
    try:
        model = StaticModel.from_pretrained(request["model"])
        texts = request["texts"]
        max_length = request["max_length"]
        vectors = model.encode(
            texts,
            max_length=max_length,
            normalize=request.get("normalize"),
            use_multiprocessing=False,
        )
        response: dict[str, Any] = {
            "id": case_id,
            "ok": True,
            "embeddings": [[float(x) for x in row] for row in vectors.reshape(len(texts), -1)],
        }
        if max_length is None:
            model.tokenizer.no_truncation()  # what encode(max_length=None) does before tokenize
            response["token_ids"] = [[int(i) for i in ids] for ids in model.tokenize(texts)]
        return response
    except Exception as exc:  # report every failure of the library as a refusal
        message = f"{type(exc).__name__}: {exc}"
        traceback.print_exc(file=sys.stderr)
        return {"id": case_id, "ok": False, "error_code": None, "message": message}


def main(argv: list[str]) -> int:
    from m2v_format._conformance._reader import serve  # the protocol's request loop

    logging.disable(logging.WARNING)
    return serve(answer, argv, usage="usage: model2vec_reader.py REQUESTS.jsonl RESPONSES.jsonl")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
