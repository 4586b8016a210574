"""ONNX export: file sizes, and onnxruntime against m2v-infer on one thread.

Run by hand (pytest does not collect ``bench_*.py``)::

    RAYON_NUM_THREADS=1 uv run --frozen --all-packages python tests/benchmarks/bench_onnx.py

potion-base-8M is exported with ``m2v_format.export_onnx`` as float32, float16 and int8
tables (offsets inputs); the bundled default model (int8 + scale) as stored.  Then the
benchmark corpus (55,814 Rotten Tomatoes texts and BBC News sentences, max_length 512) is
embedded, in batches of 1,024 texts, median of ``--rounds`` passes:

- ``m2v-infer``: ``StaticModel.encode(..., num_workers=1, num_threads=1)``, texts in,
  vectors out (its own tokenizer fast path);
- ``onnxruntime``: the client of spec/onnx.md in Python (character cut, ``tokenizers``
  ``encode_batch`` without special tokens, token cut, offsets) plus the graph in a session
  with one intra-op thread; and the graph alone on ids tokenized beforehand.

``RAYON_NUM_THREADS=1`` keeps the tokenizers library on one thread (it batches with rayon).
The largest difference between the two runtimes' vectors is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from m2v_format import export_onnx
from m2v_infer import StaticModel, default_model_path
from m2v_testkit import benchmark_corpus, describe_machine, require_testdata
from tokenizers import Tokenizer

BATCH = 1024


class Client:
    """spec/onnx.md's client: cuts, tokenization, offsets, one session on one thread."""

    def __init__(self, folder: Path, dtype: str) -> None:
        self.config = json.loads((folder / "config.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        graph = folder / self.config["files"][dtype]
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    def ids(self, texts: list[str]) -> list[list[int]]:
        limit = self.config["max_length"]
        cut = [text[: limit * self.config["median_token_length"]] for text in texts]
        encodings = self.tokenizer.encode_batch(cut, add_special_tokens=False)
        return [encoding.ids[:limit] for encoding in encodings]

    def run(self, rows: list[list[int]]) -> np.ndarray[Any, Any]:
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        flat = np.fromiter((i for row in rows for i in row), np.int64, int(lengths.sum()))
        (vectors,) = self.session.run(
            ["embeddings"], {"input_ids": flat, "offsets": np.cumsum(lengths) - lengths}
        )
        return np.asarray(vectors)

    def encode(self, texts: list[str]) -> np.ndarray[Any, Any]:
        return np.concatenate(
            [self.run(self.ids(texts[i : i + BATCH])) for i in range(0, len(texts), BATCH)]
        )


def _median_seconds(work: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _sizes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*.onnx")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(describe_machine())
    print(f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS')}, onnxruntime {ort.__version__}")
    texts = benchmark_corpus()
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as folder:
        run(texts, Path(folder), args.rounds)


def run(texts: list[str], work: Path, rounds: int) -> None:
    """Export both models into ``work``, then time and compare each graph."""
    potion = require_testdata("potion-base-8M")
    models = {
        "potion-base-8M": (potion, ["float32", "float16", "int8"]),
        "default model": (default_model_path(), None),
    }
    for name, (path, dtypes) in models.items():
        start = time.perf_counter()
        folder = export_onnx(path, work / name.replace(" ", "-"), dtypes=dtypes)
        print(f"\n{name}: exported in {time.perf_counter() - start:.2f} s")
        source = sum(p.stat().st_size for p in Path(path).glob("model.safetensors"))
        print(f"  {'model.safetensors':<21} {source / 1e6:6.1f} MB")
        for file, size in _sizes(folder).items():
            print(f"  {file:<21} {size / 1e6:6.1f} MB")
        config = json.loads((folder / "config.json").read_text())
        for dtype in config["files"]:
            model = StaticModel.from_pretrained(path, quantize_to=None if dtypes is None else dtype)
            infer_s, expected = _median_seconds(
                lambda model=model: model.encode(texts, num_workers=1, num_threads=1), rounds
            )
            client = Client(folder, dtype)
            onnx_s, got = _median_seconds(lambda client=client: client.encode(texts), rounds)
            batches = [client.ids(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
            graph_s, _ = _median_seconds(
                lambda batches=batches, client=client: [client.run(b) for b in batches],
                rounds,
            )
            diff = float(np.max(np.abs(got - expected)))
            print(
                f"  {dtype:<8} m2v-infer {len(texts) / infer_s:9,.0f} texts/s | "
                f"onnxruntime {len(texts) / onnx_s:9,.0f} texts/s end to end, "
                f"graph alone {len(texts) / graph_s:9,.0f} texts/s | max |diff| {diff:.2e}"
            )


if __name__ == "__main__":
    main()
