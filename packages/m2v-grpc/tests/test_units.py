"""Pure pieces: packed-vector codec, error mapping, config parsing, client batching, API."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import m2v_grpc
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from m2v_grpc._auth import BearerTokenInterceptor
from m2v_grpc._batching import Batcher, split_ranges
from m2v_grpc._cli import add_arguments, build_config
from m2v_grpc._codec import CodecError, pack, row_bytes, unpack
from m2v_grpc._config import ConfigError, Limits, ModelSpec, ServerConfig, read_tokens
from m2v_grpc._errors import (
    InternalServerError,
    InvalidUTF8Error,
    MessageTooLargeError,
    OverloadedError,
    ServerStartError,
    UnavailableError,
    error_from_code,
)
from m2v_grpc._ports import reserve_port

finite = st.floats(-4, 4, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(0, 5), st.integers(1, 40)), elements=finite))
def test_codec_round_trips(vectors: np.ndarray) -> None:
    rows, dims = vectors.shape
    f32 = pack(vectors, "float32")
    assert len(f32.data) == rows * row_bytes(dims, "float32")
    np.testing.assert_array_equal(unpack(rows, dims, "float32", f32.data), vectors)
    f16 = pack(vectors, "float16")
    np.testing.assert_array_equal(
        unpack(rows, dims, "float16", f16.data), vectors.astype(np.float16)
    )
    i8 = pack(vectors, "int8")
    restored = unpack(rows, dims, "int8", i8.data, i8.scales)
    peak = np.abs(vectors).max(axis=1, keepdims=True) if rows else np.zeros((0, 1))
    assert np.all(np.abs(restored - vectors) <= peak / 127 / 2 + 1e-6)
    raw = unpack(rows, dims, "int8", i8.data, i8.scales, dequantize=False)
    assert raw.dtype == np.int8
    assert raw.size == 0 or np.abs(raw).max() <= 127
    binary = pack(vectors, "binary")
    assert len(binary.data) == rows * ((dims + 7) // 8)
    bits = np.unpackbits(unpack(rows, dims, "binary", binary.data), axis=1)[:, :dims]
    np.testing.assert_array_equal(bits.astype(bool), vectors > 0)


def test_codec_wire_layout_is_little_endian_row_major() -> None:
    vectors = np.array([[1.0, -2.0], [0.5, 0.0]], dtype=np.float32)
    assert pack(vectors, "float32").data == np.array([1.0, -2.0, 0.5, 0.0], dtype="<f4").tobytes()
    assert (
        pack(np.array([[1, 0, 0, 0, 0, 0, 0, 0, 1]], dtype=np.float32), "binary").data
        == b"\x80\x80"
    )
    zero = pack(np.zeros((1, 3), dtype=np.float32), "int8")
    assert zero.scales == np.array([1.0], dtype="<f4").tobytes()


def test_codec_rejects_mismatched_sizes() -> None:
    with pytest.raises(CodecError):
        unpack(2, 4, "float32", b"\x00" * 31)
    with pytest.raises(CodecError):
        unpack(1, 4, "int8", b"\x00" * 4, b"")
    with pytest.raises(CodecError):
        pack(np.zeros(3, dtype=np.float32), "float32")


def test_error_mapping() -> None:
    error = error_from_code("invalid-utf8", "INVALID_ARGUMENT", "bad", index=3)
    assert isinstance(error, InvalidUTF8Error)
    assert (error.index, error.status, error.status_number, error.retryable) == (
        3,
        "INVALID_ARGUMENT",
        3,
        False,
    )
    assert "text 3" in str(error)
    assert isinstance(error_from_code(None, "UNAVAILABLE", "x"), UnavailableError)
    assert isinstance(error_from_code("overloaded", "RESOURCE_EXHAUSTED", "x"), OverloadedError)
    assert isinstance(error_from_code(None, "RESOURCE_EXHAUSTED", "x"), MessageTooLargeError)
    assert isinstance(error_from_code("no-such-code", "DATA_LOSS", "x"), InternalServerError)
    assert OverloadedError.retryable
    assert UnavailableError.retryable


def test_model_spec_and_config() -> None:
    assert ModelSpec.parse("potion=/models/potion") == ModelSpec("potion", "/models/potion")
    assert ModelSpec.parse("/models/potion-base-8M/") == ModelSpec(
        "potion-base-8M", "/models/potion-base-8M/"
    )
    assert ModelSpec.parse("hub=org/name") == ModelSpec("hub", "org/name")
    for bad in ("=/x", "name=", ""):
        with pytest.raises(ConfigError):
            ModelSpec.parse(bad)
    with pytest.raises(ConfigError, match="unique"):
        ServerConfig(models=(ModelSpec("a", "/x"), ModelSpec("a", "/y")))
    with pytest.raises(ConfigError):
        ServerConfig(models=())
    with pytest.raises(ConfigError):
        Limits(max_items_per_message=0)
    with pytest.raises(ConfigError):
        ServerConfig(models=(ModelSpec("a", "/x"),), tokens=("has space",))


def test_weak_and_placeholder_tokens_are_refused_at_start_up() -> None:
    strong = secrets.token_hex(16)  # 32 characters: the documented minimum
    assert ServerConfig(models=(ModelSpec("a", "/x"),), tokens=(strong,)).tokens == (strong,)
    manifest_placeholder = "replace-me-with-a-long-random-token"
    cases = {
        manifest_placeholder: "placeholder",
        "CHANGEME-" + strong: "placeholder",
        "an-example-token-that-is-long-enough-0123": "placeholder",
        strong[:31]: "31 characters",
        "ab" * 20: "2 distinct characters",
        "": "non-empty",
    }
    for token, reason in cases.items():
        with pytest.raises(ConfigError, match=reason) as caught:
            ServerConfig(models=(ModelSpec("a", "/x"),), tokens=(strong, token))
        assert "#2" in str(caught.value)
        if token:
            assert token not in str(caught.value)  # never echoed into logs


def test_the_manifest_placeholder_token_stops_m2v_serve(tmp_path: Path) -> None:
    """The example Secret's token, given to ``m2v serve`` as the manifest does: refused."""
    manifest = (
        Path(__file__).resolve().parents[1] / "deploy" / "kubernetes" / "m2v-grpc.yaml"
    ).read_text()
    placeholders = re.findall(r"^\s+(replace-me\S*)$", manifest, flags=re.MULTILINE)
    token_file = tmp_path / "tokens"
    token_file.write_text("replace-me-with-a-long-random-token\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "m2v_grpc",
            "serve",
            "--model",
            "x=/nonexistent",
            "--port",
            "0",
            f"--auth-token-file={token_file}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "looks like a placeholder" in result.stderr
    assert "replace-me-with-a-long-random-token" not in result.stderr
    assert placeholders == [], "the manifest must not ship a token that a server refuses"


def test_read_tokens(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# rotation\nold-token\n\n  new-token  \n")
    assert read_tokens(path) == ("old-token", "new-token")
    path.write_text("# nothing\n")
    with pytest.raises(ConfigError):
        read_tokens(path)
    with pytest.raises(ConfigError):
        read_tokens(tmp_path / "missing")


def test_split_ranges_respects_both_limits() -> None:
    assert split_ranges([], 4, 100) == []
    assert split_ranges([1] * 10, 4, 10_000) == [(0, 4), (4, 8), (8, 10)]
    assert split_ranges([40, 40, 40], 10, 100) == [(0, 1), (1, 2), (2, 3)]  # 40 + 16 overhead each
    assert split_ranges([500, 1], 10, 100) == [(0, 1), (1, 2)]  # an oversized item alone


def test_batcher_cuts_by_items_and_bytes_and_keeps_order() -> None:
    limits = Limits(max_items_per_message=3, max_message_bytes=1024 + 100, max_text_bytes=50)
    batcher = Batcher(limits, batch_size=None)
    source = iter(["a" * 30, "b" * 30, "c", "d", "e" * 60, 7, "f"])
    batches = []
    while (batch := batcher.next_batch(source)) is not None:
        batches.append(batch)
    assert [(b.start, b.stop) for b in batches] == [(0, 2), (2, 5), (5, 7)]
    assert [type(e).__name__ for e in batches[1].local_errors.values()] == ["TextTooLongError"]
    assert batches[1].local_errors[4].index == 4
    assert batches[2].local_errors[5].index == 5
    message = batches[1].message(
        m2v_grpc._client_core.build_options(None, None, None, "float32", None)
    )
    assert [item.id for item in message.items] == [2, 3]


def test_public_api_is_exact_and_lazy() -> None:
    assert sorted(m2v_grpc.__all__) == m2v_grpc.__all__
    for name in m2v_grpc.__all__:
        assert getattr(m2v_grpc, name) is not None
    probe = "import sys, m2v_grpc; assert 'grpc' not in sys.modules and 'numpy' not in sys.modules"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    with pytest.raises(AttributeError):
        _ = m2v_grpc.NoSuchName  # type: ignore[attr-defined]


def test_token_check_is_exact() -> None:
    interceptor = BearerTokenInterceptor(["abc"])
    assert interceptor.check((("authorization", "Bearer abc"),)) is None
    assert interceptor.check((("authorization", "Bearer  abc "),)) is None
    for header in ("Bearer ab", "Bearer abcd", "Bearer ", "abc", "Bearer ABC"):
        assert interceptor.check((("authorization", header),)) is not None, header
    assert interceptor.check(None) is not None


def test_serve_command_is_registered_and_light() -> None:
    probe = (
        "import sys, m2v_grpc._cli\n"
        "assert 'grpc' not in sys.modules and 'numpy' not in sys.modules, 'heavy import at registration'\n"
        "from m2v_format.cli import build_parser\n"
        "parser = build_parser()\n"
        "args = parser.parse_args(['serve', '--model', 'a=/x', '--model', 'b=/y', '--port', '0'])\n"
        "print(args.run.__module__, args.models)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "m2v_grpc._cli ['a=/x', 'b=/y']" in result.stdout


def test_workers_and_threads_options() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    single = build_config(parser.parse_args(["--model", "a=/x"]))
    assert single.processes == 1  # one process unless asked
    config = build_config(
        parser.parse_args(["--model", "a=/x", "--workers", "3", "--threads", "2"])
    )
    assert (config.processes, config.workers) == (3, 2)
    auto = build_config(parser.parse_args(["--model", "a=/x", "--workers", "auto"]))
    assert auto.processes == len(os.sched_getaffinity(0))
    for bad in ("0", "-1", "many"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--model", "a=/x", "--workers", bad])
    with pytest.raises(ConfigError, match="processes"):
        ServerConfig(models=(ModelSpec("a", "/x"),), processes=0)
    with pytest.raises(ConfigError, match="run_server"):  # serve() runs one process only
        asyncio.run(m2v_grpc.serve(ServerConfig(models=(ModelSpec("a", "/x"),), processes=2)))


def test_reserved_port_is_shared_only_with_reuseport_sockets() -> None:
    reservation = reserve_port("127.0.0.1", 0)
    try:
        assert reservation.port > 0
        worker = socket.socket()
        worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        worker.bind(("127.0.0.1", reservation.port))  # a worker can bind it ...
        worker.listen()
        with pytest.raises(ServerStartError, match="in use"):  # ... another server cannot
            reserve_port("127.0.0.1", reservation.port)
        worker.close()
    finally:
        reservation.close()
