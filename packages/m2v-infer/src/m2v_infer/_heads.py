"""StaticRegressor and StaticEmbedder: the numpy runtimes of value heads (spec/classifier.md R1-R7).

A value head is a dense head without classes on a static model: a regression head (its
outputs are predicted numbers, R5) or an embedding head (its output is the text's vector,
R6).  m2v-train's ``StaticModelForRegression`` and ``StaticModelForPairSimilarity`` write
them; model2vec 0.10.0's ``identity`` pipeline heads (regression, similarity and pair
similarity models) read as regression heads (M2), whose ``predict`` returns what model2vec's
``StaticModelPipeline.predict`` returns.  Loading reads JSON and safetensors only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from m2v_infer._arguments import UNSET, _Unset
from m2v_infer._errors import InvalidArgumentError
from m2v_infer._head_runtime import HeadRuntime


def _float_matrix(values: Any, name: str) -> npt.NDArray[np.float64]:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must hold numbers") from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise InvalidArgumentError(f"{name} must be [n, outputs], got shape {array.shape}")
    return array


def _ranks(column: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """1-based ranks, ties given their average rank (as Spearman's correlation needs)."""
    order = np.argsort(column, kind="mergesort")
    ranks = np.empty(len(column), dtype=np.float64)
    ranks[order] = np.arange(1, len(column) + 1, dtype=np.float64)
    _, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    averaged: npt.NDArray[np.float64] = (sums / counts)[inverse]
    return averaged


def _pearson(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float:
    dx, dy = x - x.mean(), y - y.mean()
    denominator = float(np.sqrt((dx * dx).sum() * (dy * dy).sum()))
    return float((dx * dy).sum() / denominator) if denominator > 0 else float("nan")


def regression_report(
    truth: Any, predicted: Any, names: Sequence[str] | None = None
) -> dict[str, Any]:
    """Mean squared error, R², Pearson's and Spearman's correlation per output, and their
    means over the outputs (``mse`` is over every value), numpy only.

    NaN where a statistic is undefined (a constant column).  ``outputs`` maps each output's
    name (``names``, else ``"0"``, ``"1"``, ...) to its four numbers.
    """
    y = _float_matrix(truth, "y")
    p = _float_matrix(predicted, "predictions")
    if y.shape != p.shape:
        raise InvalidArgumentError(f"y has shape {y.shape} but the predictions {p.shape}")
    if len(y) == 0:
        raise InvalidArgumentError("no texts to evaluate")
    labels = [str(i) for i in range(y.shape[1])] if names is None else list(names)
    per_output: dict[str, dict[str, float]] = {}
    for index, name in enumerate(labels):
        column, guess = y[:, index], p[:, index]
        residual = float(((column - guess) ** 2).sum())
        total = float(((column - column.mean()) ** 2).sum())
        per_output[name] = {
            "mse": residual / len(column),
            "r2": 1.0 - residual / total if total > 0 else float("nan"),
            "pearson": _pearson(column, guess),
            "spearman": _pearson(_ranks(column), _ranks(guess)),
        }
    report: dict[str, Any] = {"mse": float(((y - p) ** 2).mean())}
    for key in ("r2", "pearson", "spearman"):
        report[key] = float(np.mean([entry[key] for entry in per_output.values()]))
    report["outputs"] = per_output
    report["support"] = len(y)
    return report


def _unit(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


def retrieval_report(
    vectors_a: npt.NDArray[np.float32],
    vectors_b: npt.NDArray[np.float32],
    text_a: Sequence[str],
    text_b: Sequence[str],
    block: int = 1024,
) -> dict[str, float]:
    """Retrieval of each ``text_b`` given its ``text_a`` among all the ``text_b``, by cosine.

    ``recall@1`` (the true partner ranks first), ``mrr`` (mean reciprocal rank) and
    ``mean_cosine`` (of the true pairs).  As in training, a ``text_b`` identical to the
    true one, or paired with a ``text_a`` identical to the query, is not a competitor.
    """
    a, b = _unit(vectors_a), _unit(vectors_b)
    n = len(a)
    ids_a = np.unique(np.asarray(text_a, dtype=object), return_inverse=True)[1]
    ids_b = np.unique(np.asarray(text_b, dtype=object), return_inverse=True)[1]
    true = np.einsum("ij,ij->i", a, b).astype(np.float64)
    ranks = np.empty(n, dtype=np.float64)
    for start in range(0, n, block):
        rows = np.arange(start, min(n, start + block))
        scores = a[rows] @ b.T
        excluded = (ids_a[rows][:, None] == ids_a[None, :]) | (
            ids_b[rows][:, None] == ids_b[None, :]
        )
        better = (scores > true[rows][:, None]) & ~excluded
        ranks[rows] = 1 + better.sum(axis=1)
    return {
        "recall@1": float(np.mean(ranks == 1)),
        "mrr": float(np.mean(1.0 / ranks)),
        "mean_cosine": float(true.mean()),
        "pairs": float(n),
    }


class _ValueHeadRuntime(HeadRuntime):
    """What both value runtimes add to :class:`HeadRuntime`: ``predict``, the raw outputs."""

    @property
    def output_dim(self) -> int:
        """Width of the outputs (the model's dimension for a head without layers)."""
        return self.head.output_dim or self.model.dim

    def predict(
        self,
        X: str | Iterable[str],  # noqa: N803 - model2vec's name
        show_progress_bar: bool = False,
        max_length: int | _Unset | None = UNSET,
        batch_size: int = 1024,
        use_multiprocessing: bool = True,
        multiprocessing_threshold: int | None = None,
    ) -> npt.NDArray[np.float32]:
        """model2vec's pipeline ``predict``: the head's raw outputs, float32
        ``[n, outputs]`` (``[1, outputs]`` for one string; ``(0, outputs)`` for no texts):
        a regressor's predicted values (rule R5), an embedder's vectors (R6).  The encoding
        options are :meth:`StaticModel.encode`'s."""
        features = self._features(
            X,
            show_progress_bar,
            max_length,
            batch_size,
            use_multiprocessing,
            multiprocessing_threshold,
        )
        return self.head.logits(features)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(outputs={self.output_dim}, dim={self.model.dim}, "
            f"layers={len(self.head.weights)})"
        )


class StaticRegressor(_ValueHeadRuntime):
    """An exported regression model: a :class:`StaticModel` and a dense head, numpy only.

    ``predict(texts)`` returns float32 ``[n, outputs]``: the head's raw outputs (rule R5),
    what model2vec's ``StaticModelPipeline.predict`` returns for the same folder.
    """

    runtime: ClassVar[str] = "StaticRegressor"

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, num_threads: int | None = None
    ) -> StaticRegressor:
        """Load a regression folder: m2v-train's (``task`` ``"regression"``) or a model2vec
        pipeline folder with an ``identity`` head (rule M2).

        Raises:
            WrongHeadTaskError: the folder holds a classifier or an embedding head (the
                message names the class that runs it).
            ClassifierError: the head breaks spec/classifier.md.
            FormatError: the model part breaks spec/format.md.
        """
        return cls._load(path, num_threads)

    @property
    def outputs(self) -> tuple[str, ...] | None:
        """The outputs' names (rule R3: the target columns it was trained on), or None."""
        return self.head.outputs

    def evaluate(self, X: Sequence[str], y: Any, batch_size: int = 1024) -> dict[str, Any]:  # noqa: N803
        """Mean squared error, R², Pearson and Spearman per output and averaged
        (:func:`regression_report`'s dict) of the predictions against ``y`` ``[n, outputs]``
        (a 1-D ``y`` for a single output is accepted)."""
        predicted = self.predict(X, batch_size=batch_size)
        return regression_report(y, predicted, self.outputs)


class StaticEmbedder(_ValueHeadRuntime):
    """An exported pair-similarity model: texts to vectors through a projection head.

    ``encode(texts)`` returns the head's outputs (rule R6; not normalized unless asked),
    ``similarity(a, b)`` their cosine similarities.
    """

    runtime: ClassVar[str] = "StaticEmbedder"

    @classmethod
    def from_pretrained(cls, path: str | Path, *, num_threads: int | None = None) -> StaticEmbedder:
        """Load an embedding folder (``task`` ``"embedding"``, m2v-train's
        ``StaticModelForPairSimilarity``).  A model2vec pair-similarity pipeline folder
        reads as a regression head (its files do not say which it is, rule M2): load it with
        :class:`StaticRegressor`, whose ``predict`` gives the same vectors.

        Raises:
            WrongHeadTaskError: the folder holds another task (the message names the class
                that runs it).
            ClassifierError: the head breaks spec/classifier.md.
            FormatError: the model part breaks spec/format.md.
        """
        return cls._load(path, num_threads)

    @property
    def dim(self) -> int:
        """Dimension of the vectors."""
        return self.output_dim

    def encode(
        self,
        sentences: str | Iterable[str],
        show_progress_bar: bool = False,
        max_length: int | _Unset | None = UNSET,
        batch_size: int = 1024,
        use_multiprocessing: bool = True,
        multiprocessing_threshold: int | None = None,
        *,
        normalize: bool = False,
    ) -> npt.NDArray[np.float32]:
        """Vectors float32 ``[n, dim]`` (``[dim]`` for one string, as
        :meth:`StaticModel.encode`); ``normalize``: scale each to unit length (a zero vector
        stays zero).  The other options are :meth:`StaticModel.encode`'s."""
        vectors = self.predict(
            sentences,
            show_progress_bar,
            max_length,
            batch_size,
            use_multiprocessing,
            multiprocessing_threshold,
        )
        if normalize:
            vectors = _unit(vectors)
        return vectors[0] if isinstance(sentences, str) else vectors

    def similarity(
        self, a: str | Sequence[str], b: str | Sequence[str], batch_size: int = 1024
    ) -> npt.NDArray[np.float32]:
        """Cosine similarities ``[len(a), len(b)]`` of the texts' vectors."""
        left = _unit(self.predict(a, batch_size=batch_size))
        right = _unit(self.predict(b, batch_size=batch_size))
        out: npt.NDArray[np.float32] = (left @ right.T).astype(np.float32)
        return out

    def evaluate(
        self, text_a: Sequence[str], text_b: Sequence[str], batch_size: int = 1024
    ) -> dict[str, float]:
        """Retrieval of each ``text_b`` given its ``text_a`` (:func:`retrieval_report`):
        ``recall@1``, ``mrr``, ``mean_cosine`` and the number of ``pairs``."""
        first, second = list(text_a), list(text_b)
        if len(first) != len(second):
            raise InvalidArgumentError(
                f"text_a has {len(first)} texts but text_b has {len(second)}"
            )
        if not first:
            raise InvalidArgumentError("no pairs to evaluate")
        return retrieval_report(
            self.predict(first, batch_size=batch_size),
            self.predict(second, batch_size=batch_size),
            first,
            second,
        )
