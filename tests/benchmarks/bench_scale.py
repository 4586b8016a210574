"""Benchmark Ray Data embedding (``m2v_infer.embed_dataset``) against in-process ``encode``.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --all-packages python tests/benchmarks/bench_scale.py [--scales 1 8] [--markdown]

Each configuration runs in its own fresh subprocess: load the corpus (the benchmark corpus,
``_corpus.benchmark_corpus``, about 56k texts, repeated ``scale`` times), then time a first
and a second (warm) pass.

* ``in-process``: ``StaticModel.encode`` in one process (``num_threads=1``, and the default:
  every core).
* ``ray``: a local Ray cluster (``ray.init(num_cpus=2)``, timed on its own), the texts put in
  the object store as Arrow blocks of 4,096 rows, ``embed_dataset(concurrency=2,
  num_cpus=1)`` and the vectors pulled back to the driver with ``iter_batches``.  Every pass
  is one Ray execution and starts its own actors (Ray Data does not keep them between
  executions), so "warm" means "cluster already running".  "steady" is the rate between the
  first and the last block of the warm pass, without the actor start.

Peak RSS: the process's own peak (in-process); for Ray, the driver's peak and the largest
actor's (``VmHWM`` of every ``ray::`` process, sampled every 0.2 s).  RSS counts the
memory-mapped model and the shared object store pages in every process that touches them.

Multi-process encoding is not in this branch: the ratios are against one process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

BLOCK_ROWS = 4096
BATCH_SIZE = 1024
CLUSTER_CPUS = 2


def _corpus(scale: int) -> list[str]:
    from _corpus import benchmark_corpus

    return benchmark_corpus() * scale


def _potion() -> str:
    from _corpus import dataset_path

    return str(dataset_path("potion-base-8M"))


def _hwm_mb(pid: int | str = "self") -> float:
    """Peak RSS (VmHWM) of a process, in MiB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


class ActorMemory:
    """Samples the peak RSS of every ``ray::`` worker process while running."""

    def __init__(self) -> None:
        self.peak: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                        command = handle.read(64)
                except OSError:
                    continue
                if command.startswith(b"ray::MapWorker"):
                    pid = int(entry.name)
                    self.peak[pid] = max(self.peak.get(pid, 0.0), _hwm_mb(pid))

    def __enter__(self) -> ActorMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def child_in_process(config: str, scale: int) -> dict[str, Any]:
    """Time two passes of ``StaticModel.encode`` over the corpus in this process."""
    from m2v_infer import StaticModel

    corpus = _corpus(scale)
    model = StaticModel.from_pretrained(_potion())
    threads = 1 if config == "in-process-1" else None
    passes = []
    for _ in range(2):
        start = time.perf_counter()
        model.encode(corpus, num_threads=threads, batch_size=BATCH_SIZE)
        passes.append(time.perf_counter() - start)
    return {"texts": len(corpus), "first": passes[0], "warm": passes[1], "rss_mb": _hwm_mb()}


def child_ray(config: str, scale: int) -> dict[str, Any]:
    """Start a local 2-CPU cluster, then time two Ray Data executions over the corpus."""
    del config
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # workers share this venv
    import logging

    import pyarrow as pa
    import ray
    from m2v_infer import embed_dataset

    corpus = _corpus(scale)
    start = time.perf_counter()
    ray.init(
        num_cpus=CLUSTER_CPUS,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )
    result: dict[str, Any] = {"texts": len(corpus), "init": time.perf_counter() - start}
    blocks = [
        pa.table({"text": corpus[i : i + BLOCK_ROWS]}) for i in range(0, len(corpus), BLOCK_ROWS)
    ]
    source = ray.data.from_arrow(blocks)
    with ActorMemory() as memory:
        for name in ("first", "warm"):
            ds = embed_dataset(
                source, _potion(), concurrency=CLUSTER_CPUS, num_cpus=1, batch_size=BATCH_SIZE
            )
            ds.context.enable_progress_bars = False
            start = time.perf_counter()
            rows, first_block = 0, None
            for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                if first_block is None:
                    first_block, first_rows = time.perf_counter(), block.num_rows
                rows += block.num_rows
            end = time.perf_counter()
            assert rows == len(corpus), rows
            result[name] = end - start
            if first_block is not None and end > first_block:
                result[f"{name}_steady"] = (rows - first_rows) / (end - first_block)
    ray.shutdown()
    result["rss_mb"] = _hwm_mb()
    result["actor_rss_mb"] = max(memory.peak.values(), default=0.0)
    return result


CONFIGS: list[tuple[str, str]] = [
    ("in-process-1", "in-process encode, num_threads=1"),
    ("in-process", "in-process encode, default threads (2)"),
    ("ray", "Ray Data, 2 actors x 1 CPU (local 2-CPU cluster)"),
]


def run_child(config: str, scale: int) -> dict[str, Any]:
    """Run this script as ``--child CONFIG SCALE`` in a fresh interpreter; return its JSON."""
    command = [sys.executable, __file__, "--child", config, str(scale)]
    try:
        out = subprocess.check_output(command, text=True, stderr=subprocess.PIPE)
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"{config} x{scale} failed:\n{error.stderr[-4000:]}") from None
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _rate(texts: int, seconds: float) -> str:
    return f"{seconds:.2f} s ({texts / seconds / 1000:.1f}k/s)"


def main(argv: list[str] | None = None) -> int:
    """Run every configuration at every scale and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=int, nargs="*", default=[1, 8], help="corpus repeats")
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "SCALE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        config, scale = args.child[0], int(args.child[1])
        child = child_ray if config == "ray" else child_in_process
        print(json.dumps(child(config, scale)))
        return 0

    load_before = os.getloadavg()
    rows = []
    for scale in args.scales:
        results = {config: run_child(config, scale) for config, _ in CONFIGS}
        print(f"  x{scale}: {json.dumps(results)}", file=sys.stderr)
        base = results["in-process"]
        for config, label in CONFIGS:
            result = results[config]
            texts = result["texts"]
            steady = result.get("warm_steady")
            memory = f"{result['rss_mb']:.0f} MiB"
            if "actor_rss_mb" in result:
                memory += f" driver, {result['actor_rss_mb']:.0f} MiB per actor"
            rows.append(
                [
                    f"{label}"
                    + (f" (cluster start {result['init']:.1f} s)" if "init" in result else ""),
                    f"{texts:,}",
                    _rate(texts, result["first"]),
                    _rate(texts, result["warm"]),
                    f"{steady / 1000:.1f}k/s ({steady * base['warm'] / texts:.2f}x)"
                    if steady
                    else "",
                    f"{base['first'] / result['first']:.2f}x / {base['warm'] / result['warm']:.2f}x",
                    memory,
                ]
            )
    load_after = os.getloadavg()
    header = [
        "configuration",
        "texts",
        "first pass",
        "warm pass",
        "warm, after actor start",
        "vs in-process (first / warm)",
        "peak RSS",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(
        f"\nload average {load_before[0]:.2f} before / {load_after[0]:.2f} after; "
        f"{os.cpu_count()} cores",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
