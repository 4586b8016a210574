"""How far quantized tables move the vectors: int8 with per-row scales, int8 with one global
scale, float16, and model2vec 0.10.0's own int8, against the float32 model.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --frozen --all-packages python tests/benchmarks/bench_int8.py [--texts 3000]

For potion-base-8M, each table is written with ``m2v_format.save_model`` (ours) or loaded
with ``model2vec.StaticModel.from_pretrained(quantize_to=...)`` (the peer) and the same real
texts (Rotten Tomatoes, BBC News sentences, tweets, as the tests' ``real_corpus``) are
encoded with the model's own normalization.  Printed per table: file size of
model.safetensors, the largest absolute difference of any vector component from float32, and
the lowest and mean cosine between a text's vector and its float32 vector (texts with a zero
vector left out).  Also with ``--dims 128`` (the first 128 PCA dimensions kept).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from m2v_format import load_model, quantize, save_model
from m2v_infer import StaticModel
from m2v_testkit import (
    bbc_sentences,
    describe_machine,
    require_testdata,
    rotten_tomatoes_texts,
    tweets,
)


def real_texts(count: int) -> list[str]:
    """The tests' real corpus (3,000 texts), cut to ``count``."""
    texts = (
        rotten_tomatoes_texts()[::9][:1000] + bbc_sentences()[::37][:1200] + tweets()[::43][:800]
    )
    return texts[:count]


def compare(reference: np.ndarray[Any, Any], got: np.ndarray[Any, Any]) -> dict[str, float]:
    """Largest |difference| and lowest / mean cosine over the texts with a non-zero vector."""
    keep = np.linalg.norm(reference, axis=1) > 0
    ref, out = reference[keep], got[keep]
    cosine = (ref * out).sum(axis=1) / (
        np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1) + 1e-32
    )
    return {
        "max_abs": float(np.abs(got - reference).max()),
        "min_cos": float(cosine.min()),
        "mean_cos": float(cosine.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=3000, help="texts (default: %(default)s)")
    args = parser.parse_args()
    potion = require_testdata("potion-base-8M")
    print(describe_machine("numpy", "model2vec"))
    texts = real_texts(args.texts)
    print(f"{len(texts)} real texts, potion-base-8M")
    from model2vec import StaticModel as PeerModel

    with tempfile.TemporaryDirectory() as tmp:
        for dims in (None, 128):
            base = load_model(potion)
            reference = StaticModel.from_data(quantize(base, "float32", dims=dims)).encode(texts)
            print(f"\ndims {dims or base.dim}:")
            print(f"{'table':<28} {'MB':>6} {'max |diff|':>11} {'min cos':>9} {'mean cos':>10}")
            tables: list[tuple[str, np.ndarray[Any, Any], float]] = []
            for name, to, scale in (
                ("m2v float16", "float16", "row"),
                ("m2v int8, per-row scales", "int8", "row"),
                ("m2v int8, one global scale", "int8", "global"),
            ):
                folder = save_model(
                    Path(tmp) / f"{name}-{dims}".replace(" ", "_").replace(",", ""),
                    quantize(base, to, dims=dims, int8_scale=scale),  # type: ignore[arg-type]
                )
                size = (folder / "model.safetensors").stat().st_size / 1e6
                tables.append((name, StaticModel.from_pretrained(folder).encode(texts), size))
            for to in ("int8", "float16"):
                peer = PeerModel.from_pretrained(str(potion), quantize_to=to, dimensionality=dims)
                vectors = np.asarray(peer.encode(texts), dtype=np.float32)
                size = peer.embedding.nbytes / 1e6
                tables.append((f"model2vec 0.10.0 {to}", vectors, size))
            for name, vectors, size in tables:
                row = compare(reference, vectors)
                print(
                    f"{name:<28} {size:>6.1f} {row['max_abs']:>11.4f} {row['min_cos']:>9.5f} "
                    f"{row['mean_cos']:>10.5f}"
                )
    print(describe_machine("numpy", "model2vec"))


if __name__ == "__main__":
    main()
