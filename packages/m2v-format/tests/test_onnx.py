"""``export_onnx`` and ``m2v export onnx``: the folder layout of spec/onnx.md, the graph run
in onnxruntime against ``reference_encode``, typed errors and the command line.

The graph needs the ``onnx`` extra and onnxruntime (dev group): those tests skip without
them (the slim CI venv); the missing-extra error is tested everywhere.  The comparison with
m2v-infer over thousands of real texts is in ``packages/m2v-infer/tests/test_onnx_export.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import (
    InvalidArgumentError,
    MissingDependencyError,
    ModelNotFoundError,
    NonFiniteValueError,
    OutputExistsError,
    StaticModelData,
    VocabularySizeMismatchError,
    export_onnx,
    load_model,
    reference_encode,
)
from m2v_format.cli import EXIT_FAILURE, EXIT_OK, main
from m2v_testkit import save_tiny_model, tiny_model, tiny_tokenizer

SUITE_MODELS = Path(__file__).resolve().parents[3] / "spec" / "conformance" / "models"


@pytest.fixture(scope="module")
def onnx() -> Any:
    return pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def ort() -> Any:
    pytest.importorskip("onnx")
    return pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def potion_export(potion_path: Path, tmp_path_factory: pytest.TempPathFactory, onnx: Any) -> Path:
    """potion-base-8M exported with the defaults (float32 table, offsets inputs)."""
    return export_onnx(potion_path, tmp_path_factory.mktemp("export") / "potion-onnx")


def _session(ort: Any, graph: Path) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def _raw_ids(model: StaticModelData, texts: Sequence[str]) -> list[list[int]]:
    """Rule I3 without a cut: the ids a client feeds (unknown ids included)."""
    return [list(model.tokenizer.encode(text, add_special_tokens=False).ids) for text in texts]


def _offsets_feeds(rows: list[list[int]]) -> dict[str, np.ndarray[Any, Any]]:
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    flat = np.array([i for row in rows for i in row], dtype=np.int64)
    return {"input_ids": flat, "offsets": np.cumsum(lengths) - lengths}


def _padded_feeds(rows: list[list[int]], pad: int = 0) -> dict[str, np.ndarray[Any, Any]]:
    width = max(map(len, rows), default=0)
    ids = np.full((len(rows), width), pad, dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask}


# --------------------------------------------------------------------------- layout


def test_the_folder_holds_what_transformers_js_and_fastembed_read(
    potion_export: Path, potion_path: Path
) -> None:
    files = sorted(p.relative_to(potion_export).as_posix() for p in potion_export.rglob("*"))
    assert files == [
        "README.md",
        "config.json",
        "onnx",
        "onnx/model.onnx",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    config = json.loads((potion_export / "config.json").read_text())
    assert config["model_type"] == "model2vec"
    assert config["m2v_onnx_version"] == "1.0"
    assert config["inputs"] == "offsets"
    assert config["files"] == {"float32": "onnx/model.onnx"}
    assert config["transformers.js_config"] == {"dtype": "fp32"}
    assert (config["vocab_size"], config["hidden_dim"]) == (29528, 256)
    assert (config["normalize"], config["max_length"], config["median_token_length"]) == (
        True,
        512,
        6,
    )
    model = load_model(potion_path)
    assert config["unknown_token_id"] == model.unknown_token_id == 1
    assert config["pad_token_id"] == 0
    assert config["source_config"]["tokenizer_name"] == "baai/bge-base-en-v1.5"
    tokenizer = json.loads((potion_export / "tokenizer.json").read_text())
    assert tokenizer["padding"] is None
    assert tokenizer["truncation"] is None
    assert tokenizer["post_processor"] is None  # potion's stored one is BERT's template
    assert json.loads((potion_path / "tokenizer.json").read_text())["post_processor"] is not None
    tokenizer_config = json.loads((potion_export / "tokenizer_config.json").read_text())
    assert tokenizer_config["pad_token"] == "[PAD]"
    assert tokenizer_config["model_max_length"] == 512
    special = json.loads((potion_export / "special_tokens_map.json").read_text())
    assert special == {"pad_token": "[PAD]"}
    card = (potion_export / "README.md").read_text()
    assert card.startswith("---\n")
    assert "onnxruntime" in card
    assert "offsets" in card


def test_the_graph_is_standard_onnx_at_opset_18(potion_export: Path, onnx: Any) -> None:
    graph_path = potion_export / "onnx" / "model.onnx"
    onnx.checker.check_model(str(graph_path), full_check=True)
    model = onnx.load(str(graph_path))
    assert model.ir_version == 8
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 18)]
    assert {node.domain for node in model.graph.node} == {""}
    inputs = {i.name: i.type.tensor_type for i in model.graph.input}
    assert list(inputs) == ["input_ids", "offsets"]
    assert {t.elem_type for t in inputs.values()} == {onnx.TensorProto.INT64}
    assert [d.dim_param for d in inputs["input_ids"].shape.dim] == ["num_tokens"]
    assert [d.dim_param for d in inputs["offsets"].shape.dim] == ["batch_size"]
    (output,) = model.graph.output
    assert output.name == "embeddings"
    assert output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = output.type.tensor_type.shape.dim
    assert (dims[0].dim_param, dims[1].dim_value) == ("batch_size", 256)
    tables = {init.name: init for init in model.graph.initializer}
    assert list(tables["token_table"].dims) == [29528, 256]
    assert tables["token_table"].data_type == onnx.TensorProto.FLOAT
    assert "token_mapping" not in tables
    assert "token_weights" not in tables
    metadata = {p.key: p.value for p in model.metadata_props}
    assert metadata["m2v_onnx_version"] == "1.0"
    assert (metadata["normalize"], metadata["unknown_token_id"]) == ("true", "1")


# --------------------------------------------------------------------------- vectors


@pytest.mark.parametrize("form", ["offsets", "padded"])
def test_vectors_equal_reference_encode(
    form: str, potion_path: Path, tmp_path: Path, sentences: list[str], ort: Any
) -> None:
    model = load_model(potion_path)
    folder = export_onnx(model, tmp_path / "onnx", inputs=form)
    texts = [*sentences, "", "[UNK]", "hello [UNK] world", "\u2603"]
    rows = _raw_ids(model, texts)
    feeds = _offsets_feeds(rows) if form == "offsets" else _padded_feeds(rows)
    (got,) = _session(ort, folder / "onnx" / "model.onnx").run(None, feeds)
    expected = reference_encode(model, texts, max_length=None)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert not got[len(sentences) : len(sentences) + 2].any()  # empty, only unknown: zero


def test_vectors_do_not_depend_on_threads(
    potion_export: Path, potion_path: Path, sentences: list[str], ort: Any
) -> None:
    """Many threads give the same vectors, run after run (the graph has no scatter-add:
    onnxruntime's ScatterND adds repeated indices from several threads at once and loses
    some of the additions)."""
    model = load_model(potion_path)
    feeds = _offsets_feeds(_raw_ids(model, sentences * 4))
    graph = str(potion_export / "onnx" / "model.onnx")
    (one,) = _session(ort, potion_export / "onnx" / "model.onnx").run(None, feeds)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 4
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    runs = [session.run(None, feeds)[0] for _ in range(5)]
    for run in runs:
        np.testing.assert_array_equal(run, runs[0])
    np.testing.assert_allclose(runs[0], one, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        one, reference_encode(model, sentences * 4, max_length=None), atol=1e-6
    )


def test_padding_positions_are_never_read(tmp_path: Path, ort: Any) -> None:
    """Masked-out positions may hold any id, even one outside the vocabulary (O4)."""
    model = tiny_model(weights=True, clusters=5, normalize=False)
    folder = export_onnx(model, tmp_path / "onnx", inputs="padded")
    session = _session(ort, folder / "onnx" / "model.onnx")
    rows = _raw_ids(model, ["the cat sat", "hello", "", "a dog ran on the mat"])
    (with_zero,) = session.run(None, _padded_feeds(rows, pad=0))
    (with_junk,) = session.run(None, _padded_feeds(rows, pad=10**9))
    np.testing.assert_array_equal(with_zero, with_junk)
    texts = ["the cat sat", "hello", "", "a dog ran on the mat"]
    np.testing.assert_allclose(with_zero, reference_encode(model, texts), rtol=0, atol=1e-6)


def test_offsets_with_empty_texts_and_an_empty_batch(tmp_path: Path, ort: Any) -> None:
    model = tiny_model(normalize=True)
    folder = export_onnx(model, tmp_path / "onnx")
    session = _session(ort, folder / "onnx" / "model.onnx")
    texts = ["", "the cat", "", "", "[UNK] [UNK]", "world", ""]
    (got,) = session.run(None, _offsets_feeds(_raw_ids(model, texts)))
    np.testing.assert_allclose(got, reference_encode(model, texts), rtol=0, atol=1e-6)
    assert not got[[0, 2, 3, 4, 6]].any()
    (empty,) = session.run(None, _offsets_feeds([]))
    assert empty.shape == (0, 8)
    assert empty.dtype == np.float32


def test_a_tokenizer_without_unknown_token_drops_nothing(tmp_path: Path, onnx: Any) -> None:
    model = tiny_model(tiny_tokenizer(unk_token=None))
    folder = export_onnx(model, tmp_path / "onnx")
    assert json.loads((folder / "config.json").read_text())["unknown_token_id"] is None
    graph = onnx.load(str(folder / "onnx" / "model.onnx")).graph
    assert "unknown_id" not in {init.name for init in graph.initializer}
    assert "Equal" not in {node.op_type for node in graph.node}


def test_external_data_beside_the_graph(tmp_path: Path, ort: Any) -> None:
    model = tiny_model(dim=64, weights=True)
    inline = export_onnx(model, tmp_path / "inline", external_data=False)
    split = export_onnx(model, tmp_path / "split", external_data=True)
    assert (split / "onnx" / "model.onnx_data").is_file()
    assert not (inline / "onnx" / "model.onnx_data").exists()
    config = json.loads((split / "config.json").read_text())
    assert config["transformers.js_config"]["use_external_data_format"] == {"model.onnx": True}
    feeds = _offsets_feeds(_raw_ids(model, ["the cat sat on the mat", "dog"]))
    (a,) = _session(ort, inline / "onnx" / "model.onnx").run(None, feeds)
    (b,) = _session(ort, split / "onnx" / "model.onnx").run(None, feeds)
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- errors


def test_missing_onnx_is_a_typed_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes "import onnx" fail
    with pytest.raises(MissingDependencyError) as caught:
        export_onnx(tiny_model(), tmp_path / "out")
    assert caught.value.code == "missing-dependency"
    assert "m2v-format[onnx]" in str(caught.value)
    assert isinstance(caught.value, ImportError)
    source = save_tiny_model(tmp_path / "model")
    assert main(["export", "onnx", str(source), str(tmp_path / "out")]) == EXIT_FAILURE
    error = capsys.readouterr().err
    assert error.startswith("m2v export onnx: error[missing-dependency]: ")
    assert "m2v-format[onnx]" in error
    assert not (tmp_path / "out").exists()


def test_an_invalid_model_is_refused_and_nothing_is_written(tmp_path: Path, onnx: Any) -> None:
    out = tmp_path / "out"
    with pytest.raises(NonFiniteValueError):
        export_onnx(SUITE_MODELS / "invalid-embeddings-nan", out)
    with pytest.raises(ModelNotFoundError):
        export_onnx(tmp_path / "no-such-model", out)
    with pytest.raises(InvalidArgumentError, match="dtype"):
        export_onnx(tiny_model(), out, dtypes=["bfloat16"])
    with pytest.raises(InvalidArgumentError, match="input form"):
        export_onnx(tiny_model(), out, inputs="ragged")
    broken = tiny_model()
    broken.embeddings = broken.embeddings[:3]  # fewer rows than tokens (T5)
    with pytest.raises(VocabularySizeMismatchError):
        export_onnx(broken, out)
    assert list(tmp_path.iterdir()) == []  # no output, no staging folder left behind


def test_an_existing_output_needs_overwrite(tmp_path: Path, onnx: Any) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputExistsError) as caught:
        export_onnx(tiny_model(), out)
    assert caught.value.code == "output-exists"
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    export_onnx(tiny_model(), out, overwrite=True)
    assert (out / "onnx" / "model.onnx").is_file()
    assert not (out / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# --------------------------------------------------------------------------- command line


def test_m2v_export_onnx_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ort: Any
) -> None:
    source = save_tiny_model(tmp_path / "model", dtype=np.float16, normalize=False)
    out = tmp_path / "out"
    argv = ["export", "onnx", str(source), str(out), "--dtype", "float16", "--dtype", "int8"]
    assert main([*argv, "--inputs", "padded", "--normalize"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "12 tokens x 8 dims, inputs padded, normalize true" in printed
    assert "onnx/model_fp16.onnx" in printed
    assert "onnx/model_int8.onnx" in printed
    assert "total" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["files"] == {"float16": "onnx/model_fp16.onnx", "int8": "onnx/model_int8.onnx"}
    assert config["normalize"] is True
    assert config["inputs"] == "padded"
    model = load_model(source)
    rows = _raw_ids(model, ["the cat sat", "hello world"])
    (got,) = _session(ort, out / "onnx" / "model_fp16.onnx").run(None, _padded_feeds(rows))
    expected = reference_encode(model, ["the cat sat", "hello world"], normalize=True)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)

    assert main(argv) == EXIT_FAILURE
    assert capsys.readouterr().err.startswith("m2v export onnx: error[output-exists]: ")
    assert main([*argv, "--overwrite"]) == EXIT_OK
    capsys.readouterr()
    bad = SUITE_MODELS / "invalid-mapping-out-of-range"
    assert main(["export", "onnx", str(bad), str(tmp_path / "bad")]) == EXIT_FAILURE
    assert "error[mapping-out-of-range]" in capsys.readouterr().err


def test_m2v_export_onnx_help_is_registered() -> None:
    """The entry point is installed: ``m2v export onnx --help`` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-m", "m2v_format.cli", "export", "onnx", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "examples:" in result.stdout
    assert "(default: offsets)" in result.stdout
    assert "default: the model's stored" in result.stdout
    assert "m2v-format[onnx]" in result.stdout
