"""Units: finishing vectors, the progress bar, the error classes, the row collector."""

from __future__ import annotations

import m2v_infer
import numpy as np
import pytest
from m2v_format import FormatError, M2VError, MissingDependencyError, UsageError
from m2v_infer._collect import RowCollector
from m2v_infer._engine import finish
from m2v_infer._errors import ALL_ERRORS, InferError
from m2v_infer._runner import progress_bar


def test_finish_cuts_then_normalizes() -> None:
    vectors = np.array([[3.0, 4.0, 12.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    cut = finish(vectors.copy(), dimensions=2, normalize=True)
    assert np.allclose(cut[0], [0.6, 0.8])
    assert not cut[1].any()
    assert cut.flags.c_contiguous
    assert np.array_equal(finish(vectors.copy(), dimensions=None, normalize=False), vectors)


def test_progress_bar_counts_on_stderr_only_when_enabled(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with progress_bar(200, enabled=False) as bar:
        bar.update(200)
    assert capsys.readouterr().err == ""
    with progress_bar(200, enabled=True) as bar:
        bar.update(50)
        bar.update(150)
    err = capsys.readouterr().err
    assert "200/200" in err
    assert "texts/s" in err


def test_error_classes() -> None:
    codes = [error.code for error in ALL_ERRORS]
    assert len(codes) == len(set(codes))
    for error in ALL_ERRORS:
        assert issubclass(error, M2VError)
        assert not issubclass(error, FormatError)  # a bad argument is not a bad file
        assert issubclass(error, InferError) or error is MissingDependencyError
        assert error.__name__ in m2v_infer.__all__
        instance = error("something went wrong")
        assert str(instance).startswith(error.code)
    assert issubclass(m2v_infer.InvalidArgumentError, UsageError)
    assert m2v_infer.InvalidArgumentError.code == "invalid-argument"


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
