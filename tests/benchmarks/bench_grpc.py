"""Benchmark the m2v-grpc service against in-process m2v_infer encoding, in the same run.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --all-packages python tests/benchmarks/bench_grpc.py [--repeats 3] [--markdown]

Model potion-base-8M; corpus Rotten Tomatoes texts + BBC News sentences, shuffled with a
fixed seed (``m2v_testkit.benchmark_corpus``, the m2v-infer benchmark's corpus).  Client and
server run on this machine, each in its own process:

- in-process baseline: ``StaticModel.encode(corpus)`` (default threads) in a fresh process,
  after a warm-up;
- streaming: ``m2v serve`` in a subprocess (default settings: 2048 texts per message, 4
  messages in flight, one process with min(4, cores) encoding threads); 1 client process
  streaming the whole corpus through ``EmbedClient.embed_stream``, and 4 client processes
  streaming a quarter each at the same time (wall time from the common start to the last
  finish).  The three run in interleaved rounds (``--repeats``); each round's ratio to its
  own baseline is computed and the median over rounds reported, so load from other
  processes affects both sides alike;
- unary latency: one client calling ``EmbedClient.embed(["<short sentence>"])`` back to back,
  p50/p99 over ``--calls`` calls after a warm-up (median over ``--repeats`` runs);
- CPU cost: texts per CPU-second, in-process versus server + clients (user + system time
  from ``/proc``), which load from other processes on a shared machine does not distort;
- server peak memory: VmHWM of the server process after all of the above;
- server processes: "gRPC, 1 server worker, 4 clients" against "gRPC, 2 server workers, 4
  clients" (``m2v serve --workers 1`` / ``--workers 2``): in each round a fresh server of
  each kind, 4 client processes streaming a quarter of the corpus each, a first pass (the
  server has seen no text of the corpus: its per-word memo is cold; the clients only
  connect first) and then a warm pass; the median over rounds of each round's ratio
  2 workers / 1 worker.  SO_REUSEPORT assigns each client's connection to a worker by a
  hash, so the split of the 4 connections over the 2 workers (from
  ``m2v_grpc_worker_requests_total``) is reported per pass.  ``--workers-only`` runs just
  this part.  The machine's load average is printed before and after: other processes
  on a shared machine lower the 2-worker figure most.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

SHORT_SENTENCE = "The movie was surprisingly good."
ENV = {**os.environ, "GRPC_VERBOSITY": "NONE"}


def _potion() -> str:
    from m2v_testkit import dataset_path

    return str(dataset_path("potion-base-8M"))


# --------------------------------------------------------------------------- children


def child_inprocess(repeats: int) -> dict[str, Any]:
    """Warm passes of in-process ``encode`` over the corpus; the best one is returned."""
    from m2v_infer import StaticModel
    from m2v_testkit import benchmark_corpus

    corpus = benchmark_corpus()
    model = StaticModel.from_pretrained(_potion())
    model.encode(corpus[:2000])
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        model.encode(corpus)
        best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
    return {"texts": len(corpus), "seconds": best[0], "cpu_seconds": best[1]}


def child_stream(
    target: str, part: int, parts: int, start_at: float, warmup: int = 4096
) -> dict[str, Any]:
    """Stream this client's share of the corpus once the common start time comes.

    Before that, connect and stream the first ``warmup`` texts of the share (0: one text
    that is not in the corpus, so that the measured pass is the server's first sight of
    the corpus).
    """
    from m2v_grpc import EmbedClient
    from m2v_testkit import benchmark_corpus

    corpus = benchmark_corpus()
    share = corpus[part::parts]
    with EmbedClient(target) as client:
        for _ in client.embed_stream(share[:warmup] or ["connect and warm up"]):
            pass
        time.sleep(max(0.0, start_at - time.time()))
        start, cpu = time.time(), time.process_time()
        count = 0
        for _ in client.embed_stream(share):
            count += 1
        end, cpu = time.time(), time.process_time() - cpu
    return {"texts": count, "start": start, "end": end, "cpu_seconds": cpu}


def child_latency(target: str, calls: int) -> dict[str, Any]:
    """Back-to-back unary calls with one short sentence."""
    from m2v_grpc import EmbedClient

    samples = []
    with EmbedClient(target) as client:
        for _ in range(200):
            client.embed([SHORT_SENTENCE])
        for _ in range(calls):
            start = time.perf_counter()
            client.embed([SHORT_SENTENCE])
            samples.append(time.perf_counter() - start)
    samples.sort()
    return {
        "calls": calls,
        "p50_ms": 1000 * samples[len(samples) // 2],
        "p99_ms": 1000 * samples[int(len(samples) * 0.99) - 1],
        "mean_ms": 1000 * statistics.fmean(samples),
    }


CHILDREN = {"inprocess": child_inprocess, "stream": child_stream, "latency": child_latency}


def run_child(kind: str, *args: Any) -> dict[str, Any]:
    """Run one child in a fresh interpreter and return its JSON result."""
    command = [sys.executable, __file__, "--child", kind, *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, env=ENV, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"child {kind} failed:\n{result.stderr}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def start_children(kind: str, argument_lists: list[list[Any]]) -> list[subprocess.Popen[str]]:
    """Start several children at once."""
    return [
        subprocess.Popen(
            [sys.executable, __file__, "--child", kind, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        for args in argument_lists
    ]


def collect(processes: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    """Wait for children started with :func:`start_children`."""
    results = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"child failed:\n{err}")
        results.append(dict(json.loads(out.strip().splitlines()[-1])))
    return results


# --------------------------------------------------------------------------- server


class Server:
    """``python -m m2v_grpc serve`` in a subprocess; ``workers``: ``--workers N`` with
    ``/metrics`` on a free port (None: neither flag, the defaults)."""

    def __init__(self, model: str, workers: int | None = None) -> None:
        from m2v_testkit import ServeProcess

        args = ["--model", f"potion={model}", "--port", "0"]
        if workers is not None:
            args += ["--workers", str(workers), "--metrics-port", "0"]
            args += ["--metrics-host", "127.0.0.1"]
        self.process = ServeProcess(args)
        serving = self.process.serving_record()
        self.port = self.process.port
        self.metrics_port: int | None = serving.get("metrics_port")
        self.pids = [self.process.pid, *self.process.worker_pids()]

    def cpu_seconds(self) -> float:
        """User + system CPU time the server's processes (workers too) have used so far."""
        from m2v_testkit import cpu_seconds

        return cpu_seconds(*self.pids)

    def worker_calls(self) -> list[float]:
        """Finished calls per worker so far (``m2v_grpc_worker_requests_total``)."""
        import urllib.request

        from prometheus_client.parser import text_string_to_metric_families

        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            text = answer.read().decode()
        calls = {
            int(sample.labels["worker"]): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "m2v_grpc_worker_requests_total"
        }
        return [calls[worker] for worker in sorted(calls)]

    def memory_mb(self) -> dict[str, float]:
        """Current and peak resident memory of the server process."""
        values = {}
        with open(f"/proc/{self.process.pid}/status") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0]) / 1024
        return values

    def stop(self) -> int:
        """SIGTERM and wait."""
        return self.process.stop()


