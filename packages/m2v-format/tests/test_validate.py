"""validate_model: reports every broken rule, keeps going, never raises."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from m2v_format import Layout, ValidationReport, Violation, save_model, validate_model
from m2v_testkit import TINY_WORDS, tiny_model, tiny_tokenizer, valid_embeddings, write_raw_model

V = len(TINY_WORDS)


def _rules(report: ValidationReport) -> list[str]:
    return sorted(v.rule for v in report.violations)


def test_potion_is_clean(potion_path: Path) -> None:
    report = validate_model(potion_path)
    assert report.ok
    assert report.violations == []
    assert report.warnings == []
    assert report.layout is Layout.NATIVE


def test_writer_output_is_clean(tmp_path: Path) -> None:
    report = validate_model(save_model(tmp_path / "m", tiny_model(weights=True, clusters=4)))
    assert report.ok
    assert report.warnings == []


def test_minilm_breaks_t1(minilm_path: Path) -> None:
    report = validate_model(minilm_path)
    assert not report.ok
    assert _rules(report) == ["T1"]
    assert report.violations[0].code == "missing-tensor"
    assert report.violations[0].path == minilm_path / "model.safetensors"


def test_bad_config_and_bad_tensors_are_both_reported(tmp_path: Path) -> None:
    embeddings = valid_embeddings(V + 2)
    embeddings[0, 0] = np.nan
    folder = write_raw_model(
        tmp_path / "m",
        {"embeddings": embeddings, "mapping": np.full(V, 99, np.int32)},
        config={"normalize": "yes", "max_length": 0},
    )
    report = validate_model(folder)
    assert _rules(report) == ["C2", "C2", "T4", "T6"]
    codes = {v.code for v in report.violations}
    assert codes == {"invalid-config-value", "non-finite-values", "mapping-out-of-range"}


def test_bad_tokenizer_and_bad_header_are_both_reported(tmp_path: Path) -> None:
    folder = write_raw_model(
        tmp_path / "m", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ", tokenizer="[]"
    )
    assert _rules(validate_model(folder)) == ["K1", "S1"]


def test_every_tensor_problem_at_once(tmp_path: Path) -> None:
    tensors = {
        "embeddings": np.ones((V, 4), np.int8),
        "weights": np.ones((V, 2), np.float32),
        "mapping": np.zeros(V, np.float32),
        "embeddings_scale": np.array([0.0, 1.0], np.float16),
    }
    report = validate_model(write_raw_model(tmp_path / "m", tensors))
    assert _rules(report) == ["T2", "T3", "T7"]


def test_vocabulary_mismatches(tmp_path: Path) -> None:
    tensors = {
        "embeddings": valid_embeddings(V + 1),
        "weights": np.ones(V - 1, np.float32),
    }
    report = validate_model(write_raw_model(tmp_path / "m", tensors))
    assert _rules(report) == ["T5", "T5"]


def test_vocabulary_with_holes(tmp_path: Path) -> None:
    """Ids beyond the vocabulary size would index past the tables: reported as T5."""
    document = json.loads(tiny_tokenizer().to_str())
    document["model"]["vocab"]["world"] = 40
    folder = write_raw_model(
        tmp_path / "m", {"embeddings": valid_embeddings()}, tokenizer=json.dumps(document)
    )
    report = validate_model(folder)
    assert _rules(report) == ["T5"]
    assert "40" in report.violations[0].message


def test_format_version_problems(tmp_path: Path) -> None:
    folder = write_raw_model(
        tmp_path / "m",
        {"embeddings": valid_embeddings()},
        config={"format_version": "3.0", "normalize": 5},
    )
    report = validate_model(folder)
    assert _rules(report) == ["V3"]  # later keys are not judged under an unknown major version


def test_missing_paths_and_files(tmp_path: Path) -> None:
    assert _rules(validate_model(tmp_path / "absent")) == ["L1"]
    assert _rules(validate_model(tmp_path)) == ["L2"]
    folder = save_model(tmp_path / "m", tiny_model())
    assert _rules(validate_model(folder, subfolder="../m")) == ["L6"]


def test_escaping_files_are_reported_and_not_read(tmp_path: Path) -> None:
    folder = save_model(tmp_path / "m", tiny_model())
    outside = tmp_path / "tokenizer.json"
    (folder / "tokenizer.json").rename(outside)
    os.symlink(outside, folder / "tokenizer.json")
    report = validate_model(folder)
    assert _rules(report) == ["L6"]


def test_warnings(tmp_path: Path) -> None:
    folder = write_raw_model(tmp_path / "m", {"embeddings": valid_embeddings()}, config={})
    report = validate_model(folder)
    assert report.ok
    assert sorted(w.rule for w in report.warnings) == ["C3", "C6"]
    (folder / "config.json").write_text('{"normalize": true}')
    (folder / "README.md").write_text("# card")
    (folder / "modules.json").write_text("[]")
    assert [w.rule for w in validate_model(folder).warnings] == ["C5"]


def test_scale_with_old_format_version_warns(tmp_path: Path) -> None:
    tensors = {
        "embeddings": np.ones((V, 4), np.int8),
        "embeddings_scale": np.array([0.5], np.float32),
    }
    folder = write_raw_model(
        tmp_path / "m", tensors, config={"normalize": True, "format_version": "1.0"}
    )
    report = validate_model(folder)
    assert report.ok
    assert "V4" in [w.rule for w in report.warnings]


def test_violation_strings() -> None:
    violation = Violation("T4", "non-finite-values", "tensor has NaN", Path("/m/model.safetensors"))
    assert str(violation) == "non-finite-values [rule T4]: tensor has NaN (/m/model.safetensors)"


@pytest.mark.parametrize("content", [b"", b"\x00" * 7, b"garbage" * 100])
def test_never_raises_on_garbage(tmp_path: Path, content: bytes) -> None:
    folder = write_raw_model(tmp_path / "m", content, config="\x00", tokenizer="\x00")
    report = validate_model(folder)
    assert {"C1", "K1"} <= set(_rules(report))


def test_unk_token_missing_from_the_vocabulary_is_valid_with_a_k3_warning(tmp_path: Path) -> None:
    """K3: an unk_token without an id makes the unknown id null; the model is valid."""
    from m2v_format import InvalidTokenizerError, load_model, reference_encode
    from m2v_testkit import wordlevel_tokenizer

    words = ["hello", "world", "the", "fox"]
    tokenizer = wordlevel_tokenizer(words, unk_token="<unk>")
    folder = write_raw_model(
        tmp_path / "m",
        {"embeddings": np.arange(len(words) * 3, dtype=np.float32).reshape(len(words), 3)},
        config={"normalize": False},
        tokenizer=tokenizer,
    )
    report = validate_model(folder)
    assert report.ok, [str(v) for v in report.violations]
    warnings = [(w.rule, w.code) for w in report.warnings]
    assert ("K3", "unknown-token-missing") in warnings
    assert "'<unk>'" in next(w.message for w in report.warnings if w.rule == "K3")

    model = load_model(folder)
    assert model.unknown_token_id is None
    np.testing.assert_array_equal(
        reference_encode(model, ["hello world"]), [[1.5, 2.5, 3.5]]
    )  # nothing dropped
    with pytest.raises(InvalidTokenizerError, match="fails on this text"):
        reference_encode(model, ["hello stranger"])  # the library refuses unknown pieces


def test_writers_list_the_embedding_tensor_first_w3(tmp_path: Path) -> None:
    """W3: save_model puts `embeddings` first in the header; validate warns when it is not."""
    import struct

    from m2v_testkit import raw_safetensors, tensor_entry

    def header_names(path: Path) -> list[str]:
        data = path.read_bytes()
        size = struct.unpack("<Q", data[:8])[0]
        return [k for k in json.loads(data[8 : 8 + size]) if k != "__metadata__"]

    model = tiny_model(weights=True, clusters=4)
    written = save_model(tmp_path / "w", model)
    assert header_names(written / "model.safetensors")[0] == "embeddings"
    assert validate_model(written).warnings == []

    scale = np.array([0.5], np.float32)
    int8 = np.ones((V, 4), np.int8)
    entries = [tensor_entry("embeddings", int8), tensor_entry("embeddings_scale", scale)]
    order = ["embeddings_scale", "embeddings"]
    folder = write_raw_model(
        tmp_path / "r",
        raw_safetensors(entries, header_order=order, data_order=order),
        config={"normalize": True, "format_version": "1.1"},
    )
    report = validate_model(folder)
    assert report.ok
    assert [(w.rule, w.code) for w in report.warnings if w.rule == "W3"] == [
        ("W3", "embeddings-not-first")
    ]
