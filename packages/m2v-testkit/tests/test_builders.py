"""The builders make what their docstrings say: valid tiny models, exact raw files,
tokenizers with the ids the tests name."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from m2v_format import load_model, read_safetensors, validate_model
from m2v_testkit import (
    EDGE_CASES,
    SMALL_TEXTS,
    SYNTHETIC_WORDS,
    TINY_WORDS,
    BagOfWordsTeacher,
    RawTensor,
    bf16_entry,
    header_bytes,
    raw_safetensors,
    save_tiny_model,
    sentiment_texts,
    small_unigram,
    small_wordlevel,
    small_wordpiece,
    synthetic_corpus,
    synthetic_model,
    synthetic_tokenizer,
    teacher_bpe,
    teacher_unigram,
    teacher_wordpiece,
    tensor_entry,
    tiny_model,
    tiny_tokenizer,
    topic_texts,
    valid_embeddings,
    vocab_size,
    write_raw_model,
)
from tokenizers import Tokenizer


def test_tiny_tokenizer_ids_follow_tiny_words() -> None:
    tokenizer = tiny_tokenizer()
    assert tokenizer.encode("the cat zebra").ids == [2, 3, 0]
    assert tokenizer.get_vocab() == {word: i for i, word in enumerate(TINY_WORDS)}
    without = tiny_tokenizer(unk_token=None)
    assert without.token_to_id(without.model.unk_token) is None  # no unknown token (K3)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"weights": True, "clusters": 5},
        {"dtype": np.float16, "normalize": False},
        {"dtype": "int8", "scale": 0.25},
    ],
)
def test_tiny_models_are_valid_and_deterministic(
    tmp_path: Path, options: dict[str, object]
) -> None:
    folder = save_tiny_model(tmp_path / "m", **options)  # type: ignore[arg-type]
    assert validate_model(folder).ok
    loaded = load_model(folder)
    again = tiny_model(**options)  # type: ignore[arg-type]
    np.testing.assert_array_equal(np.asarray(loaded.embeddings), np.asarray(again.embeddings))
    assert loaded.rows == options.get("clusters", len(TINY_WORDS))


def test_tiny_model_options() -> None:
    model = tiny_model(weights=True, clusters=5, seed=3)
    assert model.mapping is not None
    assert list(model.mapping) == [i % 5 for i in range(12)]
    assert model.weights is not None
    assert 0.5 <= float(np.min(model.weights)) < 2.0
    given = np.ones((12, 3), np.float32)
    np.testing.assert_array_equal(np.asarray(tiny_model(embeddings=given).embeddings), given)
    assert tiny_model(dtype="int8").embeddings.dtype == np.int8


def test_raw_safetensors_layout() -> None:
    first, second = np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(4, dtype=np.int64)
    data = raw_safetensors(
        [tensor_entry("b", second), tensor_entry("a", first)], metadata={"k": "v"}
    )
    (size,) = struct.unpack("<Q", data[:8])
    assert size % 8 == 0
    header = json.loads(data[8 : 8 + size])
    assert list(header) == ["__metadata__", "a", "b"]  # sorted by name, metadata first
    assert header["a"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    assert header["b"] == {"dtype": "I64", "shape": [4], "data_offsets": [24, 56]}
    assert data[8 + size :] == first.tobytes() + second.tobytes()


def test_raw_safetensors_reads_back_with_m2v_format(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(raw_safetensors([tensor_entry("e", valid_embeddings())]))
    np.testing.assert_array_equal(read_safetensors(path)["e"], valid_embeddings())


def test_offsets_bf16_and_framing_can_lie() -> None:
    lying = raw_safetensors([tensor_entry("e", np.ones(4, np.float32))], offsets={"e": (0, 8)})
    size = struct.unpack("<Q", lying[:8])[0]
    assert json.loads(lying[8 : 8 + size])["e"]["data_offsets"] == [0, 8]
    bf16 = bf16_entry("w", np.array([1.0, -2.0], np.float32))
    assert bf16 == RawTensor("w", "BF16", (2,), bytes.fromhex("803f00c0"))
    assert header_bytes(b"{oops") == struct.pack("<Q", 8) + b"{oops   "


def test_write_raw_model_writes_what_it_is_given(tmp_path: Path) -> None:
    folder = write_raw_model(tmp_path / "m", {"embeddings": valid_embeddings()})
    assert json.loads((folder / "config.json").read_text()) == {"normalize": True}
    assert load_model(folder).rows == len(TINY_WORDS)
    raw = write_raw_model(tmp_path / "r", b"not safetensors", config="{", tokenizer="[]")
    assert (raw / "model.safetensors").read_bytes() == b"not safetensors"
    assert (raw / "config.json").read_text() == "{"
    assert (raw / "tokenizer.json").read_text() == "[]"


def _tokens(tokenizer: Tokenizer, text: str) -> list[str]:
    return tokenizer.encode(text, add_special_tokens=False).tokens


def test_small_tokenizers() -> None:
    assert _tokens(small_wordpiece(), "Unknownly reviewed") == [
        "un",
        "##known",
        "##ly",
        "re",
        "##view",
        "##ed",
    ]
    assert small_wordlevel().encode("The movie zzz").ids == [6, 2, 0]
    assert small_unigram().token_to_id("<unk>") == 0
    assert vocab_size(small_wordpiece()) == small_wordpiece().get_vocab_size()


def test_teacher_tokenizers_look_like_hub_tokenizers() -> None:
    wordpiece = teacher_wordpiece()
    assert wordpiece.encode("the cat").tokens[0] == "[CLS]"
    assert wordpiece.padding is not None
    assert wordpiece.padding["length"] == 16
    assert "[unused0]" in wordpiece.get_vocab()
    assert teacher_bpe(roberta=True).encode("the cat").tokens[0] == "<s>"
    assert teacher_bpe(roberta=False).encode("the cat").tokens[0] != "<s>"
    unigram = teacher_unigram()
    assert unigram.token_to_id("<unk>") == 3
    assert unigram.encode("The Cat").tokens[:2] == ["<s>", "▁the"]


def test_synthetic_language_is_deterministic() -> None:
    texts, labels = sentiment_texts(10, seed=4)
    assert (texts, labels) == sentiment_texts(10, seed=4)
    assert labels == ["pos", "neg"] * 5
    topics, topic_labels = topic_texts(5)
    assert all(set(t) <= set(text.split()) for text, t in zip(topics, topic_labels, strict=True))
    corpus = synthetic_corpus(50)
    assert len(set(corpus)) == 50
    assert all(set(text.split()) <= set(SYNTHETIC_WORDS) for text in corpus)
    assert synthetic_tokenizer().encode("GOOD movie").ids == [1, 19]  # [UNK] = 0, good = 1
    assert synthetic_model().config.max_length == 64


def test_bag_of_words_teacher_is_the_mean_of_word_vectors() -> None:
    teacher = BagOfWordsTeacher()
    vectors = teacher.encode(["good movie", "zzz"])
    np.testing.assert_allclose(vectors[0], (teacher.vectors["good"] + teacher.vectors["movie"]) / 2)
    assert not vectors[1].any()
    assert teacher.calls == 1


def test_edge_cases_cover_the_hard_inputs() -> None:
    assert "" in EDGE_CASES
    assert "" in SMALL_TEXTS
    assert any(len(text) >= 10_000 for text in EDGE_CASES)
    assert any("[UNK]" in text for text in EDGE_CASES)
    assert len(set(EDGE_CASES)) == len(EDGE_CASES)
