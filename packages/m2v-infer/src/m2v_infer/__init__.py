"""m2v-infer: the numpy-only runtime for static embedding models.

``from m2v_infer import StaticModel`` is a drop-in replacement for model2vec's
``StaticModel`` (same API, same outputs within 1e-6) that is faster, streams inputs of any
length with bounded memory (:meth:`StaticModel.encode_iter`), truncates output dimensions
(``dimensions=``) and encodes on a thread pool, safely from several threads at once.

Errors are typed: every error derives from :class:`InferError`, itself an
``m2v_format.FormatError``, and carries a stable ``code``.
"""

from m2v_infer._classifier import (
    ClassifierError,
    ClassifierNotFoundError,
    StaticClassifier,
    UnsupportedClassifierVersionError,
)
from m2v_infer._default import DEFAULT_MODEL_DIR, default_model_path
from m2v_infer._errors import (
    DefaultModelMissingError,
    InferError,
    InvalidArgumentError,
    InvalidInputError,
    MissingDependencyError,
    UnreadableInputError,
    UnsupportedOutputError,
    UnwritableOutputError,
)
from m2v_infer._model import UNSET, StaticModel
from m2v_infer._progress import ProgressBar

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL_DIR",
    "UNSET",
    "ClassifierError",
    "ClassifierNotFoundError",
    "DefaultModelMissingError",
    "InferError",
    "InvalidArgumentError",
    "InvalidInputError",
    "MissingDependencyError",
    "ProgressBar",
    "StaticClassifier",
    "StaticModel",
    "UnreadableInputError",
    "UnsupportedClassifierVersionError",
    "UnsupportedOutputError",
    "UnwritableOutputError",
    "__version__",
    "default_model_path",
]
