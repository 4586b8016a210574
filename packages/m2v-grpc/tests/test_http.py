"""The OpenAI-compatible HTTP endpoint (``m2v serve --http-port``).

Real servers on 127.0.0.1 port 0 with real models (potion-base-8M, the default, and the
tiny model), called with the official ``openai`` client, LangChain's ``OpenAIEmbeddings``
and raw httpx: vectors equal in-process encoding, base64 decodes to the same floats,
``dimensions`` truncates then normalises, every error has OpenAI's shape and its status,
admission (429 / 503 at once) is shared with gRPC, ``/health`` follows loading and
draining, and ``m2v serve --http-port --workers 2`` serves HTTP from both processes.
The blocking clients run in a thread (``asyncio.to_thread``) so that the in-process
server keeps its event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import secrets
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import openai
import pytest
from m2v_format import MissingDependencyError
from m2v_grpc import EmbedServer, Limits, ModelSpec, ServerStartError
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_grpc._models import ModelRegistry
from m2v_infer import StaticModel
from m2v_testkit import rotten_tomatoes_texts
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.asyncio

TOKEN = secrets.token_hex(24)
AUTH = {"authorization": f"Bearer {TOKEN}"}
GRPC_AUTH = (("authorization", f"Bearer {TOKEN}"),)
ERROR_FIELDS = {"message", "type", "param", "code"}


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Real texts: 300 Rotten Tomatoes reviews and plots, plus an empty one."""
    return [*rotten_tomatoes_texts()[:300], ""]


@pytest.fixture(scope="module")
def potion(potion_path: Path) -> StaticModel:
    """potion-base-8M loaded in this process, for the expected vectors."""
    return StaticModel.from_pretrained(potion_path)


@pytest.fixture
def http_server(registry: ModelRegistry, running_server: Any) -> Any:
    """``async with http_server(**overrides) as server``: gRPC + HTTP, tokens on."""

    @contextlib.asynccontextmanager
    async def start(
        reg: ModelRegistry | None = None, **overrides: Any
    ) -> AsyncIterator[EmbedServer]:
        overrides.setdefault("tokens", (TOKEN,))
        async with running_server(reg or registry, http_port=0, **overrides) as server:
            assert server.http_port
            yield server

    return start


def base_url(server: EmbedServer) -> str:
    """The HTTP endpoint's root URL."""
    return f"http://127.0.0.1:{server.http_port}"


def client(server: EmbedServer, api_key: str = TOKEN) -> openai.OpenAI:
    """The official client pointed at ``server`` (no retries: errors show at once)."""
    return openai.OpenAI(
        base_url=f"{base_url(server)}/v1", api_key=api_key, max_retries=0, timeout=20
    )


def vectors(response: Any) -> np.ndarray:
    """The rows of an openai ``CreateEmbeddingResponse``, in input order."""
    assert [item.index for item in response.data] == list(range(len(response.data)))
    return np.array([item.embedding for item in response.data], dtype=np.float64)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of an error response, checked to have OpenAI's shape."""
    body = response.json()
    assert set(body) >= {"error"}, body
    assert set(body["error"]) == ERROR_FIELDS, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    return dict(body["error"])


# -- vectors -----------------------------------------------------------------------------


