"""Benchmark m2v-infer against model2vec 0.10.0, sentence-transformers and the bare tokenizer.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --all-packages python tests/benchmarks/bench_infer.py [--repeats 3] [--markdown]

Every configuration runs in its own fresh subprocess (model2vec sets
``TOKENIZERS_PARALLELISM=false`` process-wide once it uses its worker pool, and a first
pass must start with cold in-process caches).  Each subprocess loads the corpus, imports
its library, loads potion-base-8M, then times a first pass and a second (warm) pass over
the same texts.  With ``--repeats N`` each configuration runs in N processes and the
median is reported.  One-thread configurations pin the Rust thread pool of ``tokenizers``
with ``RAYON_NUM_THREADS=1`` (and BLAS/OpenMP pools with ``OMP_NUM_THREADS=1``).

Also measured: cold ``from_pretrained`` of potion-base-8M in a fresh process (ours vs
model2vec), the time of ``import m2v_infer`` / ``import model2vec`` in a fresh interpreter,
and peak RSS while streaming 1M texts (the corpus repeated) through ``encode_iter``
versus ``encode`` holding the whole output.

Corpus: Rotten Tomatoes texts + BBC News sentences, shuffled with a fixed seed
(``m2v_testkit.benchmark_corpus``; about 56k strings).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BATCH_SIZE = 1024
IMPORTED = ("numpy", "m2v_infer", "model2vec")
STREAM_TEXTS = 1_000_000


# --------------------------------------------------------------------------- children


def _potion() -> str:
    from m2v_testkit import dataset_path

    return str(dataset_path("potion-base-8M"))


def _timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _two_passes(encode: Callable[[], Any]) -> dict[str, float]:
    return {"first": _timed(encode), "warm": _timed(encode)}


def child_encode(config: str) -> dict[str, Any]:
    """Time one configuration's first and warm pass over the corpus."""
    from m2v_testkit import benchmark_corpus

    corpus = benchmark_corpus()
    path = _potion()
    result: dict[str, Any] = {"texts": len(corpus)}
    if config.startswith("model2vec"):
        from model2vec import StaticModel as Model2Vec

        model = Model2Vec.from_pretrained(path)
        multiprocessing = config == "model2vec-default"
        result |= _two_passes(lambda: model.encode(corpus, use_multiprocessing=multiprocessing))
    elif config == "sentence-transformers":
        from sentence_transformers import SentenceTransformer

        st_model = SentenceTransformer(path, device="cpu")
        result |= _two_passes(
            lambda: st_model.encode(corpus, batch_size=BATCH_SIZE, convert_to_numpy=True)
        )
    elif config.startswith("tokenizer"):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()

        def tokenize() -> None:
            for start in range(0, len(corpus), BATCH_SIZE):
                tokenizer.encode_batch_fast(
                    corpus[start : start + BATCH_SIZE], add_special_tokens=False
                )

        result |= _two_passes(tokenize)
    elif config.startswith("ours"):
        from m2v_infer import StaticModel

        model_ours = StaticModel.from_pretrained(path)
        threads = 1 if config == "ours-1" else None
        result |= _two_passes(lambda: model_ours.encode(corpus, num_threads=threads))
        result["engine"] = type(model_ours._get_engine()).__name__
    else:
        raise SystemExit(f"unknown configuration {config}")
    return result


def child_load(library: str) -> dict[str, Any]:
    """Import the library, then time one cold from_pretrained of potion-base-8M and the
    first encode of one short text (which includes any lazy set-up)."""
    path = _potion()
    if library == "ours":
        from m2v_infer import StaticModel

        start = time.perf_counter()
        model: Any = StaticModel.from_pretrained(path)
    else:
        from model2vec import StaticModel as Model2Vec

        start = time.perf_counter()
        model = Model2Vec.from_pretrained(path)
    loaded = time.perf_counter()
    model.encode(["It is a truth universally acknowledged."])
    return {"load": loaded - start, "first_encode": time.perf_counter() - loaded}


