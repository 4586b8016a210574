"""The ONNX export's conformance adapter (``readers/onnx_reader.py``): what the suite run in
``test_readers.py`` does not show.

``test_readers.py`` runs the whole suite through the adapter once per session and checks the
outcomes against ``known-failures/onnx-export.txt``; here: that list is empty (the export
passes every case), a few cases through the in-process runner with ``--codes m2v``, and the
adapter's answers to requests the suite never sends (an explicit ``normalize``), compared
with ``m2v_format``'s reference.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import load_model, reference_encode, reference_tokenize

SUITE = Path(__file__).resolve().parents[2] / "spec" / "conformance"
KNOWN = SUITE / "known-failures" / "onnx-export.txt"
READER = Path(__file__).resolve().parent / "readers" / "onnx_reader.py"


@pytest.fixture(autouse=True)
def _needs_onnx() -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")


def test_the_export_has_no_known_failures() -> None:
    lines = KNOWN.read_text().splitlines()
    assert lines, "the list explains itself in comments"
    assert [line for line in lines if line.split("#")[0].strip()] == []


def test_selected_cases_pass_with_error_codes(run_conformance: Any) -> None:
    cases = [
        "unknown-only",
        "max-length-unk-in-prefix",
        "vocab-quantized-i32",
        "int8-scale",
        "empty-batch",
        "invalid-embeddings-nan",
        "invalid-mapping-out-of-range",
    ]
    extra = ["--codes", "m2v", "--known-failures", str(KNOWN)]
    for case in cases:
        extra += ["--case", case]
    result = run_conformance([sys.executable, str(READER)], extra=extra)
    assert result.exit_code == 0, result.output
    assert result.outcomes() == dict.fromkeys(cases, "pass")


def test_explicit_normalize_and_refusals(tmp_path: Path) -> None:
    model = SUITE / "models" / "wordpiece-f32"
    texts = ["the quick brown fox", "", "\u2603 unknown \u2603", "a b c d e f g h"]
    requests = [
        {
            "id": "as-stored",
            "model": str(model),
            "texts": texts,
            "max_length": 4,
            "normalize": None,
        },
        {"id": "raw", "model": str(model), "texts": texts, "max_length": None, "normalize": False},
        {"id": "none", "model": str(model), "texts": [], "max_length": 512, "normalize": True},
        {
            "id": "broken",
            "model": str(SUITE / "models" / "invalid-embeddings-nan"),
            "texts": texts,
            "max_length": 512,
            "normalize": None,
        },
    ]
    (tmp_path / "requests.jsonl").write_text("".join(json.dumps(r) + "\n" for r in requests))
    subprocess.run(
        [sys.executable, str(READER), str(tmp_path / "requests.jsonl"), str(tmp_path / "out")],
        check=True,
    )
    lines = (tmp_path / "out").read_text().splitlines()
    answers = {a["id"]: a for a in map(json.loads, lines) if "id" in a}
    data = load_model(model)
    for case, max_length, normalize in (("as-stored", 4, None), ("raw", None, False)):
        answer = answers[case]
        assert answer["ok"] is True
        expected = reference_encode(data, texts, max_length=max_length, normalize=normalize)
        np.testing.assert_allclose(answer["embeddings"], expected, rtol=1e-5, atol=1e-6)
        assert answer["token_ids"] == reference_tokenize(data, texts, max_length=max_length)
    assert answers["none"] == {"id": "none", "ok": True, "embeddings": [], "token_ids": []}
    assert answers["broken"]["ok"] is False
    assert answers["broken"]["error_code"] == "non-finite-values"
