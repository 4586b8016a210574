"""distill / distill_from_model end to end on tiny WordPiece, BPE and Unigram teachers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from m2v_distill import (
    DeviceUnavailableError,
    EmptyVocabularyError,
    PoolingUnavailableError,
    SlowTokenizerError,
    TeacherNotFoundError,
    distill,
    distill_from_model,
)
from m2v_format import load_model, validate_model
from m2v_infer import StaticModel

TEXTS = ["the cat sat on the mat", "a king and a queen", "New York city!", "", "tokenization"]


def _teacher_vector(folder: Path, ids: list[int], pooling: str = "mean") -> np.ndarray:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(folder).eval()
    with torch.inference_mode():
        output = model(input_ids=torch.tensor([ids]))
    if pooling == "pooler":
        return output.pooler_output[0].numpy()
    hidden = output.last_hidden_state[0]
    return {"mean": hidden.mean(0), "first": hidden[0], "last": hidden[-1]}[pooling].numpy()


@pytest.mark.parametrize("name", ["bert", "roberta", "gpt2", "xlmr"])
def test_every_tokenizer_kind_distills_to_a_valid_model(
    teachers: dict[str, Path], tmp_path: Path, name: str
) -> None:
    model = distill(str(teachers[name]), pca_dims=8, show_progress=False)
    assert isinstance(model, StaticModel)
    assert model.dim == 8
    assert model.normalize
    embeddings = model.encode(TEXTS)
    assert embeddings.shape == (len(TEXTS), 8)
    assert embeddings.dtype == np.float32
    norms = np.linalg.norm(embeddings, axis=1)
    np.testing.assert_allclose(norms[[0, 1, 2, 4]], 1.0, rtol=1e-5)
    assert norms[3] == 0.0  # empty text: zero vector
    folder = model.save_pretrained(tmp_path / name)
    assert validate_model(folder).ok
    data = load_model(folder)
    assert data.dtype == np.float16
    assert data.config.normalize is True
    assert data.config.tokenizer_name == name
    assert data.config.apply_pca == 8
    np.testing.assert_allclose(StaticModel.from_pretrained(folder).encode(TEXTS), embeddings)


@pytest.mark.peer
@pytest.mark.parametrize("name", ["bert", "roberta", "gpt2", "xlmr"])
def test_saved_model_loads_in_model2vec_and_sentence_transformers(
    teachers: dict[str, Path], tmp_path: Path, name: str
) -> None:
    from model2vec import StaticModel as Model2VecModel
    from sentence_transformers import SentenceTransformer

    folder = distill(
        str(teachers[name]), pca_dims=8, vocabulary=["kingly", "new york"], show_progress=False
    ).save_pretrained(tmp_path / "student")
    ours = StaticModel.from_pretrained(folder).encode(TEXTS)
    theirs = Model2VecModel.from_pretrained(folder).encode(TEXTS)
    np.testing.assert_allclose(ours, theirs, atol=2e-3)
    # sentence-transformers averages the unknown token's vector too (m2v and model2vec drop
    # it), so compare on texts every tiny tokenizer covers ("!" is unknown to the Unigram one).
    covered = ["the cat sat on the mat", "a king and a queen", "new york city"]
    sentence_transformer = SentenceTransformer(str(folder), device="cpu")
    st = sentence_transformer.encode(covered, convert_to_numpy=True)
    np.testing.assert_allclose(StaticModel.from_pretrained(folder).encode(covered), st, atol=2e-3)


def test_word_vector_is_the_teachers_pooled_output(bert_teacher: Path) -> None:
    model = distill(
        str(bert_teacher),
        vocabulary=["kingly"],
        pca_dims=None,
        sif_coefficient=None,
        quantize_to="float32",
        show_progress=False,
        compute_dtype="float32",
    )
    word_id = model.tokenizer.token_to_id("kingly")
    cls, king, ly, sep = 2, None, None, 3
    del king, ly
    from transformers import AutoTokenizer

    teacher_ids = AutoTokenizer.from_pretrained(bert_teacher)("kingly")["input_ids"]
    assert teacher_ids[0] == cls
    assert teacher_ids[-1] == sep
    assert len(teacher_ids) == 4
    expected = _teacher_vector(bert_teacher, teacher_ids)
    np.testing.assert_allclose(model.embedding[word_id], expected, rtol=1e-4, atol=1e-5)
    encoded = model.encode(["Kingly"])[0]
    np.testing.assert_allclose(encoded, expected / np.linalg.norm(expected), atol=1e-5)


@pytest.mark.parametrize("pooling", ["first", "last", "pooler"])
def test_pooling_modes(bert_teacher: Path, pooling: str) -> None:
    model = distill(
        str(bert_teacher),
        pca_dims=None,
        sif_coefficient=None,
        quantize_to="float32",
        pooling=pooling,
        show_progress=False,
        compute_dtype="float32",
    )
    row = model.tokenizer.token_to_id("queen")
    from transformers import AutoTokenizer

    ids = AutoTokenizer.from_pretrained(bert_teacher)("queen")["input_ids"]
    expected = _teacher_vector(bert_teacher, ids, pooling)
    np.testing.assert_allclose(model.embedding[row], expected, rtol=1e-4, atol=1e-5)
    assert model.config["pooling"] == pooling


def test_pooler_without_pooler_output_is_a_clear_error(teachers: dict[str, Path]) -> None:
    with pytest.raises(PoolingUnavailableError, match="pooler_output"):
        distill(str(teachers["gpt2"]), pooling="pooler", show_progress=False)


def test_sif_weights_scale_rows(bert_teacher: Path) -> None:
    common = {"pca_dims": None, "quantize_to": "float32", "show_progress": False}
    plain = distill(str(bert_teacher), sif_coefficient=None, **common)
    weighted = distill(str(bert_teacher), sif_coefficient=1e-2, **common)
    ratio = np.linalg.norm(weighted.embedding, axis=1) / np.linalg.norm(plain.embedding, axis=1)
    assert np.all(np.diff(ratio) > -1e-6)  # weights grow with the token id (Zipf rank)
    assert ratio[0] < ratio[-1] < 1.0


def test_int8_uses_per_row_scales_in_the_weights(bert_teacher: Path, tmp_path: Path) -> None:
    model = distill(str(bert_teacher), pca_dims=8, quantize_to="int8", show_progress=False)
    folder = model.save_pretrained(tmp_path / "int8")
    data = load_model(folder)
    assert data.dtype == np.int8
    assert data.embeddings_scale is None
    assert data.weights is not None
    assert data.config.format_version == "1.0"
    reference = distill(str(bert_teacher), pca_dims=8, quantize_to="float32", show_progress=False)
    cosine = np.sum(model.encode(TEXTS[:3]) * reference.encode(TEXTS[:3]), axis=1)
    assert np.all(cosine > 0.999)


def test_vocabulary_quantization_writes_weights_and_mapping(
    bert_teacher: Path, tmp_path: Path
) -> None:
    model = distill(str(bert_teacher), pca_dims=8, vocabulary_quantization=16, show_progress=False)
    folder = model.save_pretrained(tmp_path / "vq")
    data = load_model(folder)
    assert data.rows == 16
    assert data.mapping is not None
    assert data.weights is not None
    assert data.mapping.dtype == np.int32
    assert data.weights.dtype == np.float32
    assert len(data.mapping) == data.vocab_size
    assert data.config.vocabulary_quantization == 16
    assert validate_model(folder).ok
    assert np.all(np.isfinite(model.encode(TEXTS)))


def test_more_clusters_than_tokens_is_refused(bert_teacher: Path) -> None:
    from m2v_distill import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="vocabulary_quantization=100000") as caught:
        distill(str(bert_teacher), pca_dims=8, vocabulary_quantization=100_000, show_progress=False)
    assert caught.value.code == "invalid-argument"
    assert "at most" in str(caught.value)


def test_pca_float_and_auto(bert_teacher: Path) -> None:
    auto = distill(str(bert_teacher), pca_dims="auto", show_progress=False)
    assert auto.dim == 16  # the teacher's hidden size
    fraction = distill(str(bert_teacher), pca_dims=0.5, show_progress=False)
    assert 1 <= fraction.dim < 16


def test_distill_from_model_accepts_loaded_objects(bert_teacher: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    model = distill_from_model(
        AutoModel.from_pretrained(bert_teacher),
        AutoTokenizer.from_pretrained(bert_teacher),
        pca_dims=4,
        show_progress=False,
    )
    assert model.dim == 4
    assert model.base_model_name == bert_teacher.name
    assert "[CLS]" not in model.tokenizer.get_vocab()


def test_distill_is_deterministic(bert_teacher: Path) -> None:
    first = distill(str(bert_teacher), pca_dims=8, show_progress=False)
    second = distill(str(bert_teacher), pca_dims=8, show_progress=False)
    np.testing.assert_array_equal(first.embedding, second.embedding)


def test_errors(bert_teacher: Path, slow_teacher: Path, tmp_path: Path) -> None:
    with pytest.raises(TeacherNotFoundError):
        distill(str(tmp_path / "missing"))
    with pytest.raises(TeacherNotFoundError):
        distill("nobody-has/this-model-offline")
    with pytest.raises(SlowTokenizerError, match="fast tokenizer"):
        distill(str(slow_teacher))
    with pytest.raises(EmptyVocabularyError):
        distill(str(bert_teacher), vocabulary=["", "  "])
    with pytest.raises(EmptyVocabularyError):
        distill(str(bert_teacher), token_remove_pattern=".", show_progress=False)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailableError):
            distill(str(bert_teacher), device="cuda", show_progress=False)


def test_progress_line_reports_rate_and_eta(
    bert_teacher: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    distill(str(bert_teacher), pca_dims=4, show_progress=True)
    err = capsys.readouterr().err
    assert "Embedding tokens" in err
    assert "tokens/s" in err
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d", err), err  # elapsed<ETA


def test_batches_respect_sequence_and_position_budgets() -> None:
    from m2v_distill._embed import TOKENS_PER_SEQUENCE, _batches

    lengths = np.array([3] * 10 + [40] * 3 + [3] * 5)
    order = np.argsort(lengths, kind="stable")
    batches = list(_batches(order, lengths, 4))
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 4
        assert len(batch) == 1 or len(batch) * lengths[batch].max() <= 4 * TOKENS_PER_SEQUENCE


def test_bfloat16_forward_is_close_and_leaves_the_model_alone(bert_teacher: Path) -> None:
    import torch
    from m2v_distill._embed import native_bfloat16
    from transformers import AutoModel, AutoTokenizer

    teacher = AutoModel.from_pretrained(bert_teacher)
    tokenizer = AutoTokenizer.from_pretrained(bert_teacher)
    common = {"pca_dims": None, "quantize_to": "float32", "show_progress": False}
    exact = distill_from_model(teacher, tokenizer, compute_dtype="float32", **common)
    fast = distill_from_model(teacher, tokenizer, compute_dtype="bfloat16", **common)
    assert next(teacher.parameters()).dtype == torch.float32  # autocast, not a cast
    a, b = exact.embedding.astype(np.float64), fast.embedding.astype(np.float64)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.99
    assert not native_bfloat16("cuda")
    assert not native_bfloat16("mps")