def child_import(module: str) -> dict[str, Any]:
    """Time ``import module`` in this fresh interpreter."""
    start = time.perf_counter()
    __import__(module)
    return {"import": time.perf_counter() - start}


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child_rss(mode: str) -> dict[str, Any]:
    """Peak RSS for 1M texts: streamed through encode_iter, or held by encode."""
    import itertools

    from m2v_infer import StaticModel
    from m2v_testkit import benchmark_corpus

    corpus = benchmark_corpus()
    model = StaticModel.from_pretrained(_potion())
    model.encode(corpus[:2000])
    baseline = _current_rss_mb()

    def texts() -> Any:
        return itertools.islice(itertools.cycle(corpus), STREAM_TEXTS)

    start = time.perf_counter()
    if mode == "stream":
        count = 0
        for batch in model.encode_iter(texts(), batch_size=BATCH_SIZE):
            count += batch.shape[0]
    else:
        count = model.encode(texts()).shape[0]
    return {
        "count": count,
        "seconds": time.perf_counter() - start,
        "baseline_mb": baseline,
        "peak_mb": _peak_rss_mb(),
        "output_mb": STREAM_TEXTS * model.dim * 4 / 2**20,
    }


# --------------------------------------------------------------------------- parent

ENCODE_CONFIGS: list[tuple[str, str, str]] = [
    # (config, label, threads)
    ("model2vec-default", "model2vec 0.10.0 encode (default)", "all"),
    ("model2vec-single-1", "model2vec use_multiprocessing=False", "1"),
    ("model2vec-single-2", "model2vec use_multiprocessing=False", "2"),
    ("sentence-transformers", "sentence-transformers StaticEmbedding (cpu)", "all"),
    ("tokenizer-1", "tokenizers encode_batch_fast only", "1"),
    ("tokenizer-2", "tokenizers encode_batch_fast only", "2"),
    ("ours-default", "m2v-infer encode (default)", "all"),
    ("ours-1", "m2v-infer encode (num_threads=1)", "1"),
]


def _environment(threads: str) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "TOKENIZERS_PARALLELISM"):
        env.pop(key, None)
    if threads != "all":
        env["RAYON_NUM_THREADS"] = threads
        env["OMP_NUM_THREADS"] = threads
        env["MKL_NUM_THREADS"] = threads
    return env


