"""The suite run against real readers: ours (no known failures) and the peers (their lists).

Each test starts the reader once for the whole suite.  A peer's known-failures list must be
exact: a listed case that passes fails the run as stale.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

SUITE = Path(__file__).resolve().parents[2] / "spec" / "conformance"
KNOWN_FAILURES = SUITE / "known-failures"
READERS = Path(__file__).resolve().parent / "readers"


def _known(name: str) -> list[str]:
    lines = (KNOWN_FAILURES / name).read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_reference_reader_passes_everything(run_conformance: Any) -> None:
    assert _known("m2v-format.txt") == []
    result = run_conformance(
        [sys.executable, "-m", "m2v_format._conformance._reader"],
        extra=["--codes", "m2v", "--known-failures", str(KNOWN_FAILURES / "m2v-format.txt")],
    )
    assert result.exit_code == 0, result.output
    assert set(result.outcomes().values()) == {"pass"}


def test_m2v_infer_passes_everything(run_conformance: Any) -> None:
    assert _known("m2v-infer.txt") == []
    result = run_conformance(
        [sys.executable, str(READERS / "m2v_infer_reader.py")],
        extra=["--codes", "m2v", "--known-failures", str(KNOWN_FAILURES / "m2v-infer.txt")],
    )
    assert result.exit_code == 0, result.output
    assert set(result.outcomes().values()) == {"pass"}


@pytest.mark.peer
def test_model2vec_fails_only_its_known_failures(run_conformance: Any) -> None:
    model2vec = pytest.importorskip("model2vec")
    assert model2vec.__version__ == "0.10.0", "the known-failures list is for model2vec 0.10.0"
    known = KNOWN_FAILURES / "model2vec-0.10.0.txt"
    result = run_conformance(
        [sys.executable, str(READERS / "model2vec_reader.py")],
        extra=["--known-failures", str(known)],
    )
    assert result.exit_code == 0, result.output
    xfails = {cid for cid, outcome in result.outcomes().items() if outcome == "xfail"}
    assert xfails == set(_known("model2vec-0.10.0.txt"))


@pytest.mark.peer
def test_sentence_transformers_fails_only_its_known_failures(
    run_conformance: Any,
) -> None:
    pytest.importorskip("sentence_transformers")
    known = KNOWN_FAILURES / "sentence-transformers.txt"
    result = run_conformance(
        [sys.executable, str(READERS / "sentence_transformers_reader.py")],
        extra=["--known-failures", str(known)],
    )
    assert result.exit_code == 0, result.output
    xfails = {cid for cid, outcome in result.outcomes().items() if outcome == "xfail"}
    assert xfails == set(_known("sentence-transformers.txt"))
