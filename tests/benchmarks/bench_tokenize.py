"""Micro-benchmark: the memoized fast path against the bare ``tokenizers`` library.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --all-packages python tests/benchmarks/bench_tokenize.py [--repeats 3]

Corpus: Rotten Tomatoes texts + BBC News sentences, shuffled with a fixed seed
(``m2v_testkit.benchmark_corpus``, about 56k strings, mean ~127 characters). Each
configuration runs in a fresh subprocess, so thread-pool environment variables apply and
the first pass starts with empty in-process caches; with ``--repeats N`` each runs in N
processes and the best (highest) rate is kept, which is the least disturbed by other load.

Configurations (sentences per second, wall clock; CPU seconds alongside):

* ``tokenizers-1t`` / ``tokenizers-2t``: ``Tokenizer.encode_batch_fast(texts,
  add_special_tokens=False)`` over the whole corpus, ``RAYON_NUM_THREADS=1`` / 2.
* ``fast-ids-1t``: ``FastEncoder.tokenize`` (rules I2-I4, ids as lists), first and warm pass.
* ``fast-encode-1t``: ``FastEncoder.encode(normalize=True)`` (I2-I8, pooled float32).
* ``fast-encode-2t``: the same through two threads: batches of 1024 texts are turned into
  ids under a lock (the memo is shared) and pooled outside it (numpy releases the GIL).

Also printed: the fraction of texts the fast path sent to the library.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

CONFIGS = {
    "tokenizers-1t": "1",
    "tokenizers-2t": "2",
    "fast-ids-1t": "1",
    "fast-encode-1t": "1",
    "fast-encode-2t": "2",
}
BATCH = 1024


def _load() -> tuple[list[str], Any, Any]:
    import numpy as np
    from m2v_testkit import benchmark_corpus, dataset_path
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    folder = Path(dataset_path("potion-base-8M"))
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    rows = np.ascontiguousarray(load_file(str(folder / "model.safetensors"))["embeddings"])
    return benchmark_corpus(), tokenizer, rows


def _timed(function: Any) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def child(config: str) -> dict[str, Any]:
    """Run one configuration in this (fresh) process and return its timings."""
    texts, tokenizer, rows = _load()
    result: dict[str, Any] = {"texts": len(texts)}
    if config.startswith("tokenizers"):

        def run() -> None:
            tokenizer.encode_batch_fast(texts, add_special_tokens=False)

        result["first"] = _timed(run)
        result["warm"] = _timed(run)
        return result

    from m2v_infer._fastpath import FastEncoder
    from m2v_infer._fastpath._pool import pool_segments

    encoder = FastEncoder(tokenizer, rows, unknown_id=tokenizer.token_to_id("[UNK]"))
    if config == "fast-ids-1t":

        def run() -> None:
            encoder.tokenize(texts, 512)

    elif config == "fast-encode-1t":

        def run() -> None:
            encoder.encode(texts, 512, normalize=True)

    else:
        import numpy as np

        lock = threading.Lock()
        out = np.empty((len(texts), rows.shape[1]), dtype=np.float32)

        def one(lo: int) -> None:
            with lock:
                ids, counts, order = encoder.segments(texts[lo : lo + BATCH], 512)
            pool_segments(rows, ids, counts, out, order + lo, mean=True, normalize=True)

        def run() -> None:
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(one, range(0, len(texts), BATCH)))

    result["first"] = _timed(run)
    result["warm"] = _timed(run)
    total = encoder.fast_texts + encoder.fallback_texts
    result["fallback"] = encoder.fallback_texts / total if total else 0.0
    cache = encoder.cache
    result["cache_entries"] = len(cache) if cache is not None else 0
    return result


def _spawn(config: str) -> dict[str, Any]:
    threads = CONFIGS[config]
    env = dict(os.environ, RAYON_NUM_THREADS=threads, OMP_NUM_THREADS="1")
    env.pop("TOKENIZERS_PARALLELISM", None)
    done = subprocess.run(
        [sys.executable, __file__, "--child", config],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=1, help="processes per configuration")
    parser.add_argument("--only", nargs="*", choices=sorted(CONFIGS), help="configurations")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    print(f"cpus: {os.cpu_count()}  python: {sys.version.split()[0]}")
    for config in args.only or list(CONFIGS):
        runs = [_spawn(config) for _ in range(max(1, args.repeats))]
        n = runs[0]["texts"]
        best_first = min(runs, key=lambda r: r["first"][0])
        best_warm = min(runs, key=lambda r: r["warm"][0])
        line = (
            f"{config:<16} first {n / best_first['first'][0]:>9,.0f}/s"
            f" (cpu {best_first['first'][1]:.2f}s)   warm {n / best_warm['warm'][0]:>9,.0f}/s"
            f" (cpu {best_warm['warm'][1]:.2f}s)"
        )
        if "fallback" in runs[0]:
            line += f"   fallback {runs[0]['fallback']:.2%}  memo {runs[0]['cache_entries']:,}"
        print(f"{line}   [{n:,} texts, {len(runs)} run(s)]", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