def run_child(kind: str, arg: str, threads: str = "all") -> dict[str, Any]:
    """Run this script as ``--child KIND ARG`` in a fresh interpreter; return its JSON."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, arg],
        env=_environment(threads),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} {arg} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def machine() -> str:
    """CPU model, cores, RAM, Python and library versions (``m2v_testkit.describe_machine``)."""
    from m2v_testkit import describe_machine

    return describe_machine("numpy", "tokenizers")


def _rate(texts: int, seconds: float) -> str:
    return f"{seconds:.2f} s ({texts / seconds / 1000:.1f}k/s)"


def main(argv: list[str] | None = None) -> int:
    """Run every configuration and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="processes per configuration")
    parser.add_argument("--only", nargs="*", default=None, help="encode configurations to run")
    parser.add_argument("--skip-rss", action="store_true", help="skip the 1M-text RSS runs")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ARG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, arg = args.child
        handler = {
            "encode": child_encode,
            "load": child_load,
            "import": child_import,
            "rss": child_rss,
        }[kind]
        print(json.dumps(handler(arg)))
        return 0

    print(f"machine: {machine()}", file=sys.stderr)
    load_before = os.getloadavg()
    encode: dict[str, list[dict[str, Any]]] = {}
    for config, label, threads in ENCODE_CONFIGS:
        if args.only and config not in args.only:
            continue
        encode[config] = []
        for repeat in range(args.repeats):
            encode[config].append(run_child("encode", config, threads))
            print(f"  {label} [{threads}] run {repeat + 1}: {encode[config][-1]}", file=sys.stderr)

    loads = {
        lib: [run_child("load", lib) for _ in range(max(5, args.repeats))]
        for lib in ("ours", "model2vec")
    }
    imports = {
        module: [run_child("import", module) for _ in range(max(5, args.repeats))]
        for module in IMPORTED
    }
    print(f"  loads: {loads}\n  imports: {imports}", file=sys.stderr)
    rss = {} if args.skip_rss else {mode: run_child("rss", mode) for mode in ("stream", "hold")}
    print(f"  rss: {rss}", file=sys.stderr)

    rows: list[list[str]] = []
    base = encode.get("model2vec-default")
    base_one = encode.get("model2vec-single-1")
    for config, label, threads in ENCODE_CONFIGS:
        if config not in encode:
            continue
        runs = encode[config]
        texts = runs[0]["texts"]
        first, warm = _median(runs, "first"), _median(runs, "warm")
        versus = (
            f"{_median(base, 'first') / first:.2f}x / {_median(base, 'warm') / warm:.2f}x"
            if base
            else "-"
        )
        versus_one = (
            f"{_median(base_one, 'first') / first:.2f}x / {_median(base_one, 'warm') / warm:.2f}x"
            if base_one and threads == "1"
            else ""
        )
        engine = f" [{runs[0]['engine']}]" if "engine" in runs[0] else ""
        rows.append(
            [label + engine, threads, _rate(texts, first), _rate(texts, warm), versus, versus_one]
        )
    ours_load, m2v_load = _median(loads["ours"], "load"), _median(loads["model2vec"], "load")
    ours_first = _median(loads["ours"], "first_encode")
    m2v_first = _median(loads["model2vec"], "first_encode")
    both_ratio = (m2v_load + m2v_first) / (ours_load + ours_first)
    rows.append(
        [
            "cold from_pretrained (+ first encode of 1 text), m2v-infer",
            "",
            f"{ours_load * 1000:.1f} ms (+{ours_first * 1000:.0f} ms)",
            "",
            f"{m2v_load / ours_load:.1f}x ({both_ratio:.1f}x)",
            "",
        ]
    )
    rows.append(
        [
            "cold from_pretrained (+ first encode of 1 text), model2vec",
            "",
            f"{m2v_load * 1000:.1f} ms (+{m2v_first * 1000:.0f} ms)",
            "",
            "1.00x",
            "",
        ]
    )
    import_ms = {module: _median(runs, "import") * 1000 for module, runs in imports.items()}
    for module in IMPORTED:
        versus_import = (
            f"{import_ms['model2vec'] / import_ms[module]:.2f}x" if module != "numpy" else ""
        )
        rows.append(
            [
                f"import {module} (fresh interpreter)",
                "",
                f"{import_ms[module]:.1f} ms",
                "",
                versus_import,
                "",
            ]
        )
    if rss:
        stream, hold = rss["stream"], rss["hold"]
        rows.append(
            [
                f"peak RSS, {stream['count']:,} texts via encode_iter",
                "all",
                f"{stream['peak_mb']:.0f} MB",
                f"{stream['seconds']:.1f} s",
                f"model loaded: {stream['baseline_mb']:.0f} MB",
                "",
            ]
        )
        rows.append(
            [
                f"peak RSS, {hold['count']:,} texts via encode (output held)",
                "all",
                f"{hold['peak_mb']:.0f} MB",
                f"{hold['seconds']:.1f} s",
                f"output alone: {hold['output_mb']:.0f} MB",
                "",
            ]
        )

    header = [
        "measurement",
        "threads",
        "first pass",
        "warm (2nd pass)",
        "vs model2vec default (first / warm)",
        "vs model2vec 1 thread",
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            + " |"
        )

    load_after = os.getloadavg()
    print(f"machine: {machine()}")
    print(
        f"load average (1 min) before / after: {load_before[0]:.2f} / {load_after[0]:.2f}; "
        f"process priority (nice): {os.nice(0)}"
    )
    print(
        f"corpus: {encode[next(iter(encode))][0]['texts'] if encode else '?'} texts; "
        f"median of {args.repeats} fresh processes per configuration"
    )
    print(line(header))
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in rows:
        print(line(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
