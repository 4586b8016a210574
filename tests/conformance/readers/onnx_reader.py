"""Conformance reader adapter for the ONNX export (``m2v export onnx``, spec/onnx.md).

    python tests/conformance/readers/onnx_reader.py REQUESTS.jsonl RESPONSES.jsonl

Each request's model is exported with ``m2v_format.export_onnx`` into a temporary folder
(once per model path and ``normalize``), then answered the way spec/onnx.md tells a client
to, with nothing from m2v: read ``config.json``, cut each text to ``max_length *
median_token_length`` code points, tokenize with the exported ``tokenizer.json`` (the
``tokenizers`` library, no special tokens), keep the first ``max_length`` ids, feed
``input_ids`` + ``offsets`` to the graph in onnxruntime.  A model the export refuses is
answered with the export's m2v error code (run the suite with ``--codes m2v``).

``token_ids`` are the ids fed minus the unknown id of ``config.json``: the ids the graph
averages (rule O6).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


class ExportedModel:
    """An export folder opened as a client opens it: config, tokenizer, one session."""

    def __init__(self, folder: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.config: dict[str, Any] = json.loads((folder / "config.json").read_text("utf-8"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        graph = folder / next(iter(self.config["files"].values()))  # the stored dtype's
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    def token_ids(self, texts: list[str], max_length: int | None) -> list[list[int]]:
        """Rules I1-I3 on the client: the character cut, tokenization, the token cut."""
        if max_length is not None:
            limit = max_length * int(self.config["median_token_length"])
            texts = [text[:limit] for text in texts]
        rows = [list(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]
        return rows if max_length is None else [row[:max_length] for row in rows]

    def encode(self, rows: list[list[int]]) -> np.ndarray[Any, Any]:
        """The graph's vectors for the ids of each text (inputs ``offsets``)."""
        lengths = np.array([len(row) for row in rows], dtype=np.int64)
        feeds = {
            "input_ids": np.array([i for row in rows for i in row], dtype=np.int64),
            "offsets": np.cumsum(lengths) - lengths,
        }
        (vectors,) = self.session.run(["embeddings"], feeds)
        return np.asarray(vectors)


_WORK = Path(tempfile.mkdtemp(prefix="m2v-onnx-reader-"))
_EXPORTS: dict[tuple[str, bool | None], ExportedModel] = {}


def _exported(model: str, normalize: bool | None) -> ExportedModel:
    key = (model, normalize)
    if key not in _EXPORTS:
        from m2v_format import export_onnx

        folder = export_onnx(model, _WORK / str(len(_EXPORTS)), normalize=normalize)
        _EXPORTS[key] = ExportedModel(folder)
    return _EXPORTS[key]


def answer(request: dict[str, Any]) -> dict[str, Any]:
    from m2v_format import M2VError

    case_id = request["id"]
    try:
        exported = _exported(request["model"], request.get("normalize"))
        rows = exported.token_ids(list(request["texts"]), request["max_length"])
        vectors = exported.encode(rows)
    except M2VError as error:  # the export refuses the model: its code
        return {"id": case_id, "ok": False, "error_code": error.code, "message": str(error)}
    except Exception as error:  # a bug, not a refusal: no error code
        message = f"unexpected {type(error).__name__}: {error}"
        return {"id": case_id, "ok": False, "error_code": None, "message": message}
    unknown = exported.config["unknown_token_id"]
    return {
        "id": case_id,
        "ok": True,
        "embeddings": [[float(x) for x in row] for row in vectors],
        "token_ids": [[int(i) for i in row if i != unknown] for row in rows],
    }


def main(argv: list[str]) -> int:
    import shutil

    from m2v_format._conformance._reader import serve  # the protocol's request loop

    try:
        return serve(answer, argv, usage="usage: onnx_reader.py REQUESTS.jsonl RESPONSES.jsonl")
    finally:
        shutil.rmtree(_WORK, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
