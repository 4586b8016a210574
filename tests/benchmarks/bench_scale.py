"""Benchmark m2v at scale: one process, N worker processes, model2vec's default, Ray Data,
and (through ``bench_grpc.py --workers-only``) gRPC with 1 and 2 server workers.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --all-packages python tests/benchmarks/bench_scale.py [--workers 2] [--scales 1 8] \\
        [--plot docs/images/scale.png]

Every configuration runs in its own fresh process (model2vec changes process-wide state
once it uses its workers; first passes must start cold).  Each loads the benchmark corpus
(``m2v_testkit.benchmark_corpus``: Rotten Tomatoes + BBC News sentences, 55,814 texts)
repeated ``scale`` times and potion-base-8M, then times a first and a second (warm) pass.

* ``m2v-infer, 1 process``: ``encode(num_workers=1)``.
* ``m2v-infer, N workers``: ``model.workers(N)`` started (timed apart: "start"), then two
  passes of ``pool.encode`` (the first with cold word memos in every worker).  "one call"
  is ``encode(num_workers=N)`` in a fresh process: start, encode and stop in one call, what
  a single large call costs.
* ``model2vec 0.10.0 default``: ``encode`` with its defaults (joblib processes above 10k
  inputs).
* ``Ray Data``: a local cluster of N CPUs, ``embed_dataset(concurrency=N)``; every pass is
  one Ray execution that starts its actors, so "steady" is the rate between the first and
  the last block of the warm pass (actors running).

Memory: peak RSS (``VmHWM``) of the process and of its largest worker, and PSS (the
proportional set size: shared pages such as the mapped model table divided among the
processes that map them) summed over the parent and its workers at the end of the warm
pass.
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

BATCH_SIZE = 1024
RAY_BATCH_SIZE = 4096  # rows per map_batches call: Ray's per-call overhead wants big batches
BLOCK_ROWS = 4096
GRPC_SCRIPT = Path(__file__).resolve().parent / "bench_grpc.py"


def _corpus(scale: int) -> list[str]:
    from m2v_testkit import benchmark_corpus

    return benchmark_corpus() * scale


def _potion() -> str:
    from m2v_testkit import dataset_path

    return str(dataset_path("potion-base-8M"))


def _status_mb(pid: int | str, key: str) -> float:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _pss_mb(pid: int | str) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _memory(pids: list[int]) -> dict[str, float]:
    return {
        "rss_mb": _status_mb("self", "VmHWM:"),
        "worker_rss_mb": max((_status_mb(pid, "VmHWM:") for pid in pids), default=0.0),
        "pss_mb": _pss_mb("self") + sum(_pss_mb(pid) for pid in pids),
    }


def _two_passes(encode: Any) -> dict[str, float]:
    times = []
    for _ in range(2):
        start = time.perf_counter()
        encode()
        times.append(time.perf_counter() - start)
    return {"first": times[0], "warm": times[1]}


# --------------------------------------------------------------------------- children


def child_ours(workers: int, scale: int) -> dict[str, Any]:
    """m2v-infer in one process (``workers == 1``) or on a pool of ``workers`` processes."""
    from m2v_infer import StaticModel

    corpus = _corpus(scale)
    model = StaticModel.from_pretrained(_potion())
    result: dict[str, Any] = {"texts": len(corpus)}
    if workers == 1:
        result |= _two_passes(lambda: model.encode(corpus, num_workers=1, batch_size=BATCH_SIZE))
        return result | _memory([])
    start = time.perf_counter()
    pool = model.workers(workers)
    result["start"] = time.perf_counter() - start
    with pool:
        result |= _two_passes(lambda: pool.encode(corpus, batch_size=BATCH_SIZE))
        result |= _memory(pool.pids)
    return result


def child_one_call(workers: int, scale: int) -> dict[str, Any]:
    """One ``encode(num_workers=N)`` call in a fresh process: start, encode, stop."""
    from m2v_infer import StaticModel

    corpus = _corpus(scale)
    model = StaticModel.from_pretrained(_potion())
    start = time.perf_counter()
    model.encode(corpus, num_workers=workers, batch_size=BATCH_SIZE)
    return {"texts": len(corpus), "first": time.perf_counter() - start}


def child_model2vec(workers: int, scale: int) -> dict[str, Any]:
    """model2vec 0.10.0's ``encode`` with its defaults."""
    del workers
    from model2vec import StaticModel as Model2Vec

    corpus = _corpus(scale)
    model = Model2Vec.from_pretrained(_potion())
    return {"texts": len(corpus)} | _two_passes(lambda: model.encode(corpus)) | _memory([])


