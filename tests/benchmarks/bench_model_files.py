"""Memory and load time of a served model: copied into each process (default) or mapped.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --frozen --all-packages python tests/benchmarks/bench_model_files.py [--rounds 3]

For potion-base-8M (float32, 29,528 x 256, a 30.2 MB file) and the bundled default model
(int8, 4.5 MB file), and for ``m2v serve --workers 1`` and ``--workers 2``, with and without
``--memory-map``:

- a fresh server in a subprocess on a free port; seconds from spawn to ``server.serving``
  and the model load time each process logs (``load_seconds``);
- 20,000 texts of the benchmark corpus embedded through it (so the rows real text uses
  are resident, as in a warm server), then for every server process (the supervisor too,
  with ``--workers 2``) ``/proc/PID/status`` (VmRSS = RssAnon + RssFile + RssShmem) and
  ``/proc/PID/smaps_rollup`` (Pss: shared pages divided among the processes sharing
  them).  The sum of Pss over the processes is the server's real share of RAM;
- in-process ``StaticModel.from_pretrained(path, memory_map=...)``: median of 21 loads of
  each, alternating (the file in the page cache).

Medians over ``--rounds`` fresh servers.  The machine's load average is printed before and
after: other processes on a shared machine lengthen the times, not the memory figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

from m2v_grpc import EmbedClient
from m2v_infer import StaticModel
from m2v_testkit import ServeProcess, benchmark_corpus, describe_machine, require_testdata

TEXTS = 20_000
MIB = 2**20


def _kib_fields(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    """The ``NAME: N kB`` fields of a /proc file, in bytes."""
    values: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in names:
            values[key] = int(rest.split()[0]) * 1024
    return values


def process_memory(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon, RssFile, Pss, Private and Shared bytes of process ``pid``."""
    status = _kib_fields(Path(f"/proc/{pid}/status"), ("VmRSS", "RssAnon", "RssFile"))
    rollup = _kib_fields(
        Path(f"/proc/{pid}/smaps_rollup"),
        ("Pss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty"),
    )
    return {
        **status,
        "Pss": rollup["Pss"],
        "Private": rollup["Private_Clean"] + rollup["Private_Dirty"],
        "Shared": rollup["Shared_Clean"] + rollup["Shared_Dirty"],
    }


def measure_server(
    folder: Path, workers: int, memory_map: bool, texts: list[str]
) -> dict[str, Any]:
    """One fresh server: time to serving, load seconds, memory after embedding ``texts``."""
    args = ["--model", f"m={folder}", "--port", "0", "--workers", str(workers)]
    server = ServeProcess([*args, "--memory-map"] if memory_map else args)
    try:
        port = server.wait_serving(120)
        with EmbedClient(f"127.0.0.1:{port}", timeout=120) as client:
            for begin in range(0, len(texts), 2048):
                client.embed(texts[begin : begin + 2048])
        loaded = server.records("worker.serving") or server.records("server.serving")
        pids = [server.pid, *server.worker_pids()]
        memory = {pid: process_memory(pid) for pid in pids}
    finally:
        server.stop(30)
    total = {key: sum(m[key] for m in memory.values()) for key in next(iter(memory.values()))}
    serving_pids = pids[1:] if workers > 1 else pids
    return {
        "ready_seconds": server.ready_seconds,
        "load_seconds": max(float(r["load_seconds"]) for r in loaded),
        "per_worker_rss": statistics.mean(memory[p]["VmRSS"] for p in serving_pids),
        "per_worker_anon": statistics.mean(memory[p]["RssAnon"] for p in serving_pids),
        "per_worker_file": statistics.mean(memory[p]["RssFile"] for p in serving_pids),
        "total_rss": total["VmRSS"],
        "total_pss": total["Pss"],
    }


def load_times(folder: Path, repeats: int = 21) -> dict[bool, float]:
    """Median seconds of ``StaticModel.from_pretrained(folder, memory_map=...)`` for both
    settings, alternating, so load from other processes affects both alike."""
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(repeats):
        for memory_map in (True, False):
            started = time.perf_counter()
            StaticModel.from_pretrained(folder, memory_map=memory_map)
            times[memory_map].append(time.perf_counter() - started)
    return {memory_map: statistics.median(values) for memory_map, values in times.items()}


def main() -> None:
    """Measure every configuration and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh servers per configuration")
    options = parser.parse_args()
    default = StaticModel.from_pretrained().path
    assert default is not None
    models = {"potion-base-8M": require_testdata("potion-base-8M"), "default (int8)": default}
    texts = benchmark_corpus()[:TEXTS]
    print(describe_machine("numpy", "grpcio"))
    print(f"load average before: {os.getloadavg()}")
    print(
        "| model | file | processes | tables | in-process load | time to serving "
        "| RSS per process (anon + file) | total RSS | total PSS |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label, folder in models.items():
        size = (folder / "model.safetensors").stat().st_size / MIB
        loads = load_times(folder)
        for workers in (1, 2):
            for memory_map in (False, True):
                rounds = [
                    measure_server(folder, workers, memory_map, texts)
                    for _ in range(options.rounds)
                ]
                m = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
                load = loads[memory_map]
                print(
                    f"| {label} | {size:.1f} MiB | {workers} "
                    f"| {'mapped' if memory_map else 'copied'} | {load * 1000:.0f} ms "
                    f"| {m['ready_seconds']:.2f} s (load {m['load_seconds'] * 1000:.0f} ms) "
                    f"| {m['per_worker_rss'] / MIB:.1f} MiB ({m['per_worker_anon'] / MIB:.1f} "
                    f"+ {m['per_worker_file'] / MIB:.1f}) | {m['total_rss'] / MIB:.1f} MiB "
                    f"| {m['total_pss'] / MIB:.1f} MiB |",
                    flush=True,
                )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
