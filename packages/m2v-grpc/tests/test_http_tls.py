"""The HTTP endpoint over TLS with the gRPC port's certificate, and mutual TLS: tokens go
over TLS on both protocols."""

from __future__ import annotations

import asyncio
import secrets
import ssl
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from m2v_grpc import TLSConfig

pytestmark = pytest.mark.asyncio
TOKEN = secrets.token_hex(24)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory, make_certificates) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def _context(certs: dict[str, Path], *, client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs["ca.pem"]))
    if client_cert:
        context.load_cert_chain(str(certs["client.pem"]), str(certs["client.key"]))
    return context


async def test_https_with_the_grpc_certificate(
    registry, running_server, certs: dict[str, Path]
) -> None:
    tls = TLSConfig(cert=certs["server.pem"], key=certs["server.key"])
    async with running_server(registry, tls=tls, tokens=(TOKEN,), http_port=0) as server:
        url = f"https://localhost:{server.http_port}"

        def calls() -> np.ndarray:
            with httpx.Client(verify=_context(certs, client_cert=False), timeout=10) as http:
                api = openai.OpenAI(
                    base_url=f"{url}/v1", api_key=TOKEN, http_client=http, max_retries=0
                )
                response = api.embeddings.create(input=["secure hello"], model="potion")
                assert http.get(f"{url}/health").status_code == 200
            # Plain HTTP to the TLS port gets no answer from the application.
            with httpx.Client(timeout=5) as plain, pytest.raises(httpx.TransportError):
                plain.get(f"http://localhost:{server.http_port}/health")
            # A client that does not trust the CA refuses the server.
            with pytest.raises(httpx.ConnectError), httpx.Client(timeout=5) as untrusting:
                untrusting.get(f"{url}/health")
            return np.array([response.data[0].embedding], dtype=np.float32)

        got = await asyncio.to_thread(calls)
        expected = registry.get("potion").model.encode(["secure hello"])
        np.testing.assert_allclose(got, expected, atol=1e-6)


async def test_mutual_tls_requires_a_client_certificate(
    registry, running_server, certs: dict[str, Path]
) -> None:
    tls = TLSConfig(cert=certs["server.pem"], key=certs["server.key"], client_ca=certs["ca.pem"])
    async with running_server(registry, tls=tls, http_port=0) as server:
        url = f"https://localhost:{server.http_port}/health"

        def calls() -> int:
            with httpx.Client(verify=_context(certs, client_cert=True), timeout=10) as http:
                status = http.get(url).status_code
            with (
                httpx.Client(verify=_context(certs, client_cert=False), timeout=5) as anonymous,
                pytest.raises(httpx.TransportError),
            ):
                anonymous.get(url)
            return status

        assert await asyncio.to_thread(calls) == 200
