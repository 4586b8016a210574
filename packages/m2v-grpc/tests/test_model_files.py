"""A model file changed under a running ``m2v serve``: ignored, never fatal.

The server copies each model's tables into its own memory at start-up, so truncating,
overwriting or replacing ``model.safetensors`` afterwards changes nothing it serves; the
opt-in ``--memory-map`` keeps the old behaviour, which a truncated file kills (SIGBUS).
Every server here is a real subprocess on a private copy of potion-base-8M.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from m2v_grpc import EmbedClient, RetryPolicy, UnavailableError
from m2v_infer import StaticModel
from m2v_testkit import SMALL_TEXTS

TEXTS = [*SMALL_TEXTS, "zygote quixotic xylophone jukebox", "the end of the vocabulary ##zz"]
"""Texts whose tokens reach rows all over the table (and so pages all over the file)."""

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGBUS"), reason="POSIX only")


def _overwrite_in_place(path: Path, other: Path) -> None:
    with other.open("rb") as source, path.open("r+b") as target:  # same inode, new bytes
        target.write(source.read())
        target.truncate()


def _replace_by_rename(path: Path, other: Path) -> None:
    staged = path.with_name(path.name + ".new")
    shutil.copyfile(other, staged)
    os.replace(staged, path)


CHANGES: dict[str, Any] = {
    "truncate": lambda path, other: os.truncate(path, 0),
    "overwrite": _overwrite_in_place,
    "replace": _replace_by_rename,
}


@pytest.fixture
def model_copy(potion_path: Path, tmp_path: Path) -> Path:
    """A private copy of potion-base-8M that a test may truncate or overwrite."""
    return Path(shutil.copytree(potion_path, tmp_path / "potion"))


@pytest.fixture(scope="module")
def other_model_file() -> Path:
    """A different model's safetensors (the bundled default model: int8, 152 dims)."""
    folder = StaticModel.from_pretrained().path
    assert folder is not None
    return folder / "model.safetensors"


def _health(port: int) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
        response = health_pb2_grpc.HealthStub(chan).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    return int(response.status)


def _alarming(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("level") in ("warning", "error", "critical")]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_changed_model_file_is_ignored(
    model_copy: Path, other_model_file: Path, potion_path: Path, server_process, workers: str
) -> None:
    """Truncated, overwritten in place, replaced by a rename: same vectors, same info."""
    expected = StaticModel.from_pretrained(potion_path).encode(TEXTS)
    args = ["--model", f"potion={model_copy}", "--port", "0", "--workers", workers]
    with server_process(args) as proc:
        port = proc.wait_serving()
        loaded = proc.records("worker.serving") or proc.records("server.serving")
        assert len(loaded) == int(workers)
        assert all(record["memory_map"] is False for record in loaded)
        weights = model_copy / "model.safetensors"
        with EmbedClient(f"127.0.0.1:{port}", timeout=10) as client:
            before = client.embed(TEXTS)
            assert np.array_equal(before, expected)
            for name, change in CHANGES.items():
                change(weights, other_model_file)
                for _ in range(3):  # several calls: with --workers 2, both workers answer
                    assert np.array_equal(client.embed(TEXTS), before), name
                assert proc.process.poll() is None, name
            info = client.info(refresh=True)
        assert [(m.name, m.dims) for m in info.models] == [("potion", 256)]
        assert _health(port) == health_pb2.HealthCheckResponse.SERVING
        assert weights.stat().st_size == other_model_file.stat().st_size  # really replaced
        proc.terminate()
        assert proc.wait(30) == 0
    assert _alarming(proc.logs) == []
    assert all(line.startswith("{") for line in proc.raw), proc.raw  # JSON lines only


def test_memory_mapped_server_dies_of_a_truncated_file(model_copy: Path, server_process) -> None:
    """The opt-in ``--memory-map`` is the old behaviour: SIGBUS, and the client sees
    UNAVAILABLE (why the copy is the default)."""
    args = ["--model", f"potion={model_copy}", "--port", "0", "--memory-map"]
    with server_process(args) as proc:
        port = proc.wait_serving()
        assert proc.records("server.serving")[0]["memory_map"] is True
        retry = RetryPolicy(max_attempts=1)
        with EmbedClient(f"127.0.0.1:{port}", timeout=10, retry=retry) as client:
            client.embed(TEXTS)
            os.truncate(model_copy / "model.safetensors", 0)
            with pytest.raises(UnavailableError):
                client.embed(TEXTS)
        assert proc.wait(10) == -signal.SIGBUS
