"""StaticModel's API: loading options, properties, argument checks, shapes, streaming."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import m2v_infer
import numpy as np
import pytest
from m2v_format import (
    FormatError,
    M2VError,
    ModelNotFoundError,
    UsageError,
    load_model,
    reference_encode,
)
from m2v_infer import (
    DefaultModelMissingError,
    InferError,
    InvalidArgumentError,
    InvalidInputError,
    StaticModel,
)
from m2v_testkit import SMALL_TEXTS, save_tiny_model, small_wordpiece


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return save_tiny_model(tmp_path / "small", small_wordpiece(), dim=12)


def test_public_api_is_all() -> None:
    public = {name for name in dir(m2v_infer) if not name.startswith("_")}
    assert public == set(m2v_infer.__all__) - {"__version__"}


def test_shapes_and_dtypes(potion: StaticModel) -> None:
    assert potion.encode("hello").shape == (256,)
    assert potion.encode(["hello", "world"]).shape == (2, 256)
    assert potion.encode(["hello"]).dtype == np.float32
    empty = potion.encode([])
    assert empty.shape == (0, 256)
    assert empty.dtype == np.float32
    assert potion.encode(iter([])).shape == (0, 256)
    assert potion.encode([], dimensions=8).shape == (0, 8)


def test_normalized_outputs_have_unit_norm(potion: StaticModel, real_corpus: list[str]) -> None:
    vectors = potion.encode(real_corpus[:500])
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms[norms > 0], 1.0, atol=1e-5)


def test_generators_and_tuples_equal_lists(potion: StaticModel, real_corpus: list[str]) -> None:
    texts = real_corpus[:2500]
    expected = potion.encode(texts)
    assert np.array_equal(potion.encode(t for t in texts), expected)
    assert np.array_equal(potion.encode(tuple(texts), batch_size=100), expected)
    assert np.array_equal(potion.encode(np.array(texts)), expected)
    assert np.array_equal(potion.encode(texts, batch_size=7, num_threads=3), expected)
    assert np.array_equal(potion.encode(texts, use_multiprocessing=False), expected)


def test_encode_iter_yields_batches_in_order(potion: StaticModel, real_corpus: list[str]) -> None:
    texts = real_corpus[:1000]
    batches = list(potion.encode_iter(iter(texts), batch_size=128, num_threads=2))
    assert [len(b) for b in batches] == [128] * 7 + [104]
    assert np.array_equal(np.concatenate(batches), potion.encode(texts))


def test_encode_iter_reads_lazily(potion: StaticModel) -> None:
    consumed = 0

    def endless() -> Iterator[str]:
        nonlocal consumed
        for index in itertools.count():
            consumed += 1
            yield f"sentence number {index}"

    stream = potion.encode_iter(endless(), batch_size=10, num_threads=2)
    first = next(stream)
    assert first.shape == (10, 256)
    # At most two batches per thread are in flight, plus the one being cut.
    assert consumed <= 10 * (2 * 2 + 1)
    for _ in range(50):
        next(stream)
    assert consumed <= 10 * (51 + 2 * 2 + 1)
    stream.close()


def test_encode_iter_single_string_is_one_text(potion: StaticModel) -> None:
    (batch,) = list(potion.encode_iter("one text"))
    assert batch.shape == (1, 256)


def test_dimensions_truncate_and_renormalize(potion: StaticModel) -> None:
    full = potion.encode(["a movie about a bank"], normalize=False)
    cut = potion.encode(["a movie about a bank"], dimensions=10)
    expected = full[:, :10] / np.linalg.norm(full[:, :10])
    assert np.allclose(cut, expected, atol=1e-6)
    raw = potion.encode(["a movie about a bank"], dimensions=10, normalize=False)
    assert np.array_equal(raw, full[:, :10])


def test_loading_options(potion_path: Path) -> None:
    model = StaticModel.from_pretrained(potion_path, normalize=False, max_length=None)
    assert model.normalize is False
    assert model.max_length is None
    assert model.config["normalize"] is False
    assert model.config["max_length"] is None
    reduced = StaticModel.from_pretrained(potion_path, dimensionality=64)
    assert reduced.dim == 64
    assert reduced.embedding.shape == (29528, 64)
    assert reduced.encode("hello").shape == (64,)


@pytest.mark.parametrize("dtype", ["float16", "int8", "float32"])
def test_quantize_to_at_load(potion_path: Path, potion: StaticModel, dtype: str) -> None:
    model = StaticModel.from_pretrained(potion_path, quantize_to=dtype)
    assert model.embedding_dtype == dtype
    texts = ["a movie about a bank", "the market fell sharply today"]
    expected = potion.encode(texts)
    tolerance = {"float32": 0.0, "float16": 1e-3, "int8": 3e-2}[dtype]
    assert np.abs(model.encode(texts) - expected).max() <= tolerance


def test_quantize_to_accepts_enums_and_rejects_others(potion_path: Path) -> None:
    class FakeDType:
        value = "int8"

    assert (
        StaticModel.from_pretrained(potion_path, quantize_to=FakeDType()).embedding_dtype == "int8"
    )
    assert (
        StaticModel.from_pretrained(potion_path, quantize_to=np.float16).embedding_dtype
        == "float16"
    )
    with pytest.raises(InvalidArgumentError, match="quantize_to"):
        StaticModel.from_pretrained(potion_path, quantize_to="bfloat16")


def test_quantize_and_dimensionality_together(potion_path: Path) -> None:
    model = StaticModel.from_pretrained(potion_path, quantize_to="int8", dimensionality=32)
    assert model.embedding.shape == (29528, 32)
    assert model.embedding_dtype == "int8"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dimensionality": 0}, "dimensionality"),
        ({"dimensionality": 1000}, "dimensionality"),
        ({"max_length": 0}, "max_length"),
        ({"max_length": 2.5}, "max_length"),
        ({"max_length": True}, "max_length"),
        ({"normalize": "yes"}, "normalize"),
        ({"vocabulary_quantization": 0}, "vocabulary_quantization"),
        ({"vocabulary_quantization": 10**6}, "at most"),
    ],
)
def test_bad_load_arguments(potion_path: Path, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match) as caught:
        StaticModel.from_pretrained(potion_path, **kwargs)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, UsageError)  # the caller's mistake, not a bad file
    assert not isinstance(caught.value, FormatError)
    assert caught.value.code == "invalid-argument"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_length": 0}, "max_length"),
        ({"max_length": -3}, "max_length"),
        ({"batch_size": 0}, "batch_size"),
        ({"dimensions": 0}, "dimensions"),
        ({"dimensions": 257}, "dimensions"),
        ({"num_threads": 0}, "num_threads"),
        ({"normalize": 1}, "normalize"),
    ],
)
def test_bad_encode_arguments(potion: StaticModel, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        potion.encode(["hello"], **kwargs)


@pytest.mark.parametrize("bad", [[1, 2], ["ok", None], [b"bytes"], b"bytes", 42])
def test_non_strings_are_rejected(potion: StaticModel, bad: Any) -> None:
    with pytest.raises(InvalidInputError) as caught:
        potion.encode(bad)
    assert isinstance(caught.value, TypeError)
    assert caught.value.code == "invalid-input"


def test_non_string_error_names_the_position(potion: StaticModel) -> None:
    texts: list[Any] = ["fine"] * 3000
    texts[2500] = 7
    with pytest.raises(
        InvalidInputError, match=r"text is a int, not a str \(text 2500\)"
    ) as caught:
        potion.encode(texts, batch_size=1000)
    assert caught.value.index == 2500


def test_unknown_keyword_arguments_are_ignored(potion: StaticModel) -> None:
    assert potion.encode(["x"], convert_to_numpy=True, device="cpu").shape == (1, 256)


def test_settable_properties(small: Path) -> None:
    model = StaticModel.from_pretrained(small)
    data = load_model(small)
    model.normalize = False
    model.max_length = 2
    assert model.config["normalize"] is False
    assert model.config["max_length"] == 2
    expected = reference_encode(data, SMALL_TEXTS, max_length=2, normalize=False)
    assert np.allclose(model.encode(SMALL_TEXTS), expected, atol=1e-6)
    with pytest.raises(InvalidArgumentError):
        model.max_length = 0
    with pytest.raises(InvalidArgumentError):
        model.normalize = None  # type: ignore[assignment]


def test_properties(potion: StaticModel, potion_path: Path) -> None:
    assert potion.dim == 256
    assert potion.unk_token_id == potion.tokens.index("[UNK]")
    assert potion.median_token_length == 6
    assert potion.max_length == 512
    assert potion.normalize is True
    assert len(potion.tokens) == 29528
    assert potion.embedding.shape == (29528, 256)
    assert potion.weights is None
    assert potion.token_mapping is None
    assert potion.vocabulary_quantization is None
    assert potion.path == potion_path
    assert potion.config["normalize"] is True
    assert potion.config["max_length"] == 512
    assert "StaticModel(" in repr(potion)
    assert potion.tokenizer.truncation is None


def test_model2vec_constructor(small: Path) -> None:
    data = load_model(small)
    model = StaticModel(
        np.asarray(data.embeddings),
        data.tokenizer,
        config={"apply_pca": 12},
        normalize=True,
        base_model_name="base/model",
        language=["en"],
        max_length=None,
    )
    assert model.max_length is None
    assert model.normalize is True
    assert model.base_model_name == "base/model"
    assert model.language == ["en"]
    expected = reference_encode(data, SMALL_TEXTS, max_length=None, normalize=True)
    assert np.allclose(model.encode(SMALL_TEXTS), expected, atol=1e-6)


def test_from_data(small: Path) -> None:
    data = load_model(small)
    model = StaticModel.from_data(data, normalize=False)
    assert model.normalize is False
    assert model.max_length == 512


def test_tokenize(potion: StaticModel) -> None:
    ids = potion.tokenize(["hello world", "😀", ""])
    assert ids[1] == []
    assert ids[2] == []
    assert potion.tokenize("hello world") == [ids[0]]
    assert len(potion.tokenize(["word " * 1000])[0]) == 512
    assert len(potion.tokenize(["word " * 1000], max_length=None)[0]) == 1000


def test_default_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, small: Path) -> None:
    import m2v_infer._default as default

    monkeypatch.setattr(default, "DEFAULT_MODEL_DIR", tmp_path / "nothing-here")
    with pytest.raises(DefaultModelMissingError) as caught:
        StaticModel.from_pretrained()
    assert caught.value.code == "default-model-missing"
    assert isinstance(caught.value, InferError)
    assert isinstance(caught.value, M2VError)
    monkeypatch.setattr(default, "DEFAULT_MODEL_DIR", small)
    assert StaticModel.from_pretrained().dim == 12


def test_missing_model_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        StaticModel.from_pretrained(tmp_path / "absent")


def test_progress_bar_goes_to_stderr(
    potion: StaticModel, real_corpus: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    count = len(real_corpus)
    potion.encode(real_corpus, show_progress_bar=True, batch_size=500)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{count}/{count}" in captured.err
    assert "texts/s" in captured.err


def test_constructor_copies_the_tokenizer(small: Path) -> None:
    data = load_model(small)
    tokenizer = data.tokenizer.__class__.from_str(data.tokenizer.to_str())
    tokenizer.enable_truncation(2)
    model = StaticModel(np.asarray(data.embeddings), tokenizer, normalize=True, max_length=None)
    tokenizer.enable_truncation(1)
    assert model.tokenizer.truncation is None
    expected = reference_encode(data, SMALL_TEXTS, max_length=None, normalize=True)
    assert np.allclose(model.encode(SMALL_TEXTS), expected, atol=1e-6)


def test_bundled_default_model_matches_the_reference(real_corpus: list[str]) -> None:
    if not (m2v_infer.DEFAULT_MODEL_DIR / "model.safetensors").is_file():
        pytest.skip("this installation bundles no default model")
    model = StaticModel.from_pretrained()
    assert model.path == m2v_infer.default_model_path()
    texts = real_corpus[::5]
    expected = reference_encode(load_model(model.path), texts, max_length=model.max_length)
    assert np.abs(model.encode(texts) - expected).max() <= 1e-6


def test_bundled_default_model_validates_without_warnings() -> None:
    """Including W3: its header lists `embeddings` first (some readers take the first tensor)."""
    from m2v_format import validate_model

    if not (m2v_infer.DEFAULT_MODEL_DIR / "model.safetensors").is_file():
        pytest.skip("this installation bundles no default model")
    report = validate_model(m2v_infer.default_model_path())
    assert report.ok, [str(v) for v in report.violations]
    assert [(w.rule, w.code) for w in report.warnings] == []


def test_constructor_refuses_a_table_that_does_not_fit_the_tokenizer(potion: StaticModel) -> None:
    """Like model2vec, at construction: 100 rows for a 29,528-token vocabulary would raise an
    IndexError later, or silently give wrong vectors for texts whose ids are all below 100."""
    from m2v_format import VocabularySizeMismatchError

    with pytest.raises(VocabularySizeMismatchError, match="100 rows but the tokenizer has 29528"):
        StaticModel(np.zeros((100, 8), dtype=np.float32), potion.tokenizer)
    with pytest.raises(FormatError, match="NaN"):
        StaticModel(np.full((29528, 4), np.nan, dtype=np.float32), potion.tokenizer)
    built = StaticModel(np.ones((29528, 4), dtype=np.float32), potion.tokenizer)
    assert built.encode("fine").shape == (4,)