class _ActorMemory:
    """Samples the peak RSS of every ``ray::MapWorker`` process while running."""

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
                    self.peak[pid] = max(self.peak.get(pid, 0.0), _status_mb(pid, "VmHWM:"))

    def __enter__(self) -> _ActorMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def child_ray(workers: int, scale: int) -> dict[str, Any]:
    """A local Ray cluster of ``workers`` CPUs; two Ray Data executions over the corpus."""
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # workers share this venv
    import logging

    import pyarrow as pa
    import ray
    from m2v_infer import embed_dataset

    corpus = _corpus(scale)
    start = time.perf_counter()
    ray.init(
        num_cpus=workers,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )
    result: dict[str, Any] = {"texts": len(corpus), "init": time.perf_counter() - start}
    blocks = [
        pa.table({"text": corpus[i : i + BLOCK_ROWS]}) for i in range(0, len(corpus), BLOCK_ROWS)
    ]
    source = ray.data.from_arrow(blocks)
    with _ActorMemory() as memory:
        for name in ("first", "warm"):
            dataset = embed_dataset(
                source, _potion(), concurrency=workers, num_cpus=1, batch_size=RAY_BATCH_SIZE
            )
            dataset.context.enable_progress_bars = False
            begin = time.perf_counter()
            rows, first_block, first_rows = 0, None, 0
            for block in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                if first_block is None:
                    first_block, first_rows = time.perf_counter(), block.num_rows
                rows += block.num_rows
            end = time.perf_counter()
            assert rows == len(corpus), rows
            result[name] = end - begin
            if first_block is not None and end > first_block:
                result[f"{name}_steady"] = (rows - first_rows) / (end - first_block)
    ray.shutdown()
    result["rss_mb"] = _status_mb("self", "VmHWM:")
    result["worker_rss_mb"] = max(memory.peak.values(), default=0.0)
    return result


CHILDREN = {
    "ours": child_ours,
    "one-call": child_one_call,
    "model2vec": child_model2vec,
    "ray": child_ray,
}


# --------------------------------------------------------------------------- parent


def run_child(kind: str, workers: int, scale: int) -> dict[str, Any]:
    """Run this script as ``--child KIND WORKERS SCALE`` in a fresh interpreter."""
    command = [sys.executable, __file__, "--child", kind, str(workers), str(scale)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} {workers} x{scale} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def machine() -> str:
    """CPU model, cores, RAM, Python, numpy (``m2v_testkit.describe_machine``)."""
    from m2v_testkit import describe_machine

    return describe_machine("numpy")


def _rate(texts: int, seconds: float) -> str:
    return f"{seconds:.2f} s ({texts / seconds / 1000:.1f}k/s)"


def _row(
    label: str, result: dict[str, Any], single: dict[str, Any], m2v: dict[str, Any]
) -> list[str]:
    texts = result["texts"]
    warm = result.get("warm")
    steady = result.get("warm_steady")
    extra = []
    if "start" in result:
        extra.append(f"start {result['start']:.2f} s")
    if "init" in result:
        extra.append(f"cluster start {result['init']:.1f} s")
    if steady:
        extra.append(f"steady {steady / 1000:.1f}k/s")
    memory = f"{result['rss_mb']:.0f} MiB" if "rss_mb" in result else ""
    if result.get("worker_rss_mb"):
        memory += f", worker {result['worker_rss_mb']:.0f} MiB"
    if result.get("pss_mb"):
        memory += f"; PSS {result['pss_mb']:.0f} MiB"
    first = result["first"]
    return [
        label,
        f"{texts:,}",
        _rate(texts, first),
        _rate(texts, warm) if warm else "",
        f"{single['first'] / first:.2f}x / " + (f"{single['warm'] / warm:.2f}x" if warm else "-"),
        f"{m2v['first'] / first:.2f}x / " + (f"{m2v['warm'] / warm:.2f}x" if warm else "-"),
        "; ".join(extra),
        memory,
    ]


def _rate_of(result: dict[str, Any], key: str) -> float:
    """Thousand texts per second of one pass (``warm_steady`` is already a rate)."""
    value = result.get(key)
    if not value:
        return 0.0
    return float(value) / 1000 if key == "warm_steady" else result["texts"] / value / 1000


