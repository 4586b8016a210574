"""Fixtures of the m2v-grpc tests: real models, a registry loaded once, in-process servers."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # keep gRPC's C-core chatter out of test output

import pytest
import pytest_asyncio

_HERE = Path(__file__).resolve().parent
_SUPPORT = _HERE.parents[2] / "tests" / "support"
for _path in (_SUPPORT, _HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from grpc import aio  # noqa: E402
from grpc_support import channel, registry_for, running_server, write_tiny_model  # noqa: E402
from m2v_grpc import EmbedServer  # noqa: E402
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2_grpc  # noqa: E402
from m2v_grpc._models import ModelRegistry  # noqa: E402
from m2v_testdata import dataset_path  # noqa: E402


@pytest.fixture(scope="session")
def potion_path() -> Path:
    """The real potion-base-8M folder (29528 x 256 float32, WordPiece, normalize true)."""
    return Path(dataset_path("potion-base-8M"))


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
