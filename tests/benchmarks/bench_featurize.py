"""Featurizing speed: m2v-train's ``featurize`` vs sentence-transformers' ``encode``.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --all-packages python tests/benchmarks/bench_featurize.py [--repeats 3]
        [--configs st ours ours-tokens] [--texts 3000] [--markdown] [--json OUT]

Teacher: all-MiniLM-L6-v2 (the ``minilm`` test-data folder), float32 on the CPU, torch on
2 threads, max 256 tokens a text (the folder's ``max_seq_length``).  Texts: a fixed mix of
real texts, 90% Rotten Tomatoes review snippets (short) and 10% BBC News articles (long,
truncated at 256 tokens), shuffled with seed 0 (``corpus()``).  Configurations, each run
in a fresh subprocess, interleaved repeat by repeat:

* ``st``: ``SentenceTransformer(folder, device="cpu").encode(texts, batch_size=32)`` (its
  defaults: batches sorted by character length; mean pooling, then normalised);
* ``ours``: ``m2v_train.featurize(texts, <fresh temp folder>, teacher=..., target=
  "sentence")`` with its defaults (the whole call: corpus hash, store, tokenizing,
  encoding, writing the shard);
* ``ours-tokens``: the same with ``target="tokens"``.

Timing: loading the model (``SentenceTransformer(folder)`` / ``TransformersTeacher(folder)``,
which ``featurize`` builds itself from a folder teacher) is timed apart from the encoding;
imports are not timed (for ours, ``transformers.AutoModel`` is imported first, as importing
sentence-transformers does: about 5 s on this machine).  "encode texts/s" (the headline) excludes the load in both, "with
load" includes it in both.  Like for like: the first ``ours`` vectors must agree with the
first ``st`` vectors (cosine >= 0.999 for every text; ST normalises, featurize does not, so
directions are compared); the script fails otherwise.  The machine and its load average
are printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from m2v_testkit import bbc_news, dataset_path, describe_machine, rotten_tomatoes_reviews

CONFIGS = ("st", "ours", "ours-tokens")
LONG_SHARE = 0.1


def corpus(count: int = 3000) -> list[str]:
    """The fixed text mix: Rotten Tomatoes snippets plus 10% BBC News articles."""
    reviews, _ = rotten_tomatoes_reviews()
    articles, _ = bbc_news()
    long = round(count * LONG_SHARE)
    texts = reviews[: count - long] + articles[:long]
    random.Random(0).shuffle(texts)
    return texts


def child(config: str, count: int, vectors: str) -> dict[str, Any]:
    """One timed run; the vectors go to ``vectors`` (a .npy path) unless it is empty."""
    import numpy as np
    import torch

    torch.set_num_threads(2)
    texts = corpus(count)
    folder = dataset_path("minilm")
    if config == "st":
        from sentence_transformers import SentenceTransformer

        start = time.perf_counter()
        model = SentenceTransformer(str(folder), device="cpu")
        loaded = time.perf_counter()
        out = model.encode(texts, batch_size=32)
        done = time.perf_counter()
    else:
        from m2v_train import featurize, load_features
        from m2v_train._teacher import TransformersTeacher
        from transformers import AutoModel, AutoTokenizer  # noqa: F401  (as ST's import)

        target = "tokens" if config == "ours-tokens" else "sentence"
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            teacher = TransformersTeacher(folder, device="cpu", target=target, quiet=True)
            loaded = time.perf_counter()
            featurize(texts, Path(tmp) / "work", teacher=teacher, show_progress=False)
            done = time.perf_counter()
            out = load_features(Path(tmp) / "work").targets
    if vectors:
        np.save(vectors, np.asarray(out, dtype=np.float32))
    return {
        "config": config,
        "texts": len(texts),
        "load_s": loaded - start,
        "encode_s": done - loaded,
        "encode_texts_per_s": len(texts) / (done - loaded),
        "total_texts_per_s": len(texts) / (done - start),
    }


def run(configs: list[str], repeats: int, count: int, scratch: Path) -> list[dict[str, Any]]:
    """``repeats`` rounds of every configuration, each in its own subprocess."""
    results = []
    for repeat in range(repeats):
        for config in configs:
            vectors = str(scratch / f"{config}.npy") if repeat == 0 else ""
            out = subprocess.run(
                [sys.executable, __file__, "--child", config, str(count), vectors],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"},
            )
            line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
            result = {**json.loads(line[len("RESULT ") :]), "repeat": repeat}
            print(json.dumps(result), flush=True)
            results.append(result)
    return results


def agreement(scratch: Path) -> float | None:
    """The lowest per-text cosine between ours ("sentence") and ST's vectors."""
    import numpy as np

    if not (scratch / "st.npy").is_file() or not (scratch / "ours.npy").is_file():
        return None
    theirs = np.load(scratch / "st.npy", allow_pickle=False)
    ours = np.load(scratch / "ours.npy", allow_pickle=False)
    cosine = (theirs * ours).sum(1) / (
        np.linalg.norm(theirs, axis=1) * np.linalg.norm(ours, axis=1)
    )
    return float(cosine.min())


def _mean_sd(values: list[float], digits: int = 0) -> str:
    mean = statistics.mean(values)
    if len(values) < 2:
        return f"{mean:,.{digits}f}"
    return f"{mean:,.{digits}f} ± {statistics.stdev(values):,.{digits}f}"


def markdown(results: list[dict[str, Any]]) -> str:
    """Mean ± sd over repeats: encode texts/s, texts/s with the load, and ours / ST
    (paired by repeat) for both."""
    reference = {r["repeat"]: r for r in results if r["config"] == "st"}
    lines = [
        "| configuration | runs | encode texts/s | vs ST | with load texts/s | vs ST | load s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for config in CONFIGS:
        mine = [r for r in results if r["config"] == config]
        if not mine:
            continue
        ratio = ratio_total = ""
        paired = [r for r in mine if r["repeat"] in reference]
        if paired:
            ratio = (
                _mean_sd(
                    [
                        r["encode_texts_per_s"] / reference[r["repeat"]]["encode_texts_per_s"]
                        for r in paired
                    ],
                    2,
                )
                + "x"
            )
            ratio_total = (
                _mean_sd(
                    [
                        r["total_texts_per_s"] / reference[r["repeat"]]["total_texts_per_s"]
                        for r in paired
                    ],
                    2,
                )
                + "x"
            )
        lines.append(
            f"| {config} | {len(mine)} | {_mean_sd([r['encode_texts_per_s'] for r in mine])} "
            f"| {ratio} | {_mean_sd([r['total_texts_per_s'] for r in mine])} | {ratio_total} "
            f"| {_mean_sd([r['load_s'] for r in mine], 2)} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Command line entry point."""
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        result = child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        print("RESULT " + json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    print(f"machine: {describe_machine('torch', 'transformers', 'sentence-transformers')}")
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results = run(args.configs, args.repeats, args.texts, Path(tmp))
        lowest = agreement(Path(tmp))
    print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
    if lowest is not None:
        print(f"lowest per-text cosine, ours (sentence) vs ST encode: {lowest:.6f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.markdown:
        print(markdown(results))
    if lowest is not None and lowest < 0.999:
        sys.exit("ours and ST's vectors disagree (cosine < 0.999): not like for like")


if __name__ == "__main__":
    main()
