"""The public API is exactly the contract's, and the errors are well-formed."""

from __future__ import annotations

import inspect
from pathlib import Path

import m2v_format
import pytest
from m2v_format import FormatError
from m2v_format._errors import ALL_ERRORS, RULE_ERRORS

CONTRACT = {
    "__version__",
    "CLASSIFIER_FORMAT",
    "CLASSIFIER_VERSION",
    "FORMAT_VERSION",
    "SUPPORTED_MAJOR",
    "ClassifierHead",
    "Layout",
    "ModelCard",
    "ModelConfig",
    "StaticModelData",
    "ValidationReport",
    "Violation",
    "load_classifier_head",
    "load_model",
    "quantize",
    "quantize_vocabulary",
    "read_safetensors",
    "resolve_model_path",
    "save_classifier",
    "save_model",
    "validate_model",
    "export_onnx",
    "NORM_EPSILON",
    "cut_texts",
    "effective_rows",
    "id_lists",
    "id_segments",
    "kept_ids",
    "mean_pool",
    "median_token_length",
    "normalize_rows",
    "reference_encode",
    "reference_tokenize",
    "HubUnavailableError",  # the former name of MissingDependencyError
    *(error.__name__ for error in ALL_ERRORS),
    "ConformanceError",  # the conformance runner's family (m2v_format._conformance)
    "SuiteError",
}


def test_all_is_the_contract() -> None:
    assert set(m2v_format.__all__) == CONTRACT
    assert len(m2v_format.__all__) == len(CONTRACT)
    for name in m2v_format.__all__:
        assert hasattr(m2v_format, name)


def test_versions() -> None:
    assert m2v_format.FORMAT_VERSION == "1.1"
    assert m2v_format.SUPPORTED_MAJOR == 1


def test_public_callables_are_documented() -> None:
    for name in m2v_format.__all__:
        value = getattr(m2v_format, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), name


def test_error_codes_and_rules_are_unique() -> None:
    codes = [error.code for error in ALL_ERRORS]
    rules = [error.rule for error in RULE_ERRORS]
    assert len(set(codes)) == len(codes)
    assert len(set(rules)) == len(rules)
    for error in RULE_ERRORS:
        assert issubclass(error, FormatError)
        assert error.rule
        instance = error("what went wrong", path="/x/y")
        assert instance.code in str(instance)
        assert f"rule {error.rule}" in str(instance)


def test_signatures() -> None:
    load = inspect.signature(m2v_format.load_model)
    assert list(load.parameters) == [
        "path_or_id",
        "subfolder",
        "token",
        "revision",
        "check_values",
        "memory_map",
    ]
    assert load.parameters["check_values"].default is True
    assert load.parameters["memory_map"].default is True
    save = inspect.signature(m2v_format.save_model)
    assert list(save.parameters) == ["folder", "model", "overwrite", "card"]
    encode = inspect.signature(m2v_format.reference_encode)
    assert encode.parameters["max_length"].default == 512
    assert encode.parameters["normalize"].default is None
    quantize = inspect.signature(m2v_format.quantize)
    assert list(quantize.parameters) == ["model", "to", "dims", "int8_scale"]


def test_read_safetensors_returns_read_only_views(tmp_path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    path = tmp_path / "t.safetensors"
    save_file({"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, str(path))
    tensors = m2v_format.read_safetensors(path)
    assert list(tensors) == ["a"]
    np.testing.assert_array_equal(tensors["a"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert not tensors["a"].flags.writeable
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(m2v_format.TruncatedFileError):
        m2v_format.read_safetensors(path)
