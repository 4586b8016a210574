"""The student vocabulary: kept and removed tokens, dense ids, teacher sequences, extra words."""

from __future__ import annotations

import json
import re

import pytest
from m2v_distill import EmptyVocabularyError, UnsupportedTokenizerError
from m2v_distill._vocabulary import build_student_vocabulary
from m2v_testkit import teacher_bpe, teacher_unigram, teacher_wordpiece
from tokenizers import Tokenizer, models

UNUSED = re.compile(r"\[unused\d+\]")


def _ids(tokenizer: Tokenizer, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False).ids)


def test_wordpiece_drops_specials_and_pattern_keeps_unk_and_pad() -> None:
    teacher = teacher_wordpiece()
    student = build_student_vocabulary(teacher, pad_token="[PAD]", remove_pattern=UNUSED)
    vocab = student.tokenizer.get_vocab()
    for gone in ("[CLS]", "[SEP]", "[MASK]", "[unused0]", "[unused2]"):
        assert gone not in vocab
    assert vocab["[PAD]"] == 0
    assert vocab["[UNK]"] == 1
    assert sorted(vocab.values()) == list(range(student.size))  # dense ids
    assert student.stats.removed_special == 3
    assert student.stats.removed_by_pattern == 3
    # Teacher order is kept: it is the frequency rank SIF relies on.
    kept = [t for t, _ in sorted(teacher.get_vocab().items(), key=lambda item: item[1])]
    kept = [t for t in kept if t in vocab]
    assert kept == sorted(vocab, key=vocab.__getitem__)


def test_wordpiece_sequences_wrap_the_teacher_id_in_cls_sep() -> None:
    teacher = teacher_wordpiece()
    student = build_student_vocabulary(teacher, remove_pattern=UNUSED)
    cls, sep = teacher.token_to_id("[CLS]"), teacher.token_to_id("[SEP]")
    king = student.tokenizer.token_to_id("king")
    assert student.sequences[king] == [cls, teacher.token_to_id("king"), sep]
    assert all(len(sequence) == 3 for sequence in student.sequences)


def test_teacher_padding_block_does_not_leak_into_sequences_or_student() -> None:
    teacher = teacher_wordpiece()
    assert teacher.padding is not None  # like all-MiniLM-L6-v2's tokenizer.json
    student = build_student_vocabulary(teacher)
    assert student.tokenizer.padding is None
    assert student.tokenizer.truncation is None
    assert student.tokenizer.post_processor is None
    assert max(len(sequence) for sequence in student.sequences) == 3


def test_no_pattern_keeps_unused_tokens() -> None:
    student = build_student_vocabulary(teacher_wordpiece(), remove_pattern=None)
    assert "[unused1]" in student.tokenizer.get_vocab()


def test_pattern_never_removes_the_unknown_token() -> None:
    student = build_student_vocabulary(teacher_wordpiece(), remove_pattern=re.compile(r"\["))
    assert student.tokenizer.get_vocab()["[UNK]"] == 0


def test_pattern_removing_everything_is_an_empty_vocabulary() -> None:
    tokenizer = Tokenizer(models.WordLevel({"a": 0, "b": 1}, unk_token=None))  # type: ignore[arg-type]
    with pytest.raises(EmptyVocabularyError):
        build_student_vocabulary(tokenizer, remove_pattern=re.compile(".*"))


