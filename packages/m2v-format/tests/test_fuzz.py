"""Corrupted real files: every outcome is a model or a FormatError, never a crash or a hang.

Two sources: a small vocabulary-quantized model written by our writer, and a copy of
potion-base-8M (config.json, tokenizer.json and the safetensors header region; its 30 MB
data section is reused untouched).  Mutations: bit flips, truncation, byte insertion and
structured JSON edits (also of the safetensors header).  For each corrupted folder
``load_model`` and ``validate_model`` must agree: a load error's rule is among the
validator's violations, and a clean report means the load succeeds.
"""

from __future__ import annotations

import json
import signal
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pytest
from m2v_format import (
    FormatError,
    ValidationReport,
    load_model,
    reference_encode,
    save_model,
    validate_model,
)
from m2v_testkit import tiny_model

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

FILES = ("config.json", "tokenizer.json", "model.safetensors", "modules.json")
TEXTS = ["the cat sat on the mat", "Hello, world! Unknown ☃ words.", ""]


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"took longer than {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def _edit_json(document: Any, draw: Callable[[Any], Any]) -> Any:
    """Walk a random path into the document and delete, replace or add something there."""
    if not isinstance(document, (dict, list)) or not document or draw(st.integers(0, 3)) == 0:
        return draw(JSON_VALUES)
    if isinstance(document, dict):
        keys = list(document)
        key = keys[draw(st.integers(0, len(keys) - 1))]
        action = draw(st.sampled_from(["delete", "recurse", "recurse", "add"]))
        if action == "delete":
            del document[key]
        elif action == "add":
            document[draw(st.text(max_size=12))] = draw(JSON_VALUES)
        else:
            document[key] = _edit_json(document[key], draw)
        return document
    index = draw(st.integers(0, len(document) - 1))
    if draw(st.booleans()):
        document[index] = _edit_json(document[index], draw)
    else:
        del document[index]
    return document


def _mutate(data: bytes, draw: Callable[[Any], Any], *, region: int | None = None) -> bytes:
    """Bit flips, truncation, insertion or (for JSON) a structured edit."""
    limit = len(data) if region is None else min(region, len(data))
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "json"]))
    if kind == "flip" and limit:
        mutable = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            position = draw(st.integers(0, limit - 1))
            mutable[position] ^= 1 << draw(st.integers(0, 7))
        return bytes(mutable)
    if kind == "truncate":
        return data[: draw(st.integers(0, max(limit - 1, 0)))]
    if kind == "insert":
        position = draw(st.integers(0, limit))
        return data[:position] + draw(st.binary(min_size=1, max_size=8)) + data[position:]
    if data.startswith(b"{") or data.startswith(b"["):
        document = json.loads(data)
        return json.dumps(_edit_json(document, draw)).encode()
    # a safetensors file: edit its JSON header, keep the data section
    (size,) = struct.unpack("<Q", data[:8])
    document = json.loads(data[8 : 8 + size])
    header = json.dumps(_edit_json(document, draw)).encode()
    return struct.pack("<Q", len(header)) + header + data[8 + size :]


def _check(folder: Path) -> None:
    with _time_limit(20), np.errstate(all="ignore"):  # huge finite values may overflow
        load_error: FormatError | None = None
        try:
            model = load_model(folder)
            reference_encode(model, TEXTS)
        except FormatError as error:
            load_error = error
        report = validate_model(folder)
    if load_error is not None:
        if _refused_text_of_a_valid_tokenizer(load_error, report):
            return
        assert not report.ok, f"load failed ({load_error}) but the validator saw nothing"
        assert load_error.rule in report.rules, (load_error, report.violations)


def _refused_text_of_a_valid_tokenizer(error: FormatError, report: ValidationReport) -> bool:
    """K3: an unk_token missing from the vocabulary is valid (the validator warns), but the
    tokenizers library then refuses any text with an unknown piece, so encoding can fail."""
    warned = any(w.code == "unknown-token-missing" for w in report.warnings)
    return warned and error.code == "invalid-tokenizer" and "fails on this text" in str(error)


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = save_model(
        tmp_path_factory.mktemp("tiny") / "model", tiny_model(weights=True, clusters=5)
    )
    return {name: (folder / name).read_bytes() for name in FILES}


@pytest.fixture(scope="module")
def potion_parts(potion_path: Path) -> dict[str, bytes]:
    return {name: (potion_path / name).read_bytes() for name in FILES}


def _run(files: dict[str, bytes], name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "model"
        folder.mkdir()
        for file, content in files.items():
            (folder / file).write_bytes(data if file == name else content)
        _check(folder)


@hypothesis.settings(max_examples=250, deadline=None, database=None)
@hypothesis.given(data=st.data())
def test_corrupted_writer_output(tiny_files: dict[str, bytes], data: Any) -> None:
    name = data.draw(st.sampled_from(FILES))
    _run(tiny_files, name, _mutate(tiny_files[name], data.draw))


@hypothesis.settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[hypothesis.HealthCheck.data_too_large],
)
@hypothesis.given(data=st.data())
def test_corrupted_potion(potion_parts: dict[str, bytes], data: Any) -> None:
    name = data.draw(st.sampled_from(FILES))
    original = potion_parts[name]
    region = None
    if name == "model.safetensors":
        (size,) = struct.unpack("<Q", original[:8])
        region = 8 + size + 64  # the header and the first values
    _run(potion_parts, name, _mutate(original, data.draw, region=region))
