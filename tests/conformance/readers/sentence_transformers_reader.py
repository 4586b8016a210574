"""Conformance reader adapter for sentence-transformers (tested with 6.2).

    python tests/conformance/readers/sentence_transformers_reader.py REQUESTS.jsonl RESPONSES.jsonl

Each model is loaded the way users load it, ``SentenceTransformer(model, device="cpu")``: the
folder's ``modules.json`` decides the modules (StaticEmbedding, optionally Normalize).
``encode`` runs with the library defaults.  sentence-transformers has no notion of the
format's ``max_length`` (StaticEmbedding does not truncate), so the request's max_length is
not passed on; it has no typed errors (``error_code: null``).

No token ids are returned: StaticEmbedding averages every id the tokenizer produces,
unknown ids included, which is not the list of rules I1-I4, so the comparison is made on
the embeddings only.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
import warnings
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def answer(request: dict[str, Any]) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    case_id = request["id"]
    try:
        model = SentenceTransformer(request["model"], device="cpu", local_files_only=True)
        texts = request["texts"]
        vectors = model.encode(texts, convert_to_numpy=True, show_progress_bar=False)
        rows = vectors.reshape(len(texts), -1).tolist() if texts else vectors.tolist()
        return {"id": case_id, "ok": True, "embeddings": [[float(x) for x in r] for r in rows]}
    except Exception as exc:  # report every failure of the library as a refusal
        traceback.print_exc(file=sys.stderr)
        return {
            "id": case_id,
            "ok": False,
            "error_code": None,
            "message": f"{type(exc).__name__}: {exc}",
        }


def main(argv: list[str]) -> int:
    from m2v_format._conformance._reader import serve  # the protocol's request loop

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    return serve(
        answer, argv, usage="usage: sentence_transformers_reader.py REQUESTS.jsonl RESPONSES.jsonl"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