# --------------------------------------------------------------------------- main


def machine() -> str:
    """CPU model, cores, RAM, Python and library versions (``m2v_testkit.describe_machine``)."""
    from m2v_testkit import describe_machine

    return describe_machine("grpcio", "numpy")


def streaming(server: Server, clients: int, warmup: int = 4096) -> dict[str, float]:
    """Run ``clients`` stream clients together; texts, wall seconds and CPU seconds used by
    the server and the clients."""
    target = f"127.0.0.1:{server.port}"
    start_at = time.time() + 4.0
    processes = start_children(
        "stream", [[target, part, clients, start_at, warmup] for part in range(clients)]
    )
    time.sleep(max(0.0, start_at - time.time() - 0.05))
    server_cpu = server.cpu_seconds()
    results = collect(processes)
    server_cpu = server.cpu_seconds() - server_cpu
    texts = sum(r["texts"] for r in results)
    seconds = max(r["end"] for r in results) - min(r["start"] for r in results)
    cpu = server_cpu + sum(r["cpu_seconds"] for r in results)
    return {
        "texts": texts,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "server_cpu_seconds": server_cpu,
    }


WORKER_CLIENTS = 4


def connection_split(before: list[float], after: list[float], clients: int) -> str:
    """How the clients' connections fell on the workers, e.g. ``"2+2"``, from call counts
    (every client makes the same calls, all on its one connection)."""
    calls = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(calls) or 1.0
    return "+".join(str(round(c * clients / total)) for c in sorted(calls, reverse=True))


