"""The deployment examples say what the server does: the Kubernetes manifest sends tokens
only over TLS and probes a plaintext health-only port; the Containerfile's HEALTHCHECK
command works against a real server."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from m2v_grpc._cli import add_arguments

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _documents() -> list[dict[str, Any]]:
    text = (DEPLOY / "kubernetes" / "m2v-grpc.yaml").read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _container() -> dict[str, Any]:
    (deployment,) = [d for d in _documents() if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _parse(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(args)


def test_manifest_sends_tokens_only_over_tls_and_probes_the_health_port() -> None:
    container = _container()
    args = _parse(container["args"])
    assert args.auth_token_file is not None
    assert args.tls_cert is not None
    assert args.tls_key is not None
    assert args.health_port not in (None, args.port)
    assert args.http_port is None  # the example serves gRPC only
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["grpc"] == args.port
    assert ports["health"] == args.health_port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == args.health_port, probe
    # The certificate and token files the arguments name are mounted from Secrets.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert str(args.tls_cert).startswith(mounts["tls"])
    assert str(args.auth_token_file).startswith(mounts["tokens"])
    # No Secret with a literal token ships in the example.
    kinds = [d["kind"] for d in _documents()]
    assert "Secret" not in kinds
    # Services do not declare cleartext HTTP/2 for the TLS port; the Gateway originates TLS.
    for service in (d for d in _documents() if d["kind"] == "Service"):
        for port in service["spec"]["ports"]:
            assert port.get("appProtocol") != "kubernetes.io/h2c", port
    (policy,) = [d for d in _documents() if d["kind"] == "BackendTLSPolicy"]
    assert policy["spec"]["targetRefs"][0]["name"] == "m2v-grpc"


def _containerfile_command() -> tuple[list[str], list[str]]:
    """The HEALTHCHECK command and the default CMD of the Containerfile."""
    text = (DEPLOY / "Containerfile").read_text().replace("\\\n", " ")
    healthcheck = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])", text, flags=re.MULTILINE)
    cmd = re.search(r"^CMD (\[.*?\])", text, flags=re.MULTILINE)
    assert healthcheck is not None, "the Containerfile has no HEALTHCHECK"
    assert cmd is not None
    return json.loads(healthcheck.group(1)), json.loads(cmd.group(1))


def test_containerfile_healthcheck_asks_the_health_port_of_its_command() -> None:
    check, cmd = _containerfile_command()
    assert check[:4] == ["python", "-m", "m2v_grpc", "health"]
    address = check[check.index("--address") + 1]
    args = _parse(cmd)
    assert address == f"127.0.0.1:{args.health_port}"
    assert str(args.health_port) in (DEPLOY / "Containerfile").read_text().split("EXPOSE")[1]


def _run_check(address: str, *extra: str) -> subprocess.CompletedProcess[str]:
    check, _cmd = _containerfile_command()
    command = [sys.executable, *check[1:]]
    command[command.index("--address") + 1] = address
    return subprocess.run([*command, *extra], capture_output=True, text=True, timeout=30)


@pytest.mark.asyncio
async def test_healthcheck_command_reports_serving_unknown_and_unreachable(
    registry, running_server
) -> None:
    async with running_server(registry, health_port=0) as server:
        address = f"127.0.0.1:{server.health_port}"
        ok = await asyncio.to_thread(_run_check, address)
        assert ok.returncode == 0, ok.stderr
        assert "SERVING" in ok.stdout
        unknown = await asyncio.to_thread(_run_check, address, "--service", "no.Such")
        assert unknown.returncode == 1
        assert "SERVICE_UNKNOWN" in unknown.stderr
        await server.health.enter_graceful_shutdown()  # what a drain does first
        draining = await asyncio.to_thread(_run_check, address)
        assert draining.returncode == 1
        assert "NOT_SERVING" in draining.stdout
    gone = await asyncio.to_thread(_run_check, address, "--timeout", "1")
    assert gone.returncode == 2
    assert "unreachable" in gone.stderr
