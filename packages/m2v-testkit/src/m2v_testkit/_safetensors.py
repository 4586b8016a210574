"""Safetensors files assembled byte by byte, so that malformed ones can be built too.

Independent of ``m2v_format``'s writer on purpose: files the reader under test is checked
against must not come from the code being tested.  Any dtype name can be written (BF16,
F8_E4M3, nonsense), offsets can be overridden, and :func:`header_bytes` frames any header.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_DTYPE_NAMES: dict[str, str] = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
}


@dataclass(frozen=True)
class RawTensor:
    """One safetensors entry: the dtype name as written in the header, shape, raw bytes."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    data: bytes


def tensor_entry(name: str, array: np.ndarray[Any, Any]) -> RawTensor:
    """A :class:`RawTensor` from a numpy array (row-major, little-endian)."""
    contiguous = np.ascontiguousarray(array)
    little = contiguous.astype(contiguous.dtype.newbyteorder("<"), copy=False)
    return RawTensor(
        name, _DTYPE_NAMES[contiguous.dtype.name], tuple(array.shape), little.tobytes()
    )


def bf16_entry(name: str, array: np.ndarray[Any, Any]) -> RawTensor:
    """A BF16 entry: the upper 16 bits of each float32 (numpy has no bfloat16)."""
    bits = np.ascontiguousarray(array, dtype="<f4").view("<u4") >> 16
    return RawTensor(name, "BF16", tuple(array.shape), bits.astype("<u2").tobytes())


def header_bytes(header: Mapping[str, Any] | bytes) -> bytes:
    """The 8-byte little-endian size prefix and the header, space-padded to 8 bytes.

    A mapping is written as compact JSON; bytes are framed as they are (invalid JSON too).
    """
    if isinstance(header, bytes):
        encoded = header
    else:
        encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded


def raw_safetensors(
    tensors: Sequence[RawTensor],
    *,
    metadata: Mapping[str, str] | None = None,
    offsets: Mapping[str, tuple[int, int]] | None = None,
    header_order: Sequence[str] | None = None,
    data_order: Sequence[str] | None = None,
) -> bytes:
    """A safetensors file of ``tensors``, sorted by name and laid out back to back.

    ``metadata`` becomes the ``__metadata__`` entry; ``offsets`` overrides the
    ``data_offsets`` of named entries (to build files whose offsets lie).  ``header_order``
    and ``data_order`` list every tensor name in the order its header entry, or its bytes,
    are written (instead of by name), to build files whose embedding tensor is not first.
    """
    by_name = {entry.name: entry for entry in tensors}
    for order in (header_order, data_order):
        if order is not None and sorted(order) != sorted(by_name):
            raise ValueError(f"order {list(order)} must name every tensor once: {sorted(by_name)}")
    in_data = [by_name[name] for name in (data_order or sorted(by_name))]
    spans: dict[str, tuple[int, int]] = {}
    position = 0
    for entry in in_data:
        spans[entry.name] = (position, position + len(entry.data))
        position += len(entry.data)
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    for name in header_order or sorted(by_name):
        entry = by_name[name]
        begin, end = offsets[name] if offsets and name in offsets else spans[name]
        header[name] = {
            "dtype": entry.dtype,
            "shape": list(entry.shape),
            "data_offsets": [begin, end],
        }
    return header_bytes(header) + b"".join(entry.data for entry in in_data)
