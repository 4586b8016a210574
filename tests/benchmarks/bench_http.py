"""Benchmark the OpenAI-compatible HTTP endpoint against gRPC on the same server, same run.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --all-packages python tests/benchmarks/bench_http.py [--repeats 3] [--markdown]

Model potion-base-8M; texts from ``m2v_testkit.benchmark_corpus`` (Rotten Tomatoes texts +
BBC News sentences, shuffled with a fixed seed).  One ``m2v serve --http-port 0`` in a
subprocess (default settings: one process, min(4, cores) encoding threads) serves both
protocols; every client is a fresh process of its own, one configuration at a time:

- HTTP ``POST /v1/embeddings`` with batches of 1, 32 and 1,024 texts, ``encoding_format``
  float and base64, sent back to back on one keep-alive connection (httpx, the transport
  of the openai SDK); the client parses each body with orjson and decodes base64 rows
  with numpy, so a response counts only once the client holds its vectors;
- the 1,024-text batches also from 4 client processes at once, each on its own connection
  (as the stream keeps 4 messages in flight), wall time from the common start to the last
  finish;
- gRPC unary ``Embed`` with the same batches (``EmbedClient.embed``);
- gRPC streaming (``EmbedClient.embed_stream``, 2,048 texts per message, 4 in flight);
- latency of one short sentence, p50 / p99 over ``--calls`` calls after a warm-up, over
  HTTP and over gRPC unary;
- the server's CPU cost of each configuration: texts per CPU-second of the server process
  (``/proc``), which the clients' share of the cores does not distort.

Every round runs each configuration once (interleaved), over the same texts; the median
over ``--repeats`` rounds is reported, and each round's ratio HTTP 1,024 / gRPC streaming
(the target: at least 0.7x).  The server's word memo is warmed before the first round by
one pass over the texts, so every configuration sees a warm server.  The machine's load
average is printed before and after.
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
BATCHES = (1, 32, 1024)
TEXTS_PER_BATCH = {1: 2000, 32: 16384, 1024: 32768}
"""Texts each throughput measurement sends, per batch size."""

PINNING: dict[str, set[int] | None] = {"server": None, "clients": None}
"""CPU sets of the server and of the clients (``--pin``); None: wherever the kernel likes."""


def _pinned(role: str) -> Any:
    """A ``preexec_fn`` moving a child onto the CPUs of ``role`` (None when not pinning)."""
    cpus = PINNING[role]
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def _texts(count: int) -> list[str]:
    from m2v_testkit import benchmark_corpus

    return benchmark_corpus()[:count]


# --------------------------------------------------------------------------- children


def child_http(
    port: int, batch: int, fmt: str, part: int = 0, parts: int = 1, start_at: float = 0.0
) -> dict[str, Any]:
    """Back-to-back ``/v1/embeddings`` requests of ``batch`` texts on one connection; with
    ``parts`` > 1, this client's share (every ``parts``-th batch), from ``start_at`` on."""
    import base64

    import httpx
    import numpy as np
    import orjson

    texts = _texts(TEXTS_PER_BATCH[batch])
    batches = [texts[i : i + batch] for i in range(0, len(texts), batch)][part::parts]
    url = f"http://127.0.0.1:{port}/v1/embeddings"

    def call(client: httpx.Client, chunk: list[str]) -> np.ndarray:
        body = orjson.dumps({"input": chunk, "model": "potion", "encoding_format": fmt})
        answer = client.post(url, content=body, headers={"content-type": "application/json"})
        answer.raise_for_status()
        data = orjson.loads(answer.content)["data"]
        if fmt == "base64":
            rows = [np.frombuffer(base64.b64decode(row["embedding"]), "<f4") for row in data]
        else:
            rows = [row["embedding"] for row in data]
        return np.asarray(rows, dtype=np.float32)

    with httpx.Client(timeout=60) as client:
        for chunk in batches[:3]:
            call(client, chunk)
        time.sleep(max(0.0, start_at - time.time()))
        start = time.time()
        count = sum(len(call(client, chunk)) for chunk in batches)
        end = time.time()
    return {"texts": count, "start": start, "end": end, "rate": count / (end - start)}


def concurrent_http(port: int, batch: int, fmt: str, clients: int) -> dict[str, Any]:
    """``clients`` HTTP client processes at once, each on its own connection, splitting
    the batches; texts per second from the common start to the last finish."""
    start_at = time.time() + 4.0
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", "http", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
            preexec_fn=_pinned("clients"),
        )
        for args in [[port, batch, fmt, part, clients, start_at] for part in range(clients)]
    ]
    results = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"child http failed:\n{err}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    texts = sum(r["texts"] for r in results)
    seconds = max(r["end"] for r in results) - min(r["start"] for r in results)
    return {"texts": texts, "seconds": seconds, "rate": texts / seconds}


