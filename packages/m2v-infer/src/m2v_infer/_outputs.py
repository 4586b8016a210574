"""Writers for ``m2v encode``: JSON lines, ``.npy`` and ``.parquet``, fed batch by batch.

File outputs are written to a temporary sibling and renamed into place when complete, so
an interrupted run never leaves a half-written file under the requested name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

import numpy as np
import numpy.typing as npt
from m2v_format import MissingDependencyError, OutputExistsError

from m2v_infer._errors import UnsupportedOutputError, UnwritableOutputError

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".npy": "npy", ".parquet": "parquet"}
"""Output file suffix -> format."""


class Writer(Protocol):
    """Receives consecutive batches of texts and their vectors."""

    def write(self, texts: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        """Write one batch."""
        ...

    def close(self) -> None:
        """Finish the output (called once, after the last batch, only on success)."""
        ...

    def abort(self) -> None:
        """Discard a partial output (called on failure)."""
        ...


def json_line(text: str, vector: npt.NDArray[np.float32]) -> str:
    """One JSON object per text: its text and its vector (``%.9g``: exact for float32)."""
    import json

    numbers = ",".join(["%.9g"] * vector.shape[0]) % tuple(vector.tolist())
    return f'{{"text":{json.dumps(text, ensure_ascii=False)},"embedding":[{numbers}]}}\n'


class JsonLinesWriter:
    """JSON lines on a text stream (stdout, or a file opened by :func:`open_writer`)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, texts: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        """Write one line per text."""
        self._stream.write("".join(json_line(t, v) for t, v in zip(texts, vectors, strict=True)))

    def close(self) -> None:
        """Flush the stream."""
        self._stream.flush()

    def abort(self) -> None:
        """Nothing to discard on a stream."""


class _FileOutput:
    """A temporary sibling file renamed onto ``path`` on success."""

    def __init__(self, path: Path, overwrite: bool) -> None:
        if (path.exists() or path.is_symlink()) and not overwrite:
            raise OutputExistsError(
                "output file exists (pass --overwrite to replace it)", path=path
            )
        if path.is_dir():
            raise UnwritableOutputError("output path is a folder", path=path)
        self.path = path
        self.temp = path.with_name(f".{path.name}.m2v-tmp-{secrets.token_hex(4)}")
        try:
            path.absolute().parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UnwritableOutputError(f"cannot create its folder: {error}", path=path) from None

    def commit(self) -> None:
        try:
            os.replace(self.temp, self.path)
        except OSError as error:
            self.discard()
            raise UnwritableOutputError(f"cannot write: {error}", path=self.path) from None

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.temp.unlink()


class JsonLinesFileWriter(JsonLinesWriter):
    """JSON lines into a file, atomically."""

    def __init__(self, path: Path, overwrite: bool) -> None:
        self._file = _FileOutput(path, overwrite)
        try:
            handle = self._file.temp.open("w", encoding="utf-8", newline="\n")
        except OSError as error:
            raise UnwritableOutputError(f"cannot write: {error}", path=path) from None
        super().__init__(handle)
        self._handle = handle

    def close(self) -> None:
        """Close the file and rename it into place."""
        self._handle.close()
        self._file.commit()

    def abort(self) -> None:
        """Close and delete the partial file."""
        self._handle.close()
        self._file.discard()


class NpyWriter:
    """A float32 ``[n, dim]`` ``.npy`` file (vectors only; the row order is the input's)."""

    def __init__(self, path: Path, overwrite: bool) -> None:
        self._file = _FileOutput(path, overwrite)
        self._parts: list[npt.NDArray[np.float32]] = []
        self._dim: int | None = None

    def write(self, texts: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        """Keep the batch (the header needs the final row count)."""
        self._dim = int(vectors.shape[1])
        self._parts.append(vectors)

    def set_dim(self, dim: int) -> None:
        """The column count to use when no batch arrives (empty input)."""
        if self._dim is None:
            self._dim = dim

    def close(self) -> None:
        """Write the array and rename it into place."""
        array = (
            np.concatenate(self._parts)
            if self._parts
            else np.empty((0, self._dim or 0), dtype=np.float32)
        )
        try:
            with self._file.temp.open("wb") as handle:
                np.save(handle, array, allow_pickle=False)
        except OSError as error:
            self._file.discard()
            raise UnwritableOutputError(f"cannot write: {error}", path=self._file.path) from None
        self._file.commit()

    def abort(self) -> None:
        """Drop the kept batches."""
        self._parts.clear()
        self._file.discard()


class ParquetWriter:
    """A Parquet file with columns ``text`` (string) and ``embedding`` (list of float32)."""

    def __init__(self, path: Path, overwrite: bool) -> None:
        try:
            import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
            import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            raise MissingDependencyError(
                'writing .parquet needs pyarrow: pip install "m2v-infer[parquet]"; or choose .npy or .jsonl',
                path=path,
            ) from None
        self._pa: Any = pa
        self._pq: Any = pq
        self._file = _FileOutput(path, overwrite)
        self._writer: Any = None
        self._dim: int | None = None

    def _open(self, dim: int) -> None:
        pa = self._pa
        schema = pa.schema([("text", pa.string()), ("embedding", pa.list_(pa.float32(), dim))])
        try:
            self._writer = self._pq.ParquetWriter(str(self._file.temp), schema)
        except OSError as error:
            raise UnwritableOutputError(f"cannot write: {error}", path=self._file.path) from None

    def set_dim(self, dim: int) -> None:
        """The column count to use when no batch arrives (empty input)."""
        if self._dim is None:
            self._dim = dim

    def write(self, texts: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        """Append one row group."""
        pa = self._pa
        if self._writer is None:
            self._open(int(vectors.shape[1]))
        flat = pa.array(np.ascontiguousarray(vectors).reshape(-1), type=pa.float32())
        column = pa.FixedSizeListArray.from_arrays(flat, int(vectors.shape[1]))
        table = pa.Table.from_arrays(
            [pa.array(list(texts), type=pa.string()), column], schema=self._writer.schema
        )
        self._writer.write_table(table)

    def close(self) -> None:
        """Finish the file and rename it into place."""
        if self._writer is None:
            self._open(self._dim or 0)
        self._writer.close()
        self._file.commit()

    def abort(self) -> None:
        """Close and delete the partial file."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._file.discard()


def open_writer(output: str | None, *, overwrite: bool, stdout: TextIO) -> Writer:
    """The writer for ``--output`` (``None``: JSON lines on ``stdout``).

    Raises:
        UnsupportedOutputError: the suffix is not ``.jsonl``/``.ndjson``/``.npy``/``.parquet``.
        MissingDependencyError: ``.parquet`` without pyarrow.
        OutputExistsError: the file exists and ``overwrite`` is false.
    """
    if output is None or output == "-":
        return JsonLinesWriter(stdout)
    path = Path(output)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UnsupportedOutputError(
            f"unknown output type {path.suffix or '(no suffix)'!r}; "
            "use .jsonl (or .ndjson), .npy or .parquet",
            path=path,
        )
    if kind == "npy":
        return NpyWriter(path, overwrite)
    if kind == "parquet":
        return ParquetWriter(path, overwrite)
    return JsonLinesFileWriter(path, overwrite)