def test_wordpiece_extra_words_become_single_tokens() -> None:
    teacher = teacher_wordpiece()
    student = build_student_vocabulary(
        teacher, extra_words=["Tokenization", "new york", "cat", "   ", "tokenization"]
    )
    stats = student.stats
    assert (stats.added_words, stats.added_phrases, stats.duplicates, stats.empty) == (1, 1, 2, 1)
    tokenizer = student.tokenizer
    word = tokenizer.token_to_id("tokenization")
    assert word is not None
    assert _ids(tokenizer, "the tokenization of") == [
        tokenizer.token_to_id("the"),
        word,
        *_ids(tokenizer, "of"),
    ]
    phrase = student.size - 1  # added tokens come last
    ids = _ids(tokenizer, "I saw New York!")
    assert ids.count(phrase) == 1
    assert tokenizer.token_to_id("new") not in ids
    assert tokenizer.token_to_id("york") not in ids
    assert tokenizer.get_vocab_size(with_added_tokens=True) == student.size
    # A phrase is a whole-word match: "new yorker" is not "new york" + "er".
    assert phrase not in _ids(tokenizer, "new yorker")


def test_extra_word_sequence_is_the_teacher_encoding() -> None:
    teacher = teacher_wordpiece()
    student = build_student_vocabulary(teacher, extra_words=["kingly"])
    word = student.tokenizer.token_to_id("kingly")
    unpadded = [i for i in teacher.encode("kingly").ids if i != teacher.token_to_id("[PAD]")]
    assert student.sequences[word] == unpadded
    assert len(unpadded) == 4  # [CLS] king ##ly [SEP]


def test_byte_level_bpe_words_are_whole_word_added_tokens() -> None:
    teacher = teacher_bpe(roberta=True)
    student = build_student_vocabulary(teacher, pad_token="<pad>", extra_words=["tokenization"])
    tokenizer = student.tokenizer
    data = json.loads(tokenizer.to_str())
    assert data["pre_tokenizer"]["add_prefix_space"] is True
    added = {entry["content"]: entry for entry in data["added_tokens"]}
    assert added["tokenization"]["single_word"]
    assert not added["tokenization"]["special"]
    word = added["tokenization"]["id"]
    assert _ids(tokenizer, "a tokenization here").count(word) == 1
    assert word not in _ids(tokenizer, "tokenizations")
    sequence = student.sequences[word]
    assert sequence[0] == teacher.token_to_id("<s>")
    assert sequence[-1] == teacher.token_to_id("</s>")
    assert len(sequence) > 3  # the teacher splits it


def test_byte_level_bpe_drops_merges_of_removed_tokens() -> None:
    teacher = teacher_bpe(roberta=True)
    student = build_student_vocabulary(teacher, remove_pattern=re.compile("Ġcat$"))
    assert "Ġcat" not in student.tokenizer.get_vocab()
    assert _ids(student.tokenizer, "cat")  # still tokenizes, into smaller pieces
    merges = json.loads(student.tokenizer.to_str())["model"]["merges"]
    assert all("".join(m if isinstance(m, list) else m.split(" ")) != "Ġcat" for m in merges)


def test_gpt2_without_specials_has_bare_sequences() -> None:
    teacher = teacher_bpe(roberta=False)
    student = build_student_vocabulary(teacher)
    assert all(len(sequence) == 1 for sequence in student.sequences)
    assert "<|endoftext|>" not in student.tokenizer.get_vocab()


def test_unigram_keeps_unk_id_and_adds_whole_words() -> None:
    teacher = teacher_unigram()
    student = build_student_vocabulary(teacher, pad_token="<pad>", extra_words=["tokenization"])
    data = json.loads(student.tokenizer.to_str())
    unk_id = data["model"]["unk_id"]
    assert data["model"]["vocab"][unk_id][0] == "<unk>"
    assert "<s>" not in student.tokenizer.get_vocab()
    word = student.tokenizer.token_to_id("▁tokenization")
    assert word is not None
    assert _ids(student.tokenizer, "Tokenization") == [word]
    assert student.sequences[word][0] == 0
    assert student.sequences[word][-1] == 2


def test_unsupported_tokenizer_model() -> None:
    class Fake:
        def to_str(self) -> str:
            return json.dumps({"model": {"type": "CharLevel"}})

    with pytest.raises(UnsupportedTokenizerError):
        build_student_vocabulary(Fake())  # type: ignore[arg-type]
