"""Rules S1-S3: our own header parser, the read-only mapped views and the writer."""

from __future__ import annotations

import io
import json
import mmap
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import HeaderTooLargeError, SafetensorsHeaderError, TruncatedFileError
from m2v_format._safetensors import MAX_HEADER_SIZE, MappedSafetensors, write_safetensors
from m2v_testkit import RawTensor, header_bytes, raw_safetensors, tensor_entry

ARRAYS: dict[str, np.ndarray[Any, Any]] = {
    "embeddings": np.arange(24, dtype=np.int8).reshape(6, 4),
    "weights": np.linspace(0, 1, 6, dtype=np.float32),
    "mapping": np.arange(6, dtype=np.int32),
    "wide": np.arange(3, dtype=np.float64),
    "half": np.arange(5, dtype=np.float16),
    "flag": np.array([True, False]),
}


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    return path


def _mapped_base(array: np.ndarray[Any, Any]) -> object:
    base: Any = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


def test_writer_output_reads_back(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    write_safetensors(buffer, ARRAYS, {"format": "pt"})
    path = _write(tmp_path, buffer.getvalue())
    mapped = MappedSafetensors(path)
    assert mapped.header.data_start % 8 == 0
    assert mapped.header.metadata == {"format": "pt"}
    for name, array in ARRAYS.items():
        view = mapped.view(name)
        np.testing.assert_array_equal(view, array)
        assert view.dtype == array.dtype
        assert not view.flags.writeable
        assert not view.flags.owndata
        assert isinstance(_mapped_base(view), mmap.mmap)
        assert (mapped.header.data_start + mapped.tensors[name].begin) % array.dtype.itemsize == 0


def test_writer_output_matches_safetensors_library(tmp_path: Path) -> None:
    numpy_api = pytest.importorskip("safetensors.numpy")
    buffer = io.BytesIO()
    write_safetensors(buffer, ARRAYS)
    loaded = numpy_api.load(buffer.getvalue())
    assert set(loaded) == set(ARRAYS)
    for name, array in ARRAYS.items():
        np.testing.assert_array_equal(loaded[name], array)


def test_reads_files_of_the_safetensors_library(tmp_path: Path) -> None:
    numpy_api = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "lib.safetensors"
    numpy_api.save_file(ARRAYS, str(path), metadata={"a": "b"})
    mapped = MappedSafetensors(path)
    assert mapped.header.metadata == {"a": "b"}
    for name, array in ARRAYS.items():
        np.testing.assert_array_equal(mapped.view(name), array)


def test_empty_and_zero_sized_tensors(tmp_path: Path) -> None:
    path = _write(tmp_path, raw_safetensors([RawTensor("empty", "F32", (0, 4), b"")]))
    assert MappedSafetensors(path).view("empty").shape == (0, 4)
    path = _write(tmp_path, header_bytes({}))
    assert MappedSafetensors(path).tensors == {}


def _entry(dtype: str = "F32", shape: Any = (2,), offsets: Any = (0, 8)) -> dict[str, Any]:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


@pytest.mark.parametrize(
    ("header", "data", "fragment"),
    [
        (b"not json", b"", "not UTF-8 JSON"),
        (b"\xff\xfe{}", b"", "not UTF-8 JSON"),
        (b"[1, 2]", b"", "not a JSON object"),
        (b"", b"", "not UTF-8 JSON"),
        ({"t": _entry(dtype="X9")}, bytes(8), "unknown dtype"),
        ({"t": _entry(shape=(-2,))}, bytes(8), "shape"),
        ({"t": _entry(shape=(2.0,))}, bytes(8), "shape"),
        ({"t": _entry(shape="2")}, bytes(8), "shape"),
        ({"t": _entry(offsets=(0,))}, bytes(8), "data_offsets"),
        ({"t": _entry(offsets=(True, 8))}, bytes(8), "data_offsets"),
        ({"t": _entry(offsets=(8, 0))}, bytes(8), "before begin"),
        ({"t": _entry(offsets=(0, 12))}, bytes(12), "needs 8"),
        ({"t": _entry(dtype="F4", shape=(3,), offsets=(0, 2))}, bytes(2), "whole bytes"),
        ({"t": "entry"}, b"", "not a JSON object"),
        ({"t": {**_entry(), "extra": 1}}, bytes(8), "unexpected keys"),
        ({"t": {"shape": [2], "data_offsets": [0, 8]}}, bytes(8), "dtype"),
        ({"a": _entry(), "b": _entry(offsets=(4, 12))}, bytes(12), "overlaps"),
        ({"a": _entry(), "b": _entry(offsets=(0, 8))}, bytes(8), "overlaps"),
        ({"a": _entry(offsets=(4, 12))}, bytes(12), "not covered"),
        ({"a": _entry()}, bytes(9), "trailing"),
        ({"__metadata__": {"k": 1}}, b"", "__metadata__"),
        ({"__metadata__": ["x"]}, b"", "__metadata__"),
        (b'{"t": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 0]}}', b"", "JSON"),
        (b'{"t": {}, "t": {}}', b"", "duplicate"),
    ],
)
def test_malformed_headers(tmp_path: Path, header: Any, data: bytes, fragment: str) -> None:
    if isinstance(header, dict):
        header = json.dumps(header).encode()
    path = _write(tmp_path, struct.pack("<Q", len(header)) + header + data)
    with pytest.raises(SafetensorsHeaderError, match=fragment) as caught:
        MappedSafetensors(path)
    assert caught.value.code == "invalid-safetensors"
    assert caught.value.rule == "S1"
    assert caught.value.path == path


def test_header_too_large(tmp_path: Path) -> None:
    path = _write(tmp_path, struct.pack("<Q", MAX_HEADER_SIZE + 1) + b"{}")
    with pytest.raises(HeaderTooLargeError) as caught:
        MappedSafetensors(path)
    assert (caught.value.code, caught.value.rule) == ("header-too-large", "S2")


def test_header_at_the_limit_is_only_truncated(tmp_path: Path) -> None:
    path = _write(tmp_path, struct.pack("<Q", MAX_HEADER_SIZE) + b"{}")
    with pytest.raises(TruncatedFileError):
        MappedSafetensors(path)


@pytest.mark.parametrize("keep", [0, 3, 7, 8, 12])
def test_truncated_before_header_end(tmp_path: Path, keep: int) -> None:
    full = raw_safetensors([tensor_entry("e", np.ones((2, 2), np.float32))])
    path = _write(tmp_path, full[:keep])
    with pytest.raises(TruncatedFileError) as caught:
        MappedSafetensors(path)
    assert (caught.value.code, caught.value.rule) == ("truncated-file", "S3")


def test_truncated_data(tmp_path: Path) -> None:
    full = raw_safetensors([tensor_entry("e", np.ones((4, 4), np.float32))])
    path = _write(tmp_path, full[:-1])
    with pytest.raises(TruncatedFileError, match="needs 64"):
        MappedSafetensors(path)