def workers_rounds(model: str, repeats: int) -> list[dict[str, Any]]:
    """Interleaved rounds of a fresh 1-worker and a fresh 2-worker server, 4 clients each:
    first pass then warm pass; throughput, CPU cost and the connection split."""
    rounds: list[dict[str, Any]] = []
    for round_ in range(repeats):
        measured: dict[str, Any] = {}
        for workers in (1, 2):
            server = Server(model, workers=workers)
            try:
                for phase in ("first", "warm"):
                    before = server.worker_calls()
                    run = streaming(server, WORKER_CLIENTS, warmup=0)
                    key = f"w{workers}_{phase}"
                    measured[key] = run["texts"] / run["seconds"]
                    measured[f"{key}_per_cpu"] = run["texts"] / run["cpu_seconds"]
                    measured[f"{key}_server_cores"] = run["server_cpu_seconds"] / run["seconds"]
                    measured[f"{key}_client_cores"] = (
                        run["cpu_seconds"] - run["server_cpu_seconds"]
                    ) / run["seconds"]
                    measured[f"{key}_split"] = connection_split(
                        before, server.worker_calls(), WORKER_CLIENTS
                    )
            finally:
                measured[f"w{workers}_exit_code"] = server.stop()
        rounds.append(measured)
        print(
            f"workers round {round_ + 1}: 1 worker {measured['w1_first']:,.0f}/s first, "
            f"{measured['w1_warm']:,.0f}/s warm; 2 workers {measured['w2_first']:,.0f}/s "
            f"({measured['w2_first_split']}) first, {measured['w2_warm']:,.0f}/s "
            f"({measured['w2_warm_split']}) warm",
            file=sys.stderr,
        )
    return rounds


