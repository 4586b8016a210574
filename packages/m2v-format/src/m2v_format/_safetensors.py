"""Strict safetensors header parser, read-only tensor views, and a small writer.

Rules S1-S3 of the spec.  The header is parsed and checked here, by us, so that every way a
file can be malformed ends in a typed error.  By default the tensor data is never copied:
callers get read-only numpy views on one ``mmap`` of the file.  With ``memory_map=False``
the data section is read once into process memory and the views are on that copy, so the
arrays no longer depend on the file (a file truncated under a memory map raises SIGBUS on
the next access to a page past its new end).
"""

from __future__ import annotations

import json
import math
import mmap
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from m2v_format._errors import (
    HeaderTooLargeError,
    SafetensorsHeaderError,
    TruncatedFileError,
    UnsupportedDtypeError,
)
from m2v_format._json import reject_constant

MAX_HEADER_SIZE = 100_000_000
"""Rule S2: the largest header (in bytes) a reader accepts."""

DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}
"""Every dtype name of the safetensors format, with its size in bits (S1)."""

NUMPY_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype("?"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "F16": np.dtype("<f2"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
}
"""The dtypes numpy can view directly (little-endian, as the format stores them)."""

_NAME_OF_KIND = {
    ("b", 1): "BOOL",
    ("u", 1): "U8",
    ("i", 1): "I8",
    ("i", 2): "I16",
    ("u", 2): "U16",
    ("f", 2): "F16",
    ("i", 4): "I32",
    ("u", 4): "U32",
    ("f", 4): "F32",
    ("f", 8): "F64",
    ("i", 8): "I64",
    ("u", 8): "U64",
}


@dataclass(frozen=True)
class TensorInfo:
    """One header entry: dtype name, shape and byte range inside the data section."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class SafetensorsHeader:
    """A parsed, validated header: tensors by name, metadata, where the data section starts."""

    tensors: dict[str, TensorInfo]
    metadata: dict[str, str] | None
    data_start: int
    file_size: int


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_entry(name: str, entry: Any, path: Path) -> TensorInfo:
    def bad(what: str) -> SafetensorsHeaderError:
        return SafetensorsHeaderError(f"tensor {name!r}: {what}", path=path)

    if not isinstance(entry, dict):
        raise bad("entry is not a JSON object")
    unknown = set(entry) - {"dtype", "shape", "data_offsets"}
    if unknown:
        raise bad(f"unexpected keys {sorted(unknown)}")
    dtype = entry.get("dtype")
    shape = entry.get("shape")
    offsets = entry.get("data_offsets")
    if not isinstance(dtype, str):
        raise bad("'dtype' is missing or not a string")
    if dtype not in DTYPE_BITS:
        raise bad(f"unknown dtype name {dtype!r}")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise bad("'shape' is not a list of non-negative integers")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_int(o) and o >= 0 for o in offsets)
    ):
        raise bad("'data_offsets' is not a pair of non-negative integers")
    begin, end = offsets
    if end < begin:
        raise bad(f"data_offsets end {end} is before begin {begin}")
    bits = math.prod(shape) * DTYPE_BITS[dtype]
    if bits % 8:
        raise bad(f"{math.prod(shape)} elements of {dtype} do not fill whole bytes")
    if end - begin != bits // 8:
        raise bad(
            f"data_offsets span {end - begin} bytes but shape {shape} of {dtype} needs {bits // 8}"
        )
    return TensorInfo(name=name, dtype=dtype, shape=tuple(shape), begin=begin, end=end)


def parse_header_bytes(
    header: bytes, path: Path
) -> tuple[dict[str, TensorInfo], dict[str, str] | None]:
    """Parse the JSON header (the ``N`` bytes after the length prefix); rule S1."""
    try:
        text = header.decode("utf-8")
        document = json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=reject_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise SafetensorsHeaderError(f"header is not UTF-8 JSON: {error}", path=path) from None
    if not isinstance(document, dict):
        raise SafetensorsHeaderError("header is not a JSON object", path=path)
    metadata: dict[str, str] | None = None
    tensors: dict[str, TensorInfo] = {}
    for name, entry in document.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise SafetensorsHeaderError(
                    "'__metadata__' is not an object of strings", path=path
                )
            metadata = dict(entry)
            continue
        tensors[name] = _parse_entry(name, entry, path)
    return tensors, metadata


def _check_coverage(tensors: Mapping[str, TensorInfo], data_size: int, path: Path) -> None:
    """Offsets tile the data section exactly: no overlap, no gap, no trailing byte (S1, S3)."""
    ordered = sorted(tensors.values(), key=lambda t: (t.begin, t.end))
    largest_end = max((t.end for t in ordered), default=0)
    if largest_end > data_size:
        raise TruncatedFileError(
            f"file has {data_size} data bytes but the header needs {largest_end}", path=path
        )
    position = 0
    for info in ordered:
        if info.begin < position:
            raise SafetensorsHeaderError(
                f"tensor {info.name!r} overlaps the tensor before it (offset {info.begin} < {position})",
                path=path,
            )
        if info.begin > position:
            raise SafetensorsHeaderError(
                f"data bytes {position}..{info.begin} are not covered by any tensor", path=path
            )
        position = info.end
    if position != data_size:
        raise SafetensorsHeaderError(
            f"{data_size - position} trailing bytes after the last tensor", path=path
        )


def read_header(handle: BinaryIO, path: Path) -> SafetensorsHeader:
    """Read and validate the header of an open safetensors file (rules S1-S3)."""
    file_size = os.fstat(handle.fileno()).st_size
    prefix = handle.read(8)
    if len(prefix) < 8:
        raise TruncatedFileError(
            f"file is {file_size} bytes, shorter than the 8-byte header size", path=path
        )
    (header_size,) = struct.unpack("<Q", prefix)
    if header_size > MAX_HEADER_SIZE:
        raise HeaderTooLargeError(
            f"header size {header_size} exceeds the limit of {MAX_HEADER_SIZE} bytes", path=path
        )
    if 8 + header_size > file_size:
        raise TruncatedFileError(
            f"file is {file_size} bytes but its header alone needs {8 + header_size}", path=path
        )
    raw = handle.read(header_size)
    if len(raw) != header_size:
        raise TruncatedFileError("file ended inside the header", path=path)
    tensors, metadata = parse_header_bytes(raw, path)
    data_start = 8 + header_size
    _check_coverage(tensors, file_size - data_start, path)
    return SafetensorsHeader(
        tensors=tensors, metadata=metadata, data_start=data_start, file_size=file_size
    )


class MappedSafetensors:
    """A validated safetensors file mapped read-only into memory (or read into it).

    ``view(name)`` returns a read-only numpy array over the mapping (no copy).  The mapping
    stays alive as long as any view does (numpy keeps a reference to its buffer).  With
    ``memory_map=False`` the file is read once, through the handle its header was read
    from, into process memory; the views are on that private copy, and nothing done to the
    file afterwards (truncation, an in-place overwrite, a rename over it) reaches them.
    """

    def __init__(self, path: Path, *, memory_map: bool = True) -> None:
        self.path = path
        self.memory_map = memory_map
        with path.open("rb") as handle:
            self.header = read_header(handle, path)
            self._buffer: mmap.mmap | bytearray | None = None
            if self.header.file_size > self.header.data_start:
                if memory_map:
                    self._buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
                else:
                    self._buffer = _read_all(handle, self.header.file_size, path)

    @property
    def tensors(self) -> dict[str, TensorInfo]:
        """The header entries, by tensor name."""
        return self.header.tensors

    def __contains__(self, name: object) -> bool:
        return name in self.header.tensors

    def view(self, name: str) -> np.ndarray[Any, np.dtype[Any]]:
        """A read-only array over tensor ``name``'s bytes; numpy-viewable dtypes only."""
        info = self.header.tensors[name]
        dtype = NUMPY_DTYPES[info.dtype]
        if info.size == 0 or self._buffer is None:
            return np.zeros(info.shape, dtype=dtype)
        array = np.frombuffer(
            self._buffer, dtype=dtype, count=info.size, offset=self.header.data_start + info.begin
        )
        array.flags.writeable = False  # a copy in memory is as read-only as the mapping
        return array.reshape(info.shape)


def _read_all(handle: BinaryIO, size: int, path: Path) -> bytearray:
    """The whole file (``size`` bytes, header included, so offsets match the mapping) read
    into one buffer; TruncatedFileError when it shrank since its header was read."""
    buffer = bytearray(size)
    handle.seek(0)
    view = memoryview(buffer)
    done = 0
    while done < size:
        count = handle.readinto(view[done:])  # type: ignore[attr-defined]
        if not count:
            raise TruncatedFileError(
                f"file ended after {done} of {size} bytes while it was read", path=path
            )
        done += count
    return buffer


def dtype_name(dtype: np.dtype[Any]) -> str:
    """The safetensors name of a numpy dtype (``F32`` for float32, ...)."""
    try:
        return _NAME_OF_KIND[(dtype.kind, dtype.itemsize)]
    except KeyError:
        raise ValueError(f"numpy dtype {dtype} has no safetensors name") from None


def _little_endian(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    wanted = NUMPY_DTYPES[dtype_name(array.dtype)]
    return np.ascontiguousarray(array, dtype=wanted)


def _layout(
    tensors: Mapping[str, np.ndarray[Any, Any]],
) -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
    """Widest dtypes first, then by name: every tensor stays aligned to its item size."""
    ordered = sorted(tensors.items(), key=lambda item: (-item[1].dtype.itemsize, item[0]))
    for name, array in ordered:
        yield name, _little_endian(array)


def write_safetensors(
    handle: BinaryIO,
    tensors: Mapping[str, np.ndarray[Any, Any]],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``tensors`` as a safetensors file to an open binary handle.

    The header lists the tensors in the order of ``tensors`` (writers put the embedding
    tensor first, rule W3), is padded with spaces to a multiple of 8 bytes, and the data is
    laid out widest dtype first, so every tensor is aligned for memory-mapped reading.
    """
    arrays = list(_layout(tensors))
    spans: dict[str, tuple[int, int]] = {}
    offset = 0
    for name, array in arrays:
        spans[name] = (offset, offset + array.nbytes)
        offset += array.nbytes
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    laid_out = dict(arrays)
    for name in tensors:
        array = laid_out[name]
        header[name] = {
            "dtype": dtype_name(array.dtype),
            "shape": list(array.shape),
            "data_offsets": list(spans[name]),
        }
    encoded = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    handle.write(struct.pack("<Q", len(encoded)))
    handle.write(encoded)
    for _, array in arrays:
        if array.nbytes:
            handle.write(array.reshape(-1).view(np.uint8).data)


def read_safetensors(
    path: str | os.PathLike[str] | Path,
    *,
    memory_map: bool = True,
) -> dict[str, np.ndarray[Any, np.dtype[Any]]]:
    """Read every tensor of a safetensors file after checking rules S1-S3.

    Arrays are read-only views over a memory map (no copy); with ``memory_map=False`` they
    are read-only views over one copy of the file in process memory, which later changes
    to the file cannot affect.  A dtype numpy cannot view (BF16, F8) raises
    ``UnsupportedDtypeError``.  Every malformed file raises a ``FormatError`` subclass
    naming what was wrong.
    """
    path = Path(path)
    mapped = MappedSafetensors(path, memory_map=memory_map)
    tensors: dict[str, np.ndarray[Any, np.dtype[Any]]] = {}
    for name, info in mapped.tensors.items():
        if info.dtype not in NUMPY_DTYPES:
            raise UnsupportedDtypeError(
                f"tensor {name!r} has dtype {info.dtype}, which numpy cannot read", path=path
            )
        tensors[name] = mapped.view(name)
    return tensors
