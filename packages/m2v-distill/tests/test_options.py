"""Option validation: every bad value raises a typed error before any model is loaded."""

from __future__ import annotations

import pytest
from m2v_distill import (
    DistillError,
    InvalidParameterError,
    InvalidPatternError,
    PoolingMode,
    distill,
)
from m2v_distill._errors import ALL_ERRORS
from m2v_distill._options import (
    check_batch_size,
    check_device,
    check_pattern,
    check_pca_dims,
    check_pooling,
    check_quantize_to,
    check_sif_coefficient,
    check_vocabulary_quantization,
)


def test_error_codes_are_unique_and_stable() -> None:
    codes = [error.code for error in ALL_ERRORS]
    assert len(codes) == len(set(codes))
    assert all(issubclass(error, DistillError) for error in ALL_ERRORS)
    assert (
        InvalidParameterError.code == "invalid-argument"
    )  # the kind's code (was invalid-parameter)
    assert InvalidPatternError("x").code == "invalid-pattern"
    assert str(InvalidPatternError("bad")) == "invalid-pattern: bad"


@pytest.mark.parametrize("value", [1e-4, 0.5, 1e-9])
def test_sif_coefficient_accepts_open_interval(value: float) -> None:
    assert check_sif_coefficient(value) == value


@pytest.mark.parametrize("value", [0, 0.0, 1, 1.0, -0.1, 2.0, True, "0.1"])
def test_sif_coefficient_rejects_outside_open_interval(value: object) -> None:
    with pytest.raises(InvalidParameterError):
        check_sif_coefficient(value)  # type: ignore[arg-type]


def test_sif_coefficient_none_disables() -> None:
    assert check_sif_coefficient(None) is None


def test_pattern_compiles_or_raises() -> None:
    assert check_pattern(None) is None
    pattern = check_pattern(r"\[unused\d+\]")
    assert pattern is not None
    assert pattern.match("[unused12]")
    with pytest.raises(InvalidPatternError, match="not a valid regular expression"):
        check_pattern("[unclosed")


@pytest.mark.parametrize("value", [None, "auto", 1, 256, 0.5, 0.99])
def test_pca_dims_accepts(value: object) -> None:
    assert check_pca_dims(value) == value  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, -3, 0.0, 1.0, 1.5, True, "256", "max"])
def test_pca_dims_rejects(value: object) -> None:
    with pytest.raises(InvalidParameterError):
        check_pca_dims(value)  # type: ignore[arg-type]


def test_pooling_modes() -> None:
    assert check_pooling("mean") is PoolingMode.MEAN
    assert check_pooling(PoolingMode.POOLER) is PoolingMode.POOLER
    assert {mode.value for mode in PoolingMode} == {"mean", "first", "last", "pooler"}
    with pytest.raises(InvalidParameterError, match="pooling must be one of"):
        check_pooling("max")


def test_quantize_to() -> None:
    assert [check_quantize_to(d) for d in ("float32", "float16", "int8")] == [
        "float32",
        "float16",
        "int8",
    ]
    for bad in ("float64", "bfloat16", "int4"):
        with pytest.raises(InvalidParameterError):
            check_quantize_to(bad)


def test_vocabulary_quantization_and_batch_size() -> None:
    assert check_vocabulary_quantization(None) is None
    assert check_vocabulary_quantization(8) == 8
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InvalidParameterError):
            check_vocabulary_quantization(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError):
            check_batch_size(bad)  # type: ignore[arg-type]


def test_compute_dtype() -> None:
    from m2v_distill._options import check_compute_dtype

    assert [check_compute_dtype(d) for d in ("auto", "float32", "bfloat16")] == [
        "auto",
        "float32",
        "bfloat16",
    ]
    with pytest.raises(InvalidParameterError):
        check_compute_dtype("float16")


def test_device() -> None:
    assert check_device(None) == "auto"
    assert check_device("cuda:1") == "cuda:1"
    with pytest.raises(InvalidParameterError):
        check_device("tpu")


def test_distill_checks_options_before_loading_the_teacher() -> None:
    # The teacher does not exist: the option error must win, proving nothing was loaded.
    with pytest.raises(InvalidParameterError):
        distill("/definitely/not/here", sif_coefficient=1.5)
    with pytest.raises(InvalidPatternError):
        distill("/definitely/not/here", token_remove_pattern="(")