def workers_report(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds of the 1- and 2-worker figures and of each round's ratio."""
    report: dict[str, Any] = {"rounds": rounds}
    for phase in ("first", "warm"):
        for workers in (1, 2):
            key = f"w{workers}_{phase}"
            report[f"{key}_rate"] = statistics.median(r[key] for r in rounds)
            for figure in ("per_cpu", "server_cores", "client_cores"):
                values = [r[f"{key}_{figure}"] for r in rounds]
                report[f"{key}_{figure}"] = statistics.median(values)
        report[f"{phase}_ratio"] = statistics.median(
            r[f"w2_{phase}"] / r[f"w1_{phase}"] for r in rounds
        )
        report[f"{phase}_splits"] = [r[f"w2_{phase}_split"] for r in rounds]
    return report


def print_workers_table(report: dict[str, Any]) -> None:
    """The server-processes part of the markdown table."""
    print("| measurement | result (median of rounds) | target |")
    print("|---|---|---|")
    for phase, label in (("first", "first pass"), ("warm", "warm")):
        one, two = report[f"w1_{phase}_rate"], report[f"w2_{phase}_rate"]
        print(f"| gRPC, 1 server worker, 4 clients, {label} | {one:,.0f} texts/s | baseline |")
        print(
            f"| gRPC, 2 server workers, 4 clients, {label} | {two:,.0f} texts/s = "
            f"**{report[f'{phase}_ratio']:.2f}x** 1 worker (per-round ratio, median); "
            f"connections per worker: {', '.join(report[f'{phase}_splits'])} | ≥ 1.6x |"
        )
    print(
        f"| CPU cost, texts per CPU-second (server + clients), warm | "
        f"1 worker {report['w1_warm_per_cpu']:,.0f}; 2 workers {report['w2_warm_per_cpu']:,.0f}"
        " | — |"
    )
    print(
        "| cores busy during the warm pass, server / 4 clients | "
        f"1 worker {report['w1_warm_server_cores']:.2f} / {report['w1_warm_client_cores']:.2f}; "
        f"2 workers {report['w2_warm_server_cores']:.2f} / {report['w2_warm_client_cores']:.2f}"
        " | — |"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (and JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--calls", type=int, default=3000, help="unary calls for the latency")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument(
        "--workers-only", action="store_true", help="only the 1 vs 2 server workers part"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        from m2v_testkit import child_main

        return child_main(CHILDREN, args.child)

    model = _potion()
    if args.workers_only:
        return workers_main(model, args.repeats, args.markdown)
    load_before = os.getloadavg()
    server = Server(model)
    target = f"127.0.0.1:{server.port}"
    idle_memory = server.memory_mb()
    rounds: list[dict[str, float]] = []
    try:
        # Interleaved rounds (baseline, 1 client, 4 clients): each ratio compares
        # measurements taken moments apart, so load from other processes shifts both sides.
        for round_ in range(args.repeats):
            baseline = run_child("inprocess", 1)
            measured = {
                "texts": baseline["texts"],
                "inprocess": baseline["texts"] / baseline["seconds"],
                "inprocess_per_cpu": baseline["texts"] / baseline["cpu_seconds"],
            }
            for clients in (1, 4):
                run = streaming(server, clients)
                measured[f"x{clients}"] = run["texts"] / run["seconds"]
                measured[f"x{clients}_per_cpu"] = run["texts"] / run["cpu_seconds"]
            rounds.append(measured)
            print(
                f"round {round_ + 1}: in-process {measured['inprocess']:,.0f}/s, "
                f"1 client {measured['x1']:,.0f}/s, 4 clients {measured['x4']:,.0f}/s",
                file=sys.stderr,
            )
        latencies = [run_child("latency", target, args.calls) for _ in range(args.repeats)]
        memory = server.memory_mb()
    finally:
        code = server.stop()

    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    def ratio(clients: int) -> float:
        return statistics.median(r[f"x{clients}"] / r["inprocess"] for r in rounds)

    p50 = statistics.median(r["p50_ms"] for r in latencies)
    p99 = statistics.median(r["p99_ms"] for r in latencies)
    report = {
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "corpus_texts": rounds[0]["texts"],
        "rounds": rounds,
        "inprocess_rate": median("inprocess"),
        "stream_x1_rate": median("x1"),
        "stream_x1_ratio": ratio(1),
        "stream_x4_rate": median("x4"),
        "stream_x4_ratio": ratio(4),
        "inprocess_texts_per_cpu_second": median("inprocess_per_cpu"),
        "stream_x1_texts_per_cpu_second": median("x1_per_cpu"),
        "stream_x4_texts_per_cpu_second": median("x4_per_cpu"),
        "unary_p50_ms": p50,
        "unary_p99_ms": p99,
        "server_rss_idle_mb": idle_memory.get("VmRSS"),
        "server_peak_rss_mb": memory.get("VmHWM"),
        "server_exit_code": code,
    }
    print(json.dumps(report, indent=2))
    if args.markdown:
        load = "/".join(f"{x:.1f}" for x in load_before)
        print(f"\nMachine: {report['machine']}; load average before the run {load}\n")
        print("| measurement | result (median of rounds) | target |")
        print("|---|---|---|")
        print(
            f"| in-process `StaticModel.encode`, {rounds[0]['texts']:,} texts | "
            f"{median('inprocess'):,.0f} texts/s | baseline |"
        )
        for clients in (1, 4):
            plural = "s" if clients > 1 else ""
            print(
                f"| streaming, {clients} client{plural} | {median(f'x{clients}'):,.0f} texts/s = "
                f"**{ratio(clients):.2f}x** in-process | ≥ 0.6x |"
            )
        per_cpu = median("inprocess_per_cpu")
        print(
            f"| CPU cost, texts per CPU-second (server + clients) | in-process {per_cpu:,.0f}; "
            f"1 client {median('x1_per_cpu'):,.0f} = **{median('x1_per_cpu') / per_cpu:.2f}x**; "
            f"4 clients {median('x4_per_cpu'):,.0f} = **{median('x4_per_cpu') / per_cpu:.2f}x** | — |"
        )
        print(
            f"| unary, 1 short sentence, p50 / p99 | **{p50:.2f} ms** / {p99:.2f} ms | p50 ≤ 1 ms |"
        )
        print(
            f"| server peak RSS (VmHWM) | {memory.get('VmHWM', 0):.0f} MiB "
            f"(idle after load: {idle_memory.get('VmRSS', 0):.0f} MiB) | — |"
        )
    return workers_main(model, args.repeats, args.markdown)


def workers_main(model: str, repeats: int, markdown: bool) -> int:
    """The 1 vs 2 server workers part: run, print JSON (and a markdown table)."""
    load_before = os.getloadavg()
    report = workers_report(workers_rounds(model, repeats))
    report["load_average_before"] = load_before
    report["load_average_after"] = os.getloadavg()
    report["cores"] = len(os.sched_getaffinity(0))
    print(json.dumps({"server_workers": report}, indent=2))
    if markdown:
        before = "/".join(f"{x:.1f}" for x in load_before)
        after = "/".join(f"{x:.1f}" for x in report["load_average_after"])
        print(
            f"\nServer processes, {report['cores']} cores; load average before {before}, "
            f"after {after}\n"
        )
        print_workers_table(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
