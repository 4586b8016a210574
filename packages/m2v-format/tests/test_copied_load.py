"""``memory_map=False``: tensors read into process memory, independent of the file."""

from __future__ import annotations

import io
import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np
from m2v_format import load_model, read_safetensors, save_model
from m2v_format._safetensors import write_safetensors
from m2v_testkit import tiny_model

ARRAYS = {
    "f32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "i8": np.array([-127, 0, 5, 127], dtype=np.int8),
    "i64": np.array([1, 2**40], dtype=np.int64),
}


def _owner(array: np.ndarray[Any, Any]) -> object:
    """The object whose memory ``array`` views (the end of its ``base`` chain)."""
    base: Any = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


def test_copied_tensors_equal_the_mapped_ones_and_outlive_the_file(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    write_safetensors(buffer, ARRAYS)
    path = tmp_path / "model.safetensors"
    path.write_bytes(buffer.getvalue())
    mapped = read_safetensors(path)
    copied = read_safetensors(path, memory_map=False)
    for name, array in ARRAYS.items():
        assert isinstance(_owner(mapped[name]), mmap.mmap)
        assert isinstance(_owner(copied[name]), bytearray)
        assert not copied[name].flags.writeable
        assert copied[name].dtype == array.dtype
        np.testing.assert_array_equal(copied[name], mapped[name])
    del mapped  # reading a mapped view after the truncation below would raise SIGBUS
    os.truncate(path, 0)
    for name, array in ARRAYS.items():
        np.testing.assert_array_equal(copied[name], array)


def test_load_model_copies_every_table(tmp_path: Path) -> None:
    """Embeddings, weights and mapping of a vocabulary-quantized model all leave the file."""
    folder = save_model(tmp_path / "model", tiny_model(weights=True, clusters=5))
    mapped = load_model(folder)
    copied = load_model(folder, memory_map=False)
    tables = {
        "embeddings": (mapped.embeddings, copied.embeddings),
        "weights": (mapped.weights, copied.weights),
        "mapping": (mapped.mapping, copied.mapping),
    }
    for name, (on_file, in_memory) in tables.items():
        assert on_file is not None, name
        assert in_memory is not None, name
        assert isinstance(_owner(on_file), mmap.mmap), name
        assert isinstance(_owner(in_memory), bytearray), name
        assert not in_memory.flags.writeable, name
        np.testing.assert_array_equal(in_memory, on_file)
    del mapped, tables
    expected = np.array(copied.embeddings)
    os.truncate(folder / "model.safetensors", 0)
    np.testing.assert_array_equal(copied.embeddings, expected)
