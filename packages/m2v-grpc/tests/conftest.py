"""Fixtures of the m2v-grpc tests: real models, a registry loaded once, in-process and
subprocess servers, certificates, and the helpers the tests call.

Test modules cannot import a helper module next to them (pytest's importlib mode, no
``sys.path`` edits), so every helper is defined here and handed to tests as a session
fixture of the same name: a test asks for ``running_server`` and calls it as before.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # keep gRPC's C-core chatter out of test output

import grpc
import pytest
import pytest_asyncio
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from m2v_format import ModelConfig
from m2v_grpc import EmbedServer, Limits, ModelSpec, ServerConfig
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_grpc._models import ModelRegistry, describe
from m2v_infer import StaticModel
from m2v_testkit import ServeProcess, require_testdata, save_tiny_model, wordlevel_tokenizer

TINY_VOCABULARY = ["[UNK]", *(f"w{i}" for i in range(40)), "hello", "world", "cat", "dog"]
"""The tiny model's words: [UNK] = 0, w0 ... w39, hello, world, cat, dog."""


def write_tiny_model(
    folder: Path, *, dim: int = 12, normalize: bool = False, seed: int = 0
) -> Path:
    """Write a small real model folder with m2v_format.save_model (WordLevel, ``dim`` dims)."""
    tokenizer = wordlevel_tokenizer(TINY_VOCABULARY)
    config = ModelConfig(max_length=16)
    return save_tiny_model(
        folder, tokenizer, dim=dim, seed=seed, normalize=normalize, config=config
    )


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

    def encode_with_token_count(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.calls += 1
        self.entered.set()
        self.gate.wait(20)
        return super().encode_with_token_count(*args, **kwargs)


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


ServerProcess = ServeProcess
"""``python -m m2v_grpc serve ...`` in a subprocess (``m2v_testkit.ServeProcess``)."""


@contextlib.contextmanager
def server_process(args: list[str], env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """A subprocess server, killed at exit if still running."""
    proc = ServerProcess(args, env)
    try:
        yield proc
    finally:
        proc.kill()


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def potion_path() -> Path:
    """The real potion-base-8M folder (29528 x 256 float32, WordPiece, normalize true)."""
    return require_testdata("potion-base-8M")


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model written with m2v_format.save_model: 12 dims, normalize false."""
    return write_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def registry(potion_path: Path, tiny_path: Path) -> ModelRegistry:
    """potion (default) and tiny, loaded once for the whole session (models are thread-safe)."""
    return registry_for({"potion": str(potion_path), "tiny": str(tiny_path)})


@pytest_asyncio.fixture
async def server(registry: ModelRegistry) -> AsyncIterator[EmbedServer]:
    """A default in-process server on 127.0.0.1:0."""
    async with running_server(registry) as running:
        yield running


@pytest_asyncio.fixture
async def chan(server: EmbedServer) -> AsyncIterator[aio.Channel]:
    """An aio channel to :func:`server`."""
    async with channel(server) as opened:
        yield opened


@pytest.fixture
def stub(chan: aio.Channel) -> embed_pb2_grpc.EmbedServiceStub:
    """An EmbedService stub on :func:`chan`."""
    return embed_pb2_grpc.EmbedServiceStub(chan)


def _as_fixture(helper: Callable[..., Any]) -> Any:
    """A session fixture named like ``helper`` that hands the helper itself to tests."""

    def fixture() -> Callable[..., Any]:
        return helper

    fixture.__doc__ = helper.__doc__
    return pytest.fixture(scope="session", name=helper.__name__)(fixture)


HELPERS = (
    channel,
    health_status,
    registry_for,
    running_server,
    make_config,
    assert_serving,
    trailing,
    gated,
    write_then_read,
    make_certificates,
    server_process,
    write_tiny_model,
)
"""The helpers tests receive as fixtures (``async with running_server(registry) ...``)."""

# pytest finds fixtures among the module's attributes, whatever their names.
globals().update({f"_{helper.__name__}_fixture": _as_fixture(helper) for helper in HELPERS})