async def test_openai_client_vectors_equal_in_process_encoding(
    http_server: Any, potion: StaticModel, texts: list[str]
) -> None:
    expected = potion.encode(texts)
    async with http_server() as server:
        api = client(server)
        floats = await asyncio.to_thread(
            api.embeddings.create, input=texts, model="potion", encoding_format="float"
        )
        # Without encoding_format the SDK asks for base64 (numpy is installed) and decodes.
        default = await asyncio.to_thread(api.embeddings.create, input=texts, model="potion")
        single = await asyncio.to_thread(api.embeddings.create, input=texts[3], model="")
    assert floats.model == default.model == single.model == "potion"
    assert floats.object == "list"
    assert floats.data[0].object == "embedding"
    pooled = sum(len(ids) for ids in potion.tokenize(texts))
    assert floats.usage.prompt_tokens == floats.usage.total_tokens == pooled
    assert default.usage.prompt_tokens == pooled
    assert single.usage.prompt_tokens == len(potion.tokenize(texts[3])[0])
    np.testing.assert_allclose(vectors(floats), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(vectors(default), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(vectors(single)[0], expected[3], rtol=0, atol=1e-6)
    assert np.all(vectors(floats)[-1] == 0)  # the empty text: the zero vector, as in-process


async def test_dimensions_truncate_then_normalize(
    http_server: Any, potion: StaticModel, tiny_path: Path, texts: list[str]
) -> None:
    tiny = StaticModel.from_pretrained(tiny_path)
    tiny_texts = ["hello world", "cat dog w3", "w1 w2 w3 w4 unknown"]
    async with http_server() as server:
        api = client(server)
        cut = await asyncio.to_thread(
            api.embeddings.create, input=texts[:50], model="potion", dimensions=64
        )
        raw = await asyncio.to_thread(
            api.embeddings.create, input=tiny_texts, model="tiny", dimensions=5
        )
    got = vectors(cut)
    assert got.shape == (50, 64)
    np.testing.assert_allclose(got, potion.encode(texts[:50], dimensions=64), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # tiny does not normalise: its first 5 dimensions, unchanged
    np.testing.assert_allclose(vectors(raw), tiny.encode(tiny_texts)[:, :5], atol=1e-6)


async def test_raw_float_and_base64_bodies_and_timing_headers(
    http_server: Any, potion: StaticModel, texts: list[str]
) -> None:
    batch = texts[:40]
    async with http_server() as server, httpx.AsyncClient(base_url=base_url(server)) as http:
        answers = {
            fmt: await http.post(
                "/v1/embeddings",
                json={"input": batch, "model": "potion", "encoding_format": fmt, "user": "u1"},
                headers=AUTH,
            )
            for fmt in ("float", "base64")
        }
    for answer in answers.values():
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        for header in ("x-queue-time", "x-compute-time", "x-total-time"):
            assert float(answer.headers[header]) >= 0.0
        assert float(answer.headers["x-total-time"]) >= float(answer.headers["x-compute-time"])
        assert int(answer.headers["x-compute-characters"]) == sum(map(len, batch))
        tokens = answer.json()["usage"]["prompt_tokens"]
        assert tokens > len(batch)
        assert int(answer.headers["x-compute-tokens"]) == tokens
    floats = np.array([row["embedding"] for row in answers["float"].json()["data"]])
    decoded = np.array(
        [
            np.frombuffer(base64.b64decode(row["embedding"]), dtype="<f4")
            for row in answers["base64"].json()["data"]
        ]
    )
    assert decoded.dtype == np.float32
    assert decoded.shape == (40, 256)
    np.testing.assert_array_equal(decoded, potion.encode(batch))  # the very float32 values
    np.testing.assert_allclose(floats, decoded, rtol=0, atol=1e-6)


# -- errors ------------------------------------------------------------------------------

BAD_BODIES: list[tuple[str, bytes | dict[str, Any], str, str | None]] = [
    ("malformed JSON", b'{"input": ["a",', "invalid-request", None),
    ("not an object", b'["a"]', "invalid-request", None),
    ("no input", {"model": "potion"}, "invalid-request", "input"),
    ("number input", {"input": 3}, "invalid-request", "input"),
    ("mixed input", {"input": ["a", 3]}, "invalid-request", "input"),
    ("token ids", {"input": [[101, 2023], [2003]]}, "invalid-request", "input"),
    ("one token list", {"input": [101, 2023]}, "invalid-request", "input"),
    ("empty list", {"input": []}, "empty-batch", "input"),
    ("too many texts", {"input": ["a"] * 9}, "too-many-items", "input"),
    ("text too long", {"input": ["ok", "é" * 40]}, "text-too-long", "input"),
    ("dimensions 0", {"input": "a", "dimensions": 0}, "invalid-dimensions", "dimensions"),
    ("dimensions too big", {"input": "a", "dimensions": 257}, "invalid-dimensions", "dimensions"),
    ("dimensions text", {"input": "a", "dimensions": "8"}, "invalid-dimensions", "dimensions"),
    ("bad format", {"input": "a", "encoding_format": "int8"}, "invalid-request", "encoding_format"),
    ("model not a string", {"input": "a", "model": 7}, "invalid-request", "model"),
]


async def test_bad_requests_get_openai_shaped_400s(http_server: Any) -> None:
    limits = Limits(max_items_per_message=8, max_text_bytes=64)
    async with (
        http_server(limits=limits) as server,
        httpx.AsyncClient(base_url=base_url(server)) as http,
    ):
        for name, body, code, param in BAD_BODIES:
            if isinstance(body, bytes):
                answer = await http.post("/v1/embeddings", content=body, headers=AUTH)
            else:
                answer = await http.post("/v1/embeddings", json=body, headers=AUTH)
            assert answer.status_code == 400, (name, answer.text)
            error = error_of(answer)
            assert (error["code"], error["param"]) == (code, param), (name, error)
            assert error["type"] == "invalid_request_error", name
            if name == "token ids":
                assert "check_embedding_ctx_length=False" in error["message"]
        # still serving after every bad request
        good = await http.post("/v1/embeddings", json={"input": "fine"}, headers=AUTH)
        assert good.status_code == 200


async def test_openai_client_raises_typed_errors(http_server: Any) -> None:
    async with http_server() as server:
        api = client(server)
        with pytest.raises(openai.BadRequestError) as bad:
            await asyncio.to_thread(api.embeddings.create, input="a", model="potion", dimensions=0)
        with pytest.raises(openai.NotFoundError) as unknown:
            await asyncio.to_thread(api.embeddings.create, input="a", model="text-embedding-3")
        denied_api = client(server, "wrong-token")
        with pytest.raises(openai.AuthenticationError) as denied:
            await asyncio.to_thread(denied_api.embeddings.create, input="a", model="potion")
    assert bad.value.status_code == 400
    assert bad.value.code == "invalid-dimensions"
    assert bad.value.param == "dimensions"
    assert bad.value.type == "invalid_request_error"
    assert isinstance(bad.value.body, dict)
    assert set(bad.value.body) == ERROR_FIELDS
    assert unknown.value.status_code == 404
    assert unknown.value.code == "model_not_found"
    assert "potion" in unknown.value.message  # names the served models
    assert denied.value.status_code == 401
    assert denied.value.code == "invalid_api_key"


async def test_tokens_are_required_except_for_health_and_metrics(http_server: Any) -> None:
    async with http_server() as server, httpx.AsyncClient(base_url=base_url(server)) as http:
        missing = await http.post("/v1/embeddings", json={"input": "a"})
        basic = await http.post(
            "/v1/embeddings", json={"input": "a"}, headers={"authorization": f"Basic {TOKEN}"}
        )
        models = await http.get("/v1/models")
        health = await http.get("/health")
        metrics = await http.get("/metrics")
    for answer in (missing, basic, models):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert error_of(answer)["code"] == "invalid_api_key"
    assert "missing" in error_of(missing)["message"]
    assert "Bearer scheme" in error_of(basic)["message"]
    assert health.status_code == 200
    assert health.json() == {"status": "serving"}
    assert metrics.status_code == 200


async def test_models_routes_and_unknown_routes(http_server: Any) -> None:
    async with http_server() as server, httpx.AsyncClient(base_url=base_url(server)) as http:
        api = client(server)
        listed = await asyncio.to_thread(api.models.list)
        tiny = await asyncio.to_thread(api.models.retrieve, "tiny")
        with pytest.raises(openai.NotFoundError) as unknown:
            await asyncio.to_thread(api.models.retrieve, "nope")
        no_route = await http.get("/v1/nothing", headers=AUTH)
        wrong_method = await http.get("/v1/embeddings", headers=AUTH)
    assert [model.id for model in listed.data] == ["potion", "tiny"]
    assert all(model.object == "model" and model.owned_by == "m2v" for model in listed.data)
    assert tiny.id == "tiny"
    assert tiny.model_extra == {
        "dims": 12,
        "dtype": "float32",
        "default": False,
    }
    assert unknown.value.code == "model_not_found"
    assert no_route.status_code == 404
    assert error_of(no_route)["code"] is None
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert error_of(wrong_method)["type"] == "invalid_request_error"


async def test_body_over_max_message_bytes_is_413(http_server: Any) -> None:
    limits = Limits(max_message_bytes=16 * 1024)
    big = b'{"input": ["' + b"x" * (20 * 1024) + b'"]}'

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    async with (
        http_server(limits=limits) as server,
        httpx.AsyncClient(base_url=base_url(server)) as http,
    ):
        declared = await http.post("/v1/embeddings", content=big, headers=AUTH)
        streamed = await http.post("/v1/embeddings", content=chunked(), headers=AUTH)
        fits = await http.post("/v1/embeddings", json={"input": "x" * 8000}, headers=AUTH)
    for answer in (declared, streamed):
        assert answer.status_code == 413
        error = error_of(answer)
        assert error["code"] == "message-too-large"
        assert "16384" in error["message"]
    assert fits.status_code == 200


# -- admission, health, drain ------------------------------------------------------------


async def test_overload_is_429_at_once_and_admission_is_shared_with_grpc(
    http_server: Any, potion_path: Path, gated: Any, registry_for: Any, channel: Any
) -> None:
    model = gated(potion_path)
    reg = registry_for({"potion": model})
    limits = Limits(max_concurrent_requests=1)
    async with (
        http_server(reg, limits=limits) as server,
        httpx.AsyncClient(base_url=base_url(server), timeout=20) as http,
        channel(server) as chan,
    ):
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        try:
            # 1. an HTTP request holds the only slot
            held = asyncio.create_task(
                http.post("/v1/embeddings", json={"input": "held"}, headers=AUTH)
            )
            assert await asyncio.to_thread(model.entered.wait, 10)
            started = time.perf_counter()
            refused = await http.post("/v1/embeddings", json={"input": "b"}, headers=AUTH)
            assert time.perf_counter() - started < 1.0
            assert refused.status_code == 429
            assert error_of(refused)["code"] == "overloaded"
            with pytest.raises(openai.RateLimitError):
                await asyncio.to_thread(client(server).embeddings.create, input="c", model="potion")
            with pytest.raises(grpc.aio.AioRpcError) as grpc_refused:
                await stub.Embed(embed_pb2.EmbedRequest(texts=[b"d"]), metadata=GRPC_AUTH)
            assert grpc_refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            model.gate.set()
            assert (await held).status_code == 200
            # 2. a gRPC call holds the only slot
            model.gate.clear()
            model.entered.clear()
            grpc_call = asyncio.ensure_future(
                stub.Embed(embed_pb2.EmbedRequest(texts=[b"held"]), metadata=GRPC_AUTH, timeout=20)
            )
            assert await asyncio.to_thread(model.entered.wait, 10)
            refused = await http.post("/v1/embeddings", json={"input": "e"}, headers=AUTH)
            assert refused.status_code == 429
            model.gate.set()
            assert (await grpc_call).embeddings.rows == 1
        finally:
            model.gate.set()
        assert server.admission.in_flight == 0


async def test_health_is_503_while_loading_then_200(potion_path: Path, make_config: Any) -> None:
    release = threading.Event()

    def slow_loader(path: str) -> StaticModel:
        release.wait(20)
        return StaticModel.from_pretrained(path)

    config = make_config(models=(ModelSpec("potion", str(potion_path)),), http_port=0)
    server = EmbedServer(config, loader=slow_loader)
    starting = asyncio.create_task(server.start())
    try:
        for _ in range(500):
            if server.http_port or starting.done():
                break
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=base_url(server), timeout=10) as http:
            loading = await http.get("/health")
            refused = await http.post("/v1/embeddings", json={"input": "a"})
            models = await http.get("/v1/models")
            release.set()
            await starting
            serving = await http.get("/health")
            answered = await http.post("/v1/embeddings", json={"input": "a"})
    finally:
        release.set()
        await server.stop()
    assert loading.status_code == 503
    assert loading.json()["status"] == "loading"
    assert error_of(loading)["code"] == "unavailable"
    assert refused.status_code == 503
    assert error_of(refused)["code"] == "unavailable"
    assert models.status_code == 503
    assert serving.status_code == 200
    assert answered.status_code == 200


async def test_drain_refuses_new_requests_finishes_accepted_ones_then_stops(
    http_server: Any, potion_path: Path, gated: Any, registry_for: Any
) -> None:
    model = gated(potion_path)
    async with (
        http_server(registry_for({"potion": model})) as server,
        httpx.AsyncClient(base_url=base_url(server), timeout=20) as http,
    ):
        try:
            held = asyncio.create_task(
                http.post("/v1/embeddings", json={"input": ["a", "b"]}, headers=AUTH)
            )
            assert await asyncio.to_thread(model.entered.wait, 10)
            draining = asyncio.create_task(server.drain(10))
            while not server.admission.draining:
                await asyncio.sleep(0.01)
            health = await http.get("/health")
            refused = await http.post("/v1/embeddings", json={"input": "c"}, headers=AUTH)
            model.gate.set()
            finished = await held
            assert await draining is True
        finally:
            model.gate.set()
        assert health.status_code == 503
        assert health.json()["status"] == "draining"
        assert refused.status_code == 503
        assert error_of(refused)["code"] == "unavailable"
        assert finished.status_code == 200
        assert len(finished.json()["data"]) == 2
        with pytest.raises(httpx.TransportError):  # the listener is closed
            await http.get("/health")


async def test_metrics_route_counts_http_requests(http_server: Any) -> None:
    async with http_server() as server, httpx.AsyncClient(base_url=base_url(server)) as http:
        await http.post("/v1/embeddings", json={"input": ["a", "b", "c"]}, headers=AUTH)
        await http.post("/v1/embeddings", json={"input": []}, headers=AUTH)
        answer = await http.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }
    ok = ("route", "/v1/embeddings"), ("status", "200")
    assert samples[("m2v_grpc_http_requests_total", ok)] == 1
    bad = ("route", "/v1/embeddings"), ("status", "400")
    assert samples[("m2v_grpc_http_requests_total", bad)] == 1
    items = ("method", "/v1/embeddings"), ("model", "potion")
    assert samples[("m2v_grpc_items_total", items)] == 3
    assert samples[("m2v_grpc_item_errors_total", (("code", "empty-batch"),))] == 1


async def test_port_in_use_fails_and_stops_grpc(registry: ModelRegistry, make_config: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        models = tuple(ModelSpec(m.name, "in-memory") for m in registry)
        server = EmbedServer(make_config(models=models, http_port=port), registry=registry)
        with pytest.raises(ServerStartError, match="HTTP"):
            await server.start()
        await server.stop()


# -- clients and packaging ---------------------------------------------------------------


async def test_langchain_openai_embeddings(
    http_server: Any, potion: StaticModel, texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tiktoken
    from langchain_openai import OpenAIEmbeddings

    def no_tiktoken(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("tiktoken was used (it would download its tables)")

    monkeypatch.setattr(tiktoken, "encoding_for_model", no_tiktoken)
    monkeypatch.setattr(tiktoken, "get_encoding", no_tiktoken)
    async with http_server() as server:
        embeddings = OpenAIEmbeddings(
            model="potion",
            base_url=f"{base_url(server)}/v1",
            api_key=TOKEN,  # type: ignore[arg-type]
            check_embedding_ctx_length=False,
            max_retries=0,
        )
        documents = await asyncio.to_thread(embeddings.embed_documents, texts[:100])
        query = await asyncio.to_thread(embeddings.embed_query, texts[7])
    np.testing.assert_allclose(np.array(documents), potion.encode(texts[:100]), atol=1e-6)
    np.testing.assert_allclose(np.array(query), potion.encode(texts[7]), atol=1e-6)


@contextlib.contextmanager
def _without_uvicorn(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn -> ImportError
    monkeypatch.delitem(sys.modules, "m2v_grpc._http", raising=False)
    yield


async def test_missing_extra_names_it(
    monkeypatch: pytest.MonkeyPatch, registry: ModelRegistry, make_config: Any
) -> None:
    with _without_uvicorn(monkeypatch):
        with pytest.raises(MissingDependencyError, match=r"m2v-grpc\[http\]") as missing:
            importlib.import_module("m2v_grpc._http")
        assert missing.value.code == "missing-dependency"
        models = tuple(ModelSpec(m.name, "in-memory") for m in registry)
        server = EmbedServer(make_config(models=models, http_port=0), registry=registry)
        with pytest.raises(MissingDependencyError, match="uvicorn"):
            await server.start()


async def test_m2v_serve_http_port_with_two_workers(
    potion_path: Path, potion: StaticModel, server_process: Any
) -> None:
    args = ["--model", f"potion={potion_path}", "--port", "0", "--http-port", "0"]
    with server_process([*args, "--workers", "2", "--grace", "5"]) as proc:
        proc.wait_serving(60)
        http_port = int(proc.records("server.serving")[0]["http_port"])
        url = f"http://127.0.0.1:{http_port}"
        listening = proc.records("worker.http_listening")
        assert len({record["pid"] for record in listening}) == 2
        assert all(record["address"].endswith(f":{http_port}") for record in listening)
        for n in range(24):  # a new connection each: the kernel spreads them over both
            answer = httpx.post(f"{url}/v1/embeddings", json={"input": [f"text {n}"]}, timeout=20)
            assert answer.status_code == 200
        np.testing.assert_allclose(
            answer.json()["data"][0]["embedding"], potion.encode("text 23"), atol=1e-6
        )
        scrape = httpx.get(f"{url}/metrics", timeout=20).text
        per_worker = {
            sample.labels["worker"]: sample.value
            for family in text_string_to_metric_families(scrape)
            for sample in family.samples
            if sample.name == "m2v_grpc_worker_requests_total"
        }
        assert set(per_worker) == {"0", "1"}
        assert all(v > 0 for v in per_worker.values())
        assert sum(per_worker.values()) == 24  # every worker's count, summed (multiprocess)
        proc.terminate()
        assert proc.wait(30) == 0
