"""Helpers of the m2v-grpc tests: small real models, in-process and subprocess servers,
certificates, and stubs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from m2v_format import ModelConfig, StaticModelData, save_model
from m2v_grpc import EmbedServer, Limits, ModelSpec, ServerConfig
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_grpc._models import ModelRegistry, describe
from m2v_infer import StaticModel
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

REPO = Path(__file__).resolve().parents[3]
WORDS = [f"w{i}" for i in range(40)] + ["hello", "world", "cat", "dog"]


def write_tiny_model(
    folder: Path, *, dim: int = 12, normalize: bool = False, seed: int = 0
) -> Path:
    """Write a small real model folder with m2v_format.save_model (WordLevel, ``dim`` dims)."""
    vocab = {"[UNK]": 0, **{word: i + 1 for i, word in enumerate(WORDS)}}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    rng = np.random.default_rng(seed)
    embeddings = rng.standard_normal((len(vocab), dim)).astype(np.float32)
    data = StaticModelData(
        embeddings=embeddings,
        tokenizer=tokenizer,
        config=ModelConfig(normalize=normalize, max_length=16),
    )
    return save_model(folder, data)


class GatedModel(StaticModel):
    """The real model, but ``encode`` waits for a gate: lets a test catch the server computing."""

    gate: threading.Event
    entered: threading.Event
    calls: int

    def encode(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.calls += 1
        self.entered.set()
        self.gate.wait(20)
        return super().encode(*args, **kwargs)


def gated(path: Path) -> GatedModel:
    """Load ``path`` as a :class:`GatedModel` (gate closed)."""
    model = GatedModel.from_pretrained(path)
    assert isinstance(model, GatedModel)
    model.gate, model.entered, model.calls = threading.Event(), threading.Event(), 0
    return model


def registry_for(specs: dict[str, str | StaticModel]) -> ModelRegistry:
    """A registry of already loaded models (name -> path or model), first = default."""
    return ModelRegistry(
        describe(name, m if isinstance(m, StaticModel) else StaticModel.from_pretrained(m))
        for name, m in specs.items()
    )


def make_config(**overrides: Any) -> ServerConfig:
    """A test config on 127.0.0.1:0 (models come from a registry)."""
    limits = overrides.pop("limits", None) or Limits()
    base = ServerConfig(
        models=(ModelSpec("unused", "unused"),),
        host="127.0.0.1",
        port=0,
        limits=limits,
        workers=2,
        grace_seconds=5.0,
    )
    return replace(base, **overrides)


@contextlib.asynccontextmanager
async def running_server(registry: ModelRegistry, **overrides: Any) -> AsyncIterator[EmbedServer]:
    """An in-process server on a free port, stopped at exit."""
    if "models" not in overrides:
        overrides["models"] = tuple(ModelSpec(m.name, "in-memory") for m in registry)
    server = EmbedServer(make_config(**overrides), registry=registry)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def free_port() -> int:
    """A port free on 127.0.0.1 right now (for servers that take no port 0, e.g. /metrics)."""
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def channel(server: EmbedServer, **kwargs: Any) -> aio.Channel:
    """An insecure aio channel to ``server``."""
    return aio.insecure_channel(f"127.0.0.1:{server.port}", **kwargs)


async def health_status(chan: aio.Channel, service: str = "") -> int:
    """The health status of ``service`` as seen through ``chan``."""
    response = await health_pb2_grpc.HealthStub(chan).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )
    return int(response.status)


async def assert_serving(server: EmbedServer) -> None:
    """The server still answers health (SERVING) and a real Embed call."""
    async with channel(server) as chan:
        assert await health_status(chan) == health_pb2.HealthCheckResponse.SERVING
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        response = await stub.Embed(embed_pb2.EmbedRequest(texts=[b"hello world"]), timeout=10)
        assert response.embeddings.rows == 1


async def write_then_read(call: Any, message: Any) -> Any:
    """Write one message (a refusal may already have ended the call) and read one answer."""
    with contextlib.suppress(grpc.RpcError):
        await call.write(message)
    return await call.read()


def trailing(error: grpc.RpcError, key: str) -> str | None:
    """A trailing metadata value of a failed call."""
    for item in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        k, v = (item.key, item.value) if hasattr(item, "key") else item
        if k == key:
            return str(v)
    return None


# -- certificates ------------------------------------------------------------------------


def make_certificates(folder: Path) -> dict[str, Path]:
    """A CA, a server cert for localhost/127.0.0.1 and a client cert, via the openssl CLI."""
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=m2v-test-ca",
    )
    (folder / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    (folder / "client.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=clientAuth\n"
    )
    for name in ("server", "client"):
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={'localhost' if name == 'server' else 'm2v-test-client'}",
        )
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
        )
    return {
        name: folder / name
        for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")
    }


# -- subprocess server -------------------------------------------------------------------


class ServerProcess:
    """``python -m m2v_grpc serve ...`` in a subprocess; JSON logs parsed from stderr."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.logs: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._serving = threading.Event()
        self._listening = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "m2v_grpc", "serve", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "GRPC_VERBOSITY": "NONE", **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = 0

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.raw.append(line)
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                self.logs.append(record)
                if record.get("event") == "server.listening":
                    self.port = int(str(record["address"]).rsplit(":", 1)[1])
                    self._listening.set()
                if record.get("event") == "server.serving":
                    self._serving.set()

    def wait_serving(self, timeout: float = 60.0) -> int:
        """Block until the server logs ``server.serving``; return its port."""
        deadline = time.monotonic() + timeout
        while not self._serving.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" + "".join(self.raw))
        return self.port

    def terminate(self) -> None:
        """Send SIGTERM."""
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        """Wait for exit; return the exit code."""
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        """Kill it if still running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def events(self) -> list[str]:
        """The ``event`` names logged so far."""
        return [str(record.get("event")) for record in self.logs]

    def records(self, event: str) -> list[dict[str, Any]]:
        """The log records of ``event`` so far."""
        return [record for record in self.logs if record.get("event") == event]

    def worker_pids(self) -> list[int]:
        """Pids of the worker processes the supervisor reported (``worker.started``)."""
        return [int(record["pid"]) for record in self.records("worker.started")]

    def children(self) -> list[int]:
        """Pids of the server's child processes now (workers and multiprocessing helpers)."""
        return children_of(self.process.pid)


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name; None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def children_of(parent: int) -> list[int]:
    """Pids whose parent is ``parent`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone: it has exited)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def assert_gone(pids: list[int], timeout: float = 15.0) -> None:
    """Every process in ``pids`` exits within ``timeout`` seconds: no orphans left."""
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in pids if alive(pid)]
    assert not left, f"processes still running: {left}"


@contextlib.contextmanager
def server_process(args: list[str], env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """A subprocess server, killed at exit if still running."""
    proc = ServerProcess(args, env)
    try:
        yield proc
    finally:
        proc.kill()
