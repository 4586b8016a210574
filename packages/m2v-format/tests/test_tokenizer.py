"""tokenizer.json: K1 (valid, known model type), K2 (padding/truncation ignored), K3, I1, V."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from m2v_format import InvalidTokenizerError, StaticModelData
from m2v_format._tokenizer import (
    load_tokenizer,
    median_token_length,
    unknown_token_id,
    vocab_size,
    vocabulary,
)
from m2v_testkit import tiny_tokenizer, wordlevel_tokenizer
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers


def _wordpiece(unk: str = "[UNK]") -> Tokenizer:
    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "##s": 3}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token=unk))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


def _bpe(unk: str | None) -> Tokenizer:
    vocab = {"<unk>": 0, "a": 1, "b": 2, "ab": 3}
    return Tokenizer(models.BPE(vocab, [("a", "b")], unk_token=unk))


def _unigram(unk_id: int | None) -> Tokenizer:
    pieces = [("<unk>", 0.0), ("a", -1.0), ("b", -2.0), ("ab", -1.5)]
    return Tokenizer(models.Unigram(pieces, unk_id=unk_id, byte_fallback=False))


@pytest.mark.parametrize(
    ("tokenizer", "expected"),
    [
        (_wordpiece(), 0),
        (_wordpiece(unk="[NOT-IN-VOCAB]"), None),
        (_bpe("<unk>"), 0),
        (_bpe(None), None),
        (_unigram(0), 0),
        (_unigram(None), None),
        (tiny_tokenizer(), 0),
        (tiny_tokenizer(unk_token=None), None),
    ],
)
def test_unknown_token_id(tokenizer: Tokenizer, expected: int | None) -> None:
    assert unknown_token_id(tokenizer) == expected


def test_model_types_load(tmp_path: Path) -> None:
    for tokenizer in (_wordpiece(), _bpe("<unk>"), _unigram(0), tiny_tokenizer()):
        path = tmp_path / "tokenizer.json"
        path.write_text(tokenizer.to_str())
        assert load_tokenizer(path).get_vocab() == tokenizer.get_vocab()


def _tokenizer_json(**changes: object) -> str:
    document = json.loads(tiny_tokenizer().to_str())
    document.update(changes)
    return json.dumps(document)


def _model_type_json(kind: str) -> str:
    document = json.loads(tiny_tokenizer().to_str())
    document["model"]["type"] = kind
    return json.dumps(document)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\xff\xfe", "not a JSON object"),
        (b'{"model": "\xff"}', "cannot load"),
        (b" " * 5000 + b"[]", "not a JSON object"),
        (b"", "not a JSON object"),
        (b"[]", "not a JSON object"),
        (b'"tokenizer"', "not a JSON object"),
        (b"{", "cannot load"),
        (b"{}", "cannot load"),
        (b'{"model": {"type": "WordLevel"}}', "cannot load"),
        (_tokenizer_json(version=7).encode(), "cannot load"),
        (_model_type_json("Mystery").encode(), "cannot load"),
        (_tokenizer_json(pre_tokenizer={"type": "Nope"}).encode(), "cannot load"),
    ],
)
def test_invalid_tokenizers(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_bytes(content)
    with pytest.raises(InvalidTokenizerError, match=fragment) as caught:
        load_tokenizer(path)
    assert (caught.value.code, caught.value.rule) == ("invalid-tokenizer", "K1")


def test_padding_and_truncation_are_disabled(tmp_path: Path) -> None:
    tokenizer = tiny_tokenizer()
    tokenizer.enable_truncation(2)
    tokenizer.enable_padding(length=10, pad_id=1, pad_token="[PAD]")
    path = tmp_path / "tokenizer.json"
    path.write_text(tokenizer.to_str())
    loaded = load_tokenizer(path)
    assert loaded.padding is None
    assert loaded.truncation is None
    assert loaded.encode("the cat sat on the mat", add_special_tokens=False).ids == [
        2,
        3,
        4,
        5,
        2,
        6,
    ]


def test_model_data_copies_a_padded_tokenizer() -> None:
    tokenizer = tiny_tokenizer()
    tokenizer.enable_truncation(1)
    model = StaticModelData(np.ones((12, 2), np.float32), tokenizer)
    assert model.tokenizer.truncation is None
    assert tokenizer.truncation is not None  # the caller's object is left alone


def test_vocab_size_counts_distinct_tokens() -> None:
    tokenizer = tiny_tokenizer()
    assert vocab_size(tokenizer) == 12
    tokenizer.add_tokens(["zebra", "the"])  # "the" already exists: not counted twice
    tokenizer.add_special_tokens([AddedToken("<special>", special=True)])
    assert vocab_size(tokenizer) == len(tokenizer.get_vocab(with_added_tokens=True)) == 14


def test_vocab_size_of_real_tokenizers(potion_path: Path, minilm_path: Path) -> None:
    for folder in (potion_path, minilm_path):
        tokenizer = load_tokenizer(folder / "tokenizer.json")
        assert vocab_size(tokenizer) == len(tokenizer.get_vocab(with_added_tokens=True))


def test_minilm_tokenizer_is_valid(minilm_path: Path) -> None:
    tokenizer = load_tokenizer(minilm_path / "tokenizer.json")
    assert type(tokenizer.model).__name__ == "WordPiece"
    assert unknown_token_id(tokenizer) == 100
    assert tokenizer.truncation is None
    assert tokenizer.padding is None


def test_median_token_length_counts_code_points() -> None:
    # lengths 1, 1, 2, 3 -> median 1.5 -> int() -> 1; "é" and "日本" are 1 and 2 code points
    assert median_token_length({"a": 0, "é": 1, "日本": 2, "abc": 3}) == 1
    assert median_token_length({"a": 0, "abc": 1, "abcdef": 2}) == 3
    assert median_token_length({"ab": 0, "abc": 1}) == 2
    assert median_token_length({}) == 0


def test_median_includes_added_tokens() -> None:
    tokenizer = wordlevel_tokenizer(["a", "b"], unk_token=None)
    assert median_token_length(vocabulary(tokenizer)) == 1
    tokenizer.add_tokens(["long-token-one", "long-token-two"])
    assert median_token_length(vocabulary(tokenizer)) == 7


def test_potion_median_matches_model2vec(potion_path: Path) -> None:
    tokenizer = load_tokenizer(potion_path / "tokenizer.json")
    lengths = [len(token) for token in tokenizer.get_vocab()]
    assert median_token_length(vocabulary(tokenizer)) == int(np.median(lengths)) == 6