def plot(measured: list[tuple[int, str, dict[str, Any]]], path: Path, subtitle: str) -> None:
    """Grouped bars: texts/s of every configuration, first and warm pass, per corpus size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = sorted({scale for scale, _, _ in measured})
    labels = list(dict.fromkeys(label for _, label, _ in measured))
    figure, axes = plt.subplots(1, len(scales), figsize=(6.5 * len(scales), 4.8), squeeze=False)
    for ax, scale in zip(axes[0], scales, strict=True):
        results = {label: result for s, label, result in measured if s == scale}
        positions = range(len(labels))
        series = (
            (-0.27, "first", "first pass"),
            (0.0, "warm", "warm pass"),
            (0.27, "warm_steady", "Ray: steady rate, actors running"),
        )
        for offset, key, name in series:
            rates = [_rate_of(results.get(label, {}), key) for label in labels]
            if not any(rates):
                continue
            bars = ax.barh([p + offset for p in positions], rates, height=0.26, label=name)
            ax.bar_label(bars, [f"{r:.0f}k" if r else "" for r in rates], padding=2, fontsize=8)
        texts = next(iter(results.values()))["texts"]
        ax.set_yticks(list(positions), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("thousand texts per second (higher is better)")
        ax.set_title(f"{texts:,} texts")
    handles, names = axes[0][-1].get_legend_handles_labels()
    figure.legend(handles, names, loc="lower center", ncol=len(names), fontsize=8)
    figure.suptitle(f"m2v at scale: potion-base-8M\n{subtitle}", fontsize=10)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    """Run every configuration and print one table (plus the gRPC table)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[len(os.sched_getaffinity(0))])
    parser.add_argument("--scales", type=int, nargs="*", default=[1, 8], help="corpus repeats")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-grpc", action="store_true")
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="PNG",
        help="also draw the throughput of every configuration (needs matplotlib, dev group)",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("KIND", "WORKERS", "SCALE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        kind, workers, scale = args.child[0], int(args.child[1]), int(args.child[2])
        print(json.dumps(CHILDREN[kind](workers, scale)))
        return 0

    print(f"machine: {machine()}", file=sys.stderr)
    load_before = os.getloadavg()
    rows: list[list[str]] = []
    notes: list[str] = []
    measured: list[tuple[int, str, dict[str, Any]]] = []  # (scale, label, result) for --plot

    def add(scale: int, label: str, result: dict[str, Any], single: Any, m2v: Any) -> None:
        rows.append(_row(label, result, single, m2v))
        measured.append((scale, label, result))

    for scale in args.scales:
        single = run_child("ours", 1, scale)
        m2v = run_child("model2vec", 0, scale)
        add(scale, "m2v-infer, 1 process", single, single, m2v)
        add(scale, "model2vec 0.10.0 default", m2v, single, m2v)
        for workers in args.workers:
            pool = run_child("ours", workers, scale)
            add(scale, f"m2v-infer, {workers} worker processes (pool)", pool, single, m2v)
            once = run_child("one-call", workers, scale)
            add(scale, f"m2v-infer, encode(num_workers={workers}), one call", once, single, m2v)
            if not args.skip_ray:
                ray = run_child("ray", workers, scale)
                add(scale, f"Ray Data, {workers} actors (local cluster)", ray, single, m2v)
                notes.append(
                    f"x{scale}, {workers} CPUs: Ray Data steady {ray['warm_steady'] / 1000:.1f}k/s "
                    f"= {ray['warm_steady'] * pool['warm'] / pool['texts']:.2f}x the worker "
                    f"pool's warm rate"
                )
            notes.append(
                f"x{scale}, {workers} workers: first pass {single['first'] / pool['first']:.2f}x "
                f"one process, {m2v['first'] / pool['first']:.2f}x model2vec's default"
            )
        print(f"  x{scale} done", file=sys.stderr)
    load_after = os.getloadavg()
    header = [
        "configuration",
        "texts",
        "first pass",
        "warm pass",
        "vs 1 process (first / warm)",
        "vs model2vec default (first / warm)",
        "start-up",
        "peak RSS; PSS",
    ]
    print(f"machine: {machine()}")
    print(f"load average (1 min) before / after: {load_before[0]:.2f} / {load_after[0]:.2f}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    for note in notes:
        print(f"- {note}")
    if args.plot is not None:
        plot(measured, args.plot, f"{machine()}; load {load_before[0]:.1f} -> {load_after[0]:.1f}")
        print(f"\nplot: {args.plot}")
    if not args.skip_grpc:
        print("\ngRPC (tests/benchmarks/bench_grpc.py --workers-only):\n", flush=True)
        subprocess.run(
            [sys.executable, str(GRPC_SCRIPT), "--workers-only", "--markdown"], check=True
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
