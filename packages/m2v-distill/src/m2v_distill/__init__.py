"""m2v-distill: distil any sentence transformer into an m2v static embedding model.

``distill("sentence-transformers/all-MiniLM-L6-v2")`` runs the teacher once per vocabulary
token, reduces the vectors with PCA, weights them with SIF and returns an
``m2v_infer.StaticModel``; ``save_pretrained`` writes a folder that m2v-infer, model2vec
and sentence-transformers load.  ``evaluate`` scores any static model on word similarity,
document similarity, classification and throughput, with numpy and scikit-learn only.

Errors are typed: every error derives from :class:`DistillError` and has a stable ``code``.
"""

from importlib.metadata import version as _version

from m2v_distill._distill import distill, distill_from_model
from m2v_distill._errors import (
    DeviceUnavailableError,
    DistillError,
    EmptyVocabularyError,
    EvaluationDataError,
    InvalidParameterError,
    InvalidPatternError,
    PoolingUnavailableError,
    SlowTokenizerError,
    TeacherLoadError,
    TeacherNotFoundError,
    UnsupportedTokenizerError,
)
from m2v_distill._eval_tasks import Score
from m2v_distill._evaluate import EvaluationReport, evaluate
from m2v_distill._options import PoolingMode

__version__ = _version("m2v-distill")
"""This package's version, read from its installed metadata (one source: pyproject.toml)."""

__all__ = [
    "DeviceUnavailableError",
    "DistillError",
    "EmptyVocabularyError",
    "EvaluationDataError",
    "EvaluationReport",
    "InvalidParameterError",
    "InvalidPatternError",
    "PoolingMode",
    "PoolingUnavailableError",
    "Score",
    "SlowTokenizerError",
    "TeacherLoadError",
    "TeacherNotFoundError",
    "UnsupportedTokenizerError",
    "__version__",
    "distill",
    "distill_from_model",
    "evaluate",
]
