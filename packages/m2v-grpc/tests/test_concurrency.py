"""Many clients at once: unary and streaming, sync and asyncio, every answer right."""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest
from m2v_grpc import AsyncEmbedClient, EmbedClient

pytestmark = pytest.mark.asyncio

WORDS = [
    "film",
    "market",
    "shares",
    "rose",
    "gorgeous",
    "witty",
    "plot",
    "actor",
    "league",
    "minister",
    "bank",
    "game",
    "goal",
    "music",
    "election",
    "growth",
    "phone",
    "record",
    "season",
    "winter",
    "story",
]


def corpus(seed: int, size: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(1, 30))) for _ in range(size)]


async def test_sixteen_clients_mixing_unary_and_streams(
    registry, assert_serving, running_server
) -> None:
    model = registry.get("potion").model
    tiny = registry.get("tiny").model
    async with running_server(registry) as server:
        target = f"127.0.0.1:{server.port}"

        async def async_unary(seed: int) -> None:
            async with AsyncEmbedClient(target) as client:
                for round_ in range(6):
                    texts = corpus(
                        seed * 100 + round_, random.Random(seed + round_).randint(1, 300)
                    )
                    got = await client.embed(texts)
                    np.testing.assert_allclose(got, model.encode(texts), atol=1e-6)

        async def async_stream(seed: int) -> None:
            texts = corpus(seed, 1500)
            async with AsyncEmbedClient(target) as client:
                got = [v async for v in client.embed_stream(texts, batch_size=97, model="tiny")]
            np.testing.assert_allclose(np.stack(got), tiny.encode(texts), atol=1e-6)

        def sync_mixed(seed: int) -> None:
            texts = corpus(seed, 1200)
            with EmbedClient(target) as client:
                np.testing.assert_allclose(
                    client.embed(texts[:50], dimensions=64),
                    model.encode(texts[:50], dimensions=64),
                    atol=1e-6,
                )
                got = np.stack(list(client.embed_stream(iter(texts), batch_size=128)))
                np.testing.assert_allclose(got, model.encode(texts), atol=1e-6)

        jobs = [async_unary(s) for s in range(6)]
        jobs += [async_stream(s) for s in range(6, 12)]
        jobs += [asyncio.to_thread(sync_mixed, s) for s in range(12, 18)]
        assert len(jobs) >= 16
        await asyncio.wait_for(asyncio.gather(*jobs), timeout=90)
        assert server.admission.in_flight == 0
        await assert_serving(server)
