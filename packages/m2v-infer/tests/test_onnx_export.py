"""ONNX exports (m2v_format.export_onnx, spec/onnx.md) run in onnxruntime equal m2v-infer.

Every graph is run the way spec/onnx.md tells a client to (rule O7: cut the text, tokenize
with the exported tokenizer.json without special tokens, keep max_length ids, feed them)
and compared with ``m2v_infer.StaticModel.encode`` over about 3,000 real texts plus the
hand-written edge cases: potion-base-8M (float32, and converted to float16 and int8), the
bundled default model (int8 with a scale), a vocabulary-quantized model, both input forms,
with and without normalization.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import export_onnx, load_model, quantize_vocabulary, save_model
from m2v_infer import StaticModel, default_model_path

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ATOL = 1e-5
UNSET: Any = object()


class OnnxClient:
    """The client side of spec/onnx.md (O7) in a few lines: what a user of the export writes."""

    def __init__(self, folder: Path, dtype: str | None = None) -> None:
        from tokenizers import Tokenizer

        self.config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        files = self.config["files"]
        graph = folder / files[dtype or next(iter(files))]
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    def ids(self, texts: Sequence[str], max_length: Any = UNSET) -> list[list[int]]:
        limit = self.config["max_length"] if max_length is UNSET else max_length
        if limit is not None:
            texts = [text[: limit * self.config["median_token_length"]] for text in texts]
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        rows = [list(encoding.ids) for encoding in encodings]
        return rows if limit is None else [row[:limit] for row in rows]

    def encode(self, texts: Sequence[str], max_length: Any = UNSET) -> np.ndarray[Any, Any]:
        rows = self.ids(texts, max_length)
        if self.config["inputs"] == "offsets":
            lengths = np.array([len(row) for row in rows], dtype=np.int64)
            feeds = {
                "input_ids": np.array([i for row in rows for i in row], dtype=np.int64),
                "offsets": np.cumsum(lengths) - lengths,
            }
        else:
            width = max(map(len, rows), default=0)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for i, row in enumerate(rows):
                ids[i, : len(row)] = row
                mask[i, : len(row)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
        (vectors,) = self.session.run(["embeddings"], feeds)
        assert vectors.dtype == np.float32
        return np.asarray(vectors)


def _assert_same(got: np.ndarray[Any, Any], expected: np.ndarray[Any, Any]) -> None:
    """Within 1e-5 (relative for the large values of unnormalized vectors): the graph sums in
    float64, m2v-infer in float32 (both allowed by rule I5), so long texts differ slightly."""
    assert got.shape == expected.shape
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=ATOL, atol=ATOL)


@pytest.fixture(scope="module")
def potion_exports(potion_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """potion-base-8M exported with each input form (float32, normalized as the model says)."""
    root = tmp_path_factory.mktemp("potion-onnx")
    return {
        form: export_onnx(potion_path, root / form, inputs=form) for form in ("offsets", "padded")
    }


@pytest.mark.parametrize("form", ["offsets", "padded"])
def test_potion_matches_m2v_infer(
    form: str,
    potion_exports: dict[str, Path],
    potion: StaticModel,
    parity_corpus: list[str],
) -> None:
    client = OnnxClient(potion_exports[form])
    assert client.config["normalize"] is True
    assert len(parity_corpus) > 2900
    _assert_same(client.encode(parity_corpus), potion.encode(parity_corpus))
    # the client's cuts (I2, I3) with another max_length, and none at all
    texts = parity_corpus[::5]
    for max_length in (16, None):
        _assert_same(
            client.encode(texts, max_length=max_length),
            potion.encode(texts, max_length=max_length),
        )


def test_potion_ids_are_m2v_infers(
    potion_exports: dict[str, Path], potion: StaticModel, parity_corpus: list[str]
) -> None:
    """The exported tokenizer.json (no post-processor) gives the ids m2v-infer pools, before
    the graph drops the unknown id; with special tokens requested, still the same ids."""
    client = OnnxClient(potion_exports["offsets"])
    unknown = client.config["unknown_token_id"]
    ids = client.ids(parity_corpus)
    assert [[i for i in row if i != unknown] for row in ids] == potion.tokenize(parity_corpus)
    texts = parity_corpus[:500]
    with_specials = [e.ids for e in client.tokenizer.encode_batch(texts, add_special_tokens=True)]
    without = [e.ids for e in client.tokenizer.encode_batch(texts, add_special_tokens=False)]
    assert with_specials == without


def test_potion_without_normalization(
    potion_path: Path, tmp_path: Path, parity_corpus: list[str]
) -> None:
    folder = export_onnx(potion_path, tmp_path / "onnx", normalize=False)
    client = OnnxClient(folder)
    assert client.config["normalize"] is False
    expected = StaticModel.from_pretrained(potion_path, normalize=False).encode(parity_corpus)
    _assert_same(client.encode(parity_corpus), expected)
    assert not np.allclose(np.linalg.norm(expected, axis=1)[:100], 1.0)
    # where the two differ most, the float64 sums of the graph are the closer to the exact
    # mean (a text of 512 equal tokens: float32 accumulation drifts)
    got = client.encode(parity_corpus)
    worst = int(np.argmax(np.abs(got - expected).max(axis=1)))
    model = load_model(potion_path)
    ids = StaticModel.from_data(model).tokenize([parity_corpus[worst]])[0]
    exact = np.asarray(model.embeddings, dtype=np.float64)[ids].mean(axis=0)
    assert np.abs(got[worst] - exact).max() <= np.abs(expected[worst] - exact).max()


def _initializers(graph: Path) -> dict[str, Any]:
    model = onnx.load(str(graph))
    return {init.name: init for init in model.graph.initializer}


def test_potion_float16_and_int8_tables(
    potion_path: Path, tmp_path: Path, real_corpus: list[str]
) -> None:
    """``dtypes`` converts with m2v's quantize: the graphs store float16 / int8 tables and
    equal m2v-infer on the same conversion (``quantize_to``)."""
    folder = export_onnx(potion_path, tmp_path / "onnx", dtypes=["float16", "int8", "float32"])
    config = json.loads((folder / "config.json").read_text())
    assert config["files"] == {
        "float16": "onnx/model_fp16.onnx",
        "int8": "onnx/model_int8.onnx",
        "float32": "onnx/model.onnx",
    }
    assert config["transformers.js_config"] == {"dtype": "fp16"}
    stored = {"float16": onnx.TensorProto.FLOAT16, "int8": onnx.TensorProto.INT8}
    sizes = {}
    for dtype, kind in stored.items():
        graph = folder / config["files"][dtype]
        tables = _initializers(graph)
        assert tables["token_table"].data_type == kind
        if dtype == "int8":  # one global scale, or per-row scales folded into the weights
            assert "table_scale" in tables or "token_weights" in tables
        sizes[dtype] = graph.stat().st_size
        expected = StaticModel.from_pretrained(potion_path, quantize_to=dtype).encode(real_corpus)
        _assert_same(OnnxClient(folder, dtype).encode(real_corpus), expected)
    f32 = (folder / "onnx/model.onnx").stat().st_size
    assert sizes["int8"] < 0.3 * f32
    assert sizes["float16"] < 0.55 * f32


@pytest.mark.parametrize("normalize", [None, False])
def test_default_model_int8_with_scale(
    normalize: bool | None, tmp_path: Path, parity_corpus: list[str]
) -> None:
    """The bundled model (int8 + embeddings_scale) keeps its int8 table and its scale."""
    source = default_model_path()
    data = load_model(source)
    assert data.dtype == np.int8
    assert data.embeddings_scale is not None
    folder = export_onnx(source, tmp_path / "onnx", normalize=normalize)
    config = json.loads((folder / "config.json").read_text())
    assert config["files"] == {"int8": "onnx/model_int8.onnx"}
    tables = _initializers(folder / "onnx/model_int8.onnx")
    assert tables["token_table"].data_type == onnx.TensorProto.INT8
    scale = onnx.numpy_helper.to_array(tables["table_scale"])
    assert float(scale) == pytest.approx(data.embeddings_scale, rel=0, abs=0)
    expected = StaticModel.from_pretrained(source, normalize=normalize).encode(parity_corpus)
    _assert_same(OnnxClient(folder).encode(parity_corpus), expected)


def test_vocabulary_quantized_model(tmp_path: Path, real_corpus: list[str]) -> None:
    """mapping and weights are applied in the graph (a model clustered with m2v's own code)."""
    clustered = quantize_vocabulary(load_model(default_model_path()), 256)
    source = save_model(tmp_path / "vq", clustered)
    for form in ("offsets", "padded"):
        folder = export_onnx(source, tmp_path / form, inputs=form)
        tables = _initializers(folder / "onnx/model_int8.onnx")
        assert {"token_mapping", "token_weights"} <= set(tables)
        assert list(tables["token_table"].dims) == [256, clustered.dim]
        expected = StaticModel.from_pretrained(source).encode(real_corpus)
        _assert_same(OnnxClient(folder).encode(real_corpus), expected)


@pytest.mark.parametrize("form", ["offsets", "padded"])
def test_unknown_only_empty_texts_and_empty_batch(
    form: str, potion_exports: dict[str, Path], potion: StaticModel
) -> None:
    client = OnnxClient(potion_exports[form])
    unknown = client.config["unknown_token_id"]
    texts = ["[UNK]", "[UNK] [UNK]", "", "   ", "hello", "[UNK] hello [UNK]"]
    ids = client.ids(texts)
    assert ids[0] == [unknown]
    assert ids[1] == [unknown, unknown]
    assert ids[2] == ids[3] == []
    vectors = client.encode(texts)
    assert not vectors[:4].any()  # nothing left: the zero vector, also normalized (I6, I7)
    _assert_same(vectors, potion.encode(texts))
    np.testing.assert_array_equal(vectors[4], vectors[5])  # the unknown ids are dropped
    empty = client.encode([])
    assert empty.shape == (0, 256)
    assert empty.dtype == np.float32