def child_grpc_unary(port: int, batch: int) -> dict[str, Any]:
    """Back-to-back unary ``Embed`` calls of ``batch`` texts; texts per second."""
    from m2v_grpc import EmbedClient

    texts = _texts(TEXTS_PER_BATCH[batch])
    batches = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    with EmbedClient(f"127.0.0.1:{port}") as client:
        for chunk in batches[:3]:
            client.embed(chunk)
        start = time.perf_counter()
        count = sum(len(client.embed(chunk)) for chunk in batches)
        seconds = time.perf_counter() - start
    return {"texts": count, "seconds": seconds, "rate": count / seconds}


def child_grpc_stream(port: int) -> dict[str, Any]:
    """``embed_stream`` over the 1,024-batch texts; texts per second."""
    from m2v_grpc import EmbedClient

    texts = _texts(TEXTS_PER_BATCH[1024])
    with EmbedClient(f"127.0.0.1:{port}") as client:
        for _ in client.embed_stream(texts[:4096]):
            pass
        start = time.perf_counter()
        count = sum(1 for _ in client.embed_stream(texts))
        seconds = time.perf_counter() - start
    return {"texts": count, "seconds": seconds, "rate": count / seconds}


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples.sort()
    return {
        "p50_ms": 1000 * samples[len(samples) // 2],
        "p99_ms": 1000 * samples[int(len(samples) * 0.99) - 1],
    }


def child_latency_http(port: int, calls: int) -> dict[str, Any]:
    """One short sentence per request, back to back on one keep-alive connection."""
    import httpx

    url = f"http://127.0.0.1:{port}/v1/embeddings"
    body = json.dumps({"input": [SHORT_SENTENCE], "model": "potion"}).encode()
    headers = {"content-type": "application/json"}
    samples = []
    with httpx.Client(timeout=30) as client:
        for _ in range(200):
            client.post(url, content=body, headers=headers).raise_for_status()
        for _ in range(calls):
            start = time.perf_counter()
            client.post(url, content=body, headers=headers).raise_for_status()
            samples.append(time.perf_counter() - start)
    return _percentiles(samples)


def child_latency_grpc(port: int, calls: int) -> dict[str, Any]:
    """One short sentence per unary call, back to back."""
    from m2v_grpc import EmbedClient

    samples = []
    with EmbedClient(f"127.0.0.1:{port}") as client:
        for _ in range(200):
            client.embed([SHORT_SENTENCE])
        for _ in range(calls):
            start = time.perf_counter()
            client.embed([SHORT_SENTENCE])
            samples.append(time.perf_counter() - start)
    return _percentiles(samples)


CHILDREN = {
    "http": child_http,
    "grpc_unary": child_grpc_unary,
    "grpc_stream": child_grpc_stream,
    "latency_http": child_latency_http,
    "latency_grpc": child_latency_grpc,
}


def run_child(kind: str, *args: Any) -> dict[str, Any]:
    """Run one child in a fresh interpreter and return its JSON result."""
    command = [sys.executable, __file__, "--child", kind, *map(str, args)]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=ENV,
        check=False,
        preexec_fn=_pinned("clients"),
    )
    if result.returncode != 0:
        raise RuntimeError(f"child {kind} failed:\n{result.stderr}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- server


class Server:
    """``python -m m2v_grpc serve --port 0 --http-port 0`` in a subprocess."""

    def __init__(self, model: str) -> None:
        from m2v_testkit import ServeProcess

        self._process = ServeProcess(
            ["--model", f"potion={model}", "--port", "0", "--http-port", "0"],
            preexec_fn=_pinned("server"),
        )
        serving = self._process.serving_record()
        self.port = self._process.port
        self.http_port = int(serving["http_port"])

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        from m2v_testkit import cpu_seconds

        return cpu_seconds(self._process.pid)

    def stop(self) -> int:
        """SIGTERM and wait."""
        return self._process.stop()


# --------------------------------------------------------------------------- main

CONFIGS: list[tuple[str, str, list[Any]]] = [
    *[(f"http_{fmt}_{b}", "http", [b, fmt]) for b in BATCHES for fmt in ("float", "base64")],
    *[(f"http_{fmt}_1024_x4", "http_x4", [1024, fmt]) for fmt in ("float", "base64")],
    *[(f"grpc_unary_{b}", "grpc_unary", [b]) for b in BATCHES],
    ("grpc_stream", "grpc_stream", []),
]
"""(key, child kind, arguments after the port) of every throughput measurement."""

CLIENTS = 4
"""HTTP clients at once in the ``_x4`` configurations (the stream keeps 4 messages in flight)."""


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print JSON (and a markdown table)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds (median reported)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per latency run")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run the server on the first half of the usable CPUs and every client on the "
        "other half, so clients' decoding does not take the server's cores (needs >= 2)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            parser.error("--pin needs at least 2 usable CPUs")
        half = len(cpus) // 2
        PINNING["server"], PINNING["clients"] = set(cpus[:half]), set(cpus[half:])
    if args.child:
        from m2v_testkit import child_main

        return child_main(CHILDREN, args.child)

    from m2v_testkit import dataset_path, describe_machine

    load_before = os.getloadavg()
    server = Server(str(dataset_path("potion-base-8M")))
    rounds: list[dict[str, float]] = []
    latency: dict[str, list[dict[str, float]]] = {"http": [], "grpc": []}
    try:
        run_child("grpc_stream", server.port)  # warm the server's word memo on these texts
        for round_ in range(args.repeats):
            measured = {}
            for key, kind, extra in CONFIGS:
                cpu = server.cpu_seconds()
                if kind == "http_x4":
                    result = concurrent_http(server.http_port, *extra, CLIENTS)
                else:
                    port = server.http_port if kind == "http" else server.port
                    result = run_child(kind, port, *extra)
                measured[key] = result["rate"]
                measured[f"{key}_per_server_cpu"] = result["texts"] / (server.cpu_seconds() - cpu)
            rounds.append(measured)
            latency["http"].append(run_child("latency_http", server.http_port, args.calls))
            latency["grpc"].append(run_child("latency_grpc", server.port, args.calls))
            print(
                f"round {round_ + 1}: "
                + ", ".join(f"{key} {measured[key]:,.0f}/s" for key, _kind, _extra in CONFIGS),
                file=sys.stderr,
            )
    finally:
        code = server.stop()

    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    def ratio(key: str, base: str = "grpc_stream") -> float:
        return statistics.median(r[key] / r[base] for r in rounds)

    report: dict[str, Any] = {
        "machine": describe_machine("httpx", "starlette", "uvicorn", "orjson", "grpcio"),
        "pinning": {role: sorted(cpus) if cpus else None for role, cpus in PINNING.items()},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "rounds": rounds,
        "rates": {key: median(key) for key, _kind, _extra in CONFIGS},
        "texts_per_server_cpu_second": {
            key: median(f"{key}_per_server_cpu") for key, _kind, _extra in CONFIGS
        },
        "ratio_to_stream": {key: ratio(key) for key, _kind, _extra in CONFIGS},
        "latency": {
            proto: {p: statistics.median(r[p] for r in runs) for p in ("p50_ms", "p99_ms")}
            for proto, runs in latency.items()
        },
        "server_exit_code": code,
    }
    print(json.dumps(report, indent=2))
    if args.markdown:
        print_table(report)
    return 0


def print_table(report: dict[str, Any]) -> None:
    """The markdown table for docs/benchmarks.md."""
    before = "/".join(f"{x:.1f}" for x in report["load_average_before"])
    after = "/".join(f"{x:.1f}" for x in report["load_average_after"])
    pinning = report["pinning"]
    placement = (
        f"server on CPUs {pinning['server']}, clients on CPUs {pinning['clients']}"
        if pinning["server"]
        else "server and clients share every CPU"
    )
    print(
        f"\nMachine: {report['machine']}; {placement}; "
        f"load average before {before}, after {after}\n"
    )
    rates, ratios = report["rates"], report["ratio_to_stream"]
    print("| texts per request | HTTP float | HTTP base64 | gRPC unary |")
    print("|---|---|---|---|")
    for batch in BATCHES:
        cells = [
            f"{rates[key]:,.0f}/s ({ratios[key]:.2f}x)"
            for key in (f"http_float_{batch}", f"http_base64_{batch}", f"grpc_unary_{batch}")
        ]
        print(f"| {batch:,} | " + " | ".join(cells) + " |")
    cells = [
        f"{rates[f'http_{fmt}_1024_x4']:,.0f}/s ({ratios[f'http_{fmt}_1024_x4']:.2f}x)"
        for fmt in ("float", "base64")
    ]
    print(f"| 1,024, {CLIENTS} clients at once | " + " | ".join(cells) + " | |")
    print(f"| gRPC streaming (2,048 per message) | | | {rates['grpc_stream']:,.0f}/s (1.00x) |")
    per_cpu = report["texts_per_server_cpu_second"]
    print(
        "\nServer cost, texts per server CPU-second (load from the clients does not change it): "
        + "; ".join(
            f"{label} {per_cpu[key]:,.0f}"
            for label, key in (
                ("HTTP float 1,024", "http_float_1024"),
                ("HTTP base64 1,024", "http_base64_1024"),
                ("gRPC unary 1,024", "grpc_unary_1024"),
                ("gRPC streaming", "grpc_stream"),
            )
        )
    )
    http, grpc = report["latency"]["http"], report["latency"]["grpc"]
    print(
        f"\nOne short sentence, p50 / p99: HTTP {http['p50_ms']:.2f} / {http['p99_ms']:.2f} ms; "
        f"gRPC unary {grpc['p50_ms']:.2f} / {grpc['p99_ms']:.2f} ms"
    )


if __name__ == "__main__":
    raise SystemExit(main())
