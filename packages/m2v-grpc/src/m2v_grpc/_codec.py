"""Packed vectors: numpy float32 rows <-> the ``data``/``scales`` bytes of ``Embeddings``.

Wire formats (little-endian, row-major, ``rows`` x ``dims``):

- ``float32``: 4 bytes per value.
- ``float16``: 2 bytes per value.
- ``int8``: 1 signed byte per value, plus one float32 scale per row in ``scales``;
  ``value ≈ q * scale``, ``scale = max(|row|) / 127`` (1.0 for an all-zero row).
- ``binary``: 1 bit per value (``value > 0``), most significant bit first, each row padded
  with zero bits to ``ceil(dims / 8)`` bytes (``numpy.packbits(x > 0, axis=1)``).

This module needs numpy only; the proto enum numbers are mirrored in :data:`DTYPE_NUMBERS`
(a test checks them against the generated code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from m2v_grpc._errors import CodecError

OutputDtypeName = Literal["float32", "float16", "int8", "binary"]
"""Names of the output encodings, as clients pass them."""

DTYPE_NUMBERS: dict[OutputDtypeName, int] = {"float32": 1, "float16": 2, "int8": 3, "binary": 4}
"""``OutputDtype`` enum number of each encoding (0, unspecified, means float32)."""

DTYPE_NAMES: dict[int, OutputDtypeName] = {0: "float32", **{v: k for k, v in DTYPE_NUMBERS.items()}}
"""Encoding name of each known ``OutputDtype`` enum number."""

_LE_F32 = np.dtype("<f4")
_LE_F16 = np.dtype("<f2")


@dataclass(frozen=True)
class Packed:
    """Packed vectors ready for an ``Embeddings`` message."""

    rows: int
    dims: int
    dtype: OutputDtypeName
    data: bytes
    scales: bytes = b""


def row_bytes(dims: int, dtype: OutputDtypeName) -> int:
    """Bytes one row of ``dims`` values takes on the wire."""
    if dtype == "float32":
        return 4 * dims
    if dtype == "float16":
        return 2 * dims
    if dtype == "int8":
        return dims
    return (dims + 7) // 8


def pack(vectors: npt.NDArray[np.float32], dtype: OutputDtypeName) -> Packed:
    """Pack a ``[rows, dims]`` float array into the wire format ``dtype``."""
    if vectors.ndim != 2:
        raise CodecError(f"expected a 2-D array, got shape {vectors.shape}")
    rows, dims = vectors.shape
    if dtype == "float32":
        return Packed(rows, dims, dtype, np.ascontiguousarray(vectors, dtype=_LE_F32).tobytes())
    if dtype == "float16":
        return Packed(rows, dims, dtype, np.ascontiguousarray(vectors, dtype=_LE_F16).tobytes())
    if dtype == "int8":
        values = np.asarray(vectors, dtype=np.float32)
        peak = np.abs(values).max(axis=1) if dims else np.zeros(rows, dtype=np.float32)
        scales = np.where(peak > 0, peak / np.float32(127.0), np.float32(1.0)).astype(np.float32)
        quantized = np.clip(np.rint(values / scales[:, None]), -127, 127).astype(np.int8)
        return Packed(rows, dims, dtype, quantized.tobytes(), scales.astype(_LE_F32).tobytes())
    if dtype == "binary":
        bits = np.packbits(np.asarray(vectors) > 0, axis=1, bitorder="big")
        return Packed(rows, dims, dtype, np.ascontiguousarray(bits).tobytes())
    raise CodecError(f"unknown output dtype {dtype!r}")


def unpack(
    rows: int,
    dims: int,
    dtype: OutputDtypeName,
    data: bytes,
    scales: bytes = b"",
    *,
    dequantize: bool = True,
) -> npt.NDArray[np.generic]:
    """Turn wire bytes back into a ``[rows, dims]`` array (``[rows, ceil(dims/8)]`` for binary).

    float32 and float16 come back in their own dtype (native byte order); int8 comes back
    as float32 ``q * scale`` when ``dequantize`` (else the raw int8 values); binary comes
    back as the packed ``uint8`` bytes.  Raises :class:`CodecError` if sizes disagree.
    """
    expected = rows * row_bytes(dims, dtype)
    if len(data) != expected:
        raise CodecError(f"{dtype} data has {len(data)} bytes, expected {expected} ({rows}x{dims})")
    if dtype == "float32":
        return np.frombuffer(data, dtype=_LE_F32).reshape(rows, dims).astype(np.float32)
    if dtype == "float16":
        return np.frombuffer(data, dtype=_LE_F16).reshape(rows, dims).astype(np.float16)
    if dtype == "int8":
        values = np.frombuffer(data, dtype=np.int8).reshape(rows, dims)
        if not dequantize:
            return values.copy()
        if len(scales) != 4 * rows:
            raise CodecError(f"int8 scales have {len(scales)} bytes, expected {4 * rows}")
        factors = np.frombuffer(scales, dtype=_LE_F32).astype(np.float32)
        return values.astype(np.float32) * factors[:, None]
    if dtype == "binary":
        return np.frombuffer(data, dtype=np.uint8).reshape(rows, (dims + 7) // 8).copy()
    raise CodecError(f"unknown output dtype {dtype!r}")
