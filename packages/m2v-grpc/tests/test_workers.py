"""``m2v serve --workers N``: several server processes on one port.

Real servers in subprocesses on 127.0.0.1 port 0: both workers serve (connections spread
over them), one ``/metrics`` scrape sums them, a taken port still fails, a worker that
dies or cannot start stops the whole server, and no process outlives the supervisor.
(The SIGTERM accounting test with two workers is in ``test_lifecycle.py``.)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import grpc
import pytest
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_testkit import assert_gone, free_port
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.asyncio
CALLS = 40


def serve_command(*args: str) -> list[str]:
    """``python -m m2v_grpc serve ARGS`` as an argument list."""
    return [sys.executable, "-m", "m2v_grpc", "serve", *args]


def short_connections(target: str, calls: int) -> None:
    """``calls`` Embed calls of 3 texts, each on a new connection (SO_REUSEPORT balances
    connections, so they land on either worker)."""
    for n in range(calls):
        with grpc.insecure_channel(target) as chan:
            stub = embed_pb2_grpc.EmbedServiceStub(chan)
            response = stub.Embed(
                embed_pb2.EmbedRequest(texts=[f"call {n}".encode(), b"b", b"c"]), timeout=20
            )
            assert response.embeddings.rows == 3


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` as {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_two_workers_serve_and_one_scrape_adds_them_up(
    potion_path: Path, server_process
) -> None:
    metrics_port = free_port()
    args = ["--model", f"potion={potion_path}", "--port", "0", "--workers", "2"]
    args += ["--metrics-port", str(metrics_port), "--metrics-host", "127.0.0.1"]
    with server_process(args) as proc:
        port = await asyncio.to_thread(proc.wait_serving)
        children = proc.children()
        pids = proc.worker_pids()
        assert len(set(pids)) == 2
        assert set(pids) <= set(children)
        serving = proc.records("server.serving")[0]
        assert serving["workers"] == 2
        assert serving["address"] == f"127.0.0.1:{port}"
        assert sorted(r["pid"] for r in proc.records("worker.serving")) == sorted(pids)

        # The port is taken: another server fails at once, with --workers too.
        for extra in ([], ["--workers", "2"]):
            taken = await asyncio.to_thread(
                subprocess.run,
                serve_command("--model", "x=/nonexistent", "--port", str(port), *extra),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert taken.returncode == 1, taken.stderr
            assert "in use" in taken.stderr

        await asyncio.to_thread(short_connections, f"127.0.0.1:{port}", CALLS)
        samples = await asyncio.to_thread(scrape, metrics_port)
        proc.terminate()
        code = await asyncio.to_thread(proc.wait, 30)
    assert code == 0, "".join(proc.raw[-20:])
    ok = (("code", "OK"), ("method", "Embed"))
    assert samples[("m2v_grpc_requests_total", ok)] == CALLS
    items = (("method", "Embed"), ("model", "potion"))
    assert samples[("m2v_grpc_items_total", items)] == 3 * CALLS
    per_worker = {
        labels[0][1]: value
        for (name, labels), value in samples.items()
        if name == "m2v_grpc_worker_requests_total"
    }
    # Both processes served: every connection went to one of them, each got some.
    assert set(per_worker) == {"0", "1"}, per_worker
    assert all(value > 0 for value in per_worker.values()), per_worker
    assert sum(per_worker.values()) == CALLS
    assert samples[("m2v_grpc_open_streams", ())] == 0  # a live gauge, summed
    exited = proc.records("worker.exited")
    assert sorted(r["exit_code"] for r in exited) == [0, 0]
    await asyncio.to_thread(assert_gone, children)


async def test_a_worker_that_dies_stops_the_whole_server(potion_path: Path, server_process) -> None:
    args = ["--model", f"potion={potion_path}", "--port", "0", "--workers", "2"]
    with server_process([*args, "--grace", "5"]) as proc:
        await asyncio.to_thread(proc.wait_serving)
        children = proc.children()
        victim, survivor = proc.worker_pids()
        os.kill(victim, signal.SIGKILL)  # a worker this test's server started
        code = await asyncio.to_thread(proc.wait, 30)
    assert code == 1, "".join(proc.raw[-20:])
    (died,) = proc.records("worker.died")
    assert died["pid"] == victim
    assert died["exit_code"] == -signal.SIGKILL
    assert died["level"] == "error"
    # The survivor was drained, not killed: it exited cleanly.
    (drained,) = proc.records("worker.stopped")
    assert drained["pid"] == survivor
    assert drained["clean"] is True
    stopped = proc.records("server.stopped")[-1]
    assert stopped["clean"] is False
    await asyncio.to_thread(assert_gone, children)


async def test_a_worker_that_cannot_start_fails_the_server(tmp_path: Path, server_process) -> None:
    missing = tmp_path / "missing"
    with server_process(["--model", f"x={missing}", "--port", "0", "--workers", "2"]) as proc:
        code = await asyncio.to_thread(proc.wait, 60)
    assert code == 1
    failed = proc.records("worker.failed")
    assert failed
    assert all(r["code"] == "model-not-found" for r in failed)
    final = proc.records("server.failed")[-1]
    assert final["code"] == "server-start-failed"
    assert "model-not-found" in final["error"]
    assert "server.serving" not in proc.events()
    await asyncio.to_thread(assert_gone, proc.worker_pids())


async def test_workers_drain_and_exit_when_the_supervisor_is_killed(
    potion_path: Path, server_process
) -> None:
    args = ["--model", f"potion={potion_path}", "--port", "0", "--workers", "2"]
    with server_process(args) as proc:
        await asyncio.to_thread(proc.wait_serving)
        children = proc.children()
        proc.process.kill()  # no chance to forward anything
        proc.process.wait(10)
        await asyncio.to_thread(assert_gone, children)
        await asyncio.to_thread(proc.wait, 10)  # stderr closes once the workers are gone
    orphaned = [json.dumps(r) for r in proc.records("worker.orphaned")]
    assert len(orphaned) == 2, orphaned
    assert [r["clean"] for r in proc.records("worker.stopped")] == [True, True]
