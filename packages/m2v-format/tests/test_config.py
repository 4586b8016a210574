"""ModelConfig: known keys typed (C2), unknown kept (C4), versions (V1-V3), I9 default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from m2v_format import (
    FormatError,
    InvalidConfigValueError,
    InvalidFormatVersionError,
    ModelConfig,
    UnsupportedFormatVersionError,
)
from m2v_format._config import check_config


def test_potion_config(potion_path: Path) -> None:
    data = json.loads((potion_path / "config.json").read_text())
    config = ModelConfig.from_dict(data)
    assert config.format_version == "1.0"
    assert config.normalize is True
    assert config.apply_pca == 256
    assert config.architectures == ("StaticModel",)
    assert config.extra == {}
    assert config.to_dict() == {"format_version": "1.0", **data}


def test_unknown_keys_are_kept_in_order() -> None:
    data = {"zeta": [1, {"x": None}], "normalize": False, "alpha": "a", "head_config": {}}
    config = ModelConfig.from_dict(data)
    assert config.extra == {"zeta": [1, {"x": None}], "alpha": "a", "head_config": {}}
    assert list(config.to_dict()) == ["format_version", "normalize", "zeta", "alpha", "head_config"]


@pytest.mark.parametrize(
    ("data", "present", "default"),
    [({}, False, 512), ({"max_length": None}, True, None), ({"max_length": 64}, True, 64)],
)
def test_max_length_presence(data: dict[str, Any], present: bool, default: int | None) -> None:
    config = ModelConfig.from_dict(data)
    assert config.has_max_length is present
    assert config.default_max_length == default
    assert ("max_length" in config.to_dict()) is present


def test_constructed_max_length_counts_as_present() -> None:
    assert ModelConfig(max_length=32).default_max_length == 32
    assert ModelConfig(max_length=None, has_max_length=True).default_max_length is None
    assert ModelConfig().default_max_length == 512


def test_lists_become_tuples() -> None:
    config = ModelConfig(architectures=["A"], language=["en", "nl"])  # type: ignore[arg-type]
    assert config.architectures == ("A",)
    assert config.language == ("en", "nl")
    assert config.to_dict()["language"] == ["en", "nl"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("normalize", "true"),
        ("normalize", 1),
        ("normalize", None),
        ("max_length", 0),
        ("max_length", True),
        ("max_length", 12.0),
        ("embedding_dtype", 4),
        ("vocabulary_quantization", 0),
        ("vocabulary_quantization", "8"),
        ("model_type", None),
        ("architectures", "StaticModel"),
        ("architectures", [1]),
        ("tokenizer_name", 3),
        ("apply_pca", [256]),
        ("sif_coefficient", "1e-4"),
        ("sif_coefficient", float("inf")),
        ("apply_zipf", "yes"),
        ("hidden_dim", 2.5),
        ("hidden_dim", False),
        ("seq_length", None),
        ("pooling", 1),
        ("language", [None]),
    ],
)
def test_wrong_values(key: str, value: Any) -> None:
    with pytest.raises(InvalidConfigValueError, match=key) as caught:
        ModelConfig.from_dict({key: value})
    assert (caught.value.code, caught.value.rule) == ("invalid-config-value", "C2")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("apply_pca", None),
        ("apply_pca", 0.5),
        ("apply_pca", "auto"),
        ("apply_pca", False),
        ("sif_coefficient", 1),
        ("language", "en"),
        ("language", ["en"]),
        ("tokenizer_name", None),
        ("pooling", None),
        ("apply_zipf", None),
        ("hidden_dim", -1),
    ],
)
def test_accepted_values(key: str, value: Any) -> None:
    ModelConfig.from_dict({key: value})


@pytest.mark.parametrize(
    "version", ["1", "1.0.0", "v1.0", "1.0\n", " 1.0", "", "1.x", "\u0661.\u0660", 1.0, 1, None]
)
def test_malformed_format_version(version: Any) -> None:
    with pytest.raises(InvalidFormatVersionError) as caught:
        ModelConfig.from_dict({"format_version": version})
    assert (caught.value.code, caught.value.rule) == ("invalid-format-version", "V1")


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.9", "01.12", "0.3"])
def test_major_one_minors_are_read(version: str) -> None:
    assert ModelConfig.from_dict({"format_version": version}).format_version == version


@pytest.mark.parametrize("version", ["2.0", "10.1"])
def test_higher_major_is_unsupported(version: str) -> None:
    with pytest.raises(UnsupportedFormatVersionError) as caught:
        ModelConfig.from_dict({"format_version": version, "normalize": "not checked"})
    assert (caught.value.code, caught.value.rule) == ("unsupported-format-version", "V3")


def test_check_config_collects_every_bad_key() -> None:
    config, errors = check_config({"normalize": 1, "max_length": -5, "pooling": 3, "ok": 1})
    assert config is None
    assert sorted(str(e.message).split("'")[1] for e in errors) == [
        "max_length",
        "normalize",
        "pooling",
    ]
    assert all(isinstance(e, FormatError) for e in errors)
