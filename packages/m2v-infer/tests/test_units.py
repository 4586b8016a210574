"""Units: pooling against a naive loop, the progress bar, the error classes."""

from __future__ import annotations

import io

import m2v_infer
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from m2v_format import FormatError
from m2v_infer._collect import RowCollector
from m2v_infer._errors import ALL_ERRORS, InferError
from m2v_infer._pooling import finish, flatten_ids, mean_pool, normalize_rows
from m2v_infer._progress import ProgressBar

ROWS = np.random.default_rng(1).normal(size=(50, 7)).astype(np.float32)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 49), max_size=12), max_size=30),
    st.one_of(st.none(), st.integers(0, 49)),
)
def test_mean_pool_matches_a_loop(ids: list[list[int]], unknown: int | None) -> None:
    flat, lengths = flatten_ids(ids, unknown)
    pooled = mean_pool(ROWS, flat, lengths)
    assert pooled.shape == (len(ids), 7)
    assert pooled.dtype == np.float32
    for row, text_ids in zip(pooled, ids, strict=True):
        kept = [i for i in text_ids if i != unknown]
        expected = ROWS[kept].mean(axis=0) if kept else np.zeros(7, dtype=np.float32)
        assert np.allclose(row, expected, atol=1e-6)


def test_normalize_and_finish() -> None:
    vectors = np.array([[3.0, 4.0, 12.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    assert np.allclose(normalize_rows(vectors.copy())[0], [3 / 13, 4 / 13, 12 / 13])
    assert not normalize_rows(vectors.copy())[1].any()
    cut = finish(vectors.copy(), dimensions=2, normalize=True)
    assert np.allclose(cut[0], [0.6, 0.8])
    assert cut.flags.c_contiguous
    assert np.array_equal(finish(vectors.copy(), dimensions=None, normalize=False), vectors)


def test_progress_bar_rendering() -> None:
    stream = io.StringIO()
    bar = ProgressBar(200, stream=stream, desc="Work", unit="items", min_interval=0.0)
    bar.update(50)
    assert "Work:  25%|" in stream.getvalue()
    assert "50/200" in stream.getvalue()
    bar.update(150)
    bar.close()
    text = stream.getvalue()
    assert "100%" in text
    assert "items/s" in text
    assert text.endswith("\n")
    assert "<" in bar.render()  # elapsed<eta


def test_progress_bar_unknown_total_and_disabled() -> None:
    stream = io.StringIO()
    with ProgressBar(None, stream=stream, min_interval=0.0) as bar:
        bar.update(12_345)
    assert "12345 texts" in stream.getvalue()
    assert "%" not in stream.getvalue()
    quiet = io.StringIO()
    with ProgressBar(10, stream=quiet, enabled=False) as bar:
        bar.update(10)
    assert quiet.getvalue() == ""
    delayed = io.StringIO()
    with ProgressBar(10, stream=delayed, delay=60.0) as bar:
        bar.update(10)
    assert delayed.getvalue() == ""


def test_error_classes() -> None:
    codes = [error.code for error in ALL_ERRORS]
    assert len(codes) == len(set(codes))
    for error in ALL_ERRORS:
        assert issubclass(error, InferError)
        assert issubclass(error, FormatError)
        assert error.__name__ in m2v_infer.__all__
        instance = error("something went wrong")
        assert str(instance).startswith(error.code)
    format_codes = {
        cls.code for cls in FormatError.__subclasses__() if not issubclass(cls, InferError)
    }
    assert not format_codes & set(codes)


def test_error_builtin_bases() -> None:
    with pytest.raises(ValueError, match="bad"):
        raise m2v_infer.InvalidArgumentError("bad")
    with pytest.raises(TypeError, match="bad"):
        raise m2v_infer.InvalidInputError("bad")


@pytest.mark.parametrize("sizes", [[], [3], [5, 5, 5, 1], [17], [2] * 20])
def test_row_collector(sizes: list[int]) -> None:
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(size, 3)).astype(np.float32) for size in sizes]
    collector = RowCollector(3, block_bytes=4 * 3 * 4)  # four rows per block
    for batch in batches:
        collector.append(batch)
    result = collector.result()
    expected = np.concatenate(batches) if batches else np.empty((0, 3), dtype=np.float32)
    assert result.shape == expected.shape
    assert np.array_equal(result, expected)
