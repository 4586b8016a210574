"""StaticClassifier: the numpy-only runtime of exported text classifiers (spec/classifier.md).

A classifier folder is a model folder plus a dense head; m2v-format reads and checks the
head (``m2v_format.load_classifier_head``: JSON and safetensors only, no pickle, no code)
before anything is computed, so a folder that loads runs.
``StaticClassifier.from_pretrained(folder).predict(texts)`` embeds with
:class:`m2v_infer.StaticModel` (the folder's own config: normalize, max_length, rule H10)
and applies the head in float32 with numpy.

Folders cross over with model2vec 0.10.0 both ways (spec/classifier.md M1-M6): a pipeline
folder that model2vec's ``StaticModelPipeline.save_pretrained`` wrote (``head.safetensors``)
loads here, converted in memory, and :meth:`StaticClassifier.save_pretrained` writes a folder
that ``StaticModelPipeline.from_pretrained`` loads.  model2vec's legacy ``pipeline.skops``
is refused unopened (``LegacyPipelineError``).

``predict``, ``predict_proba`` and ``evaluate`` take the arguments of model2vec's
``StaticModelPipeline`` (``show_progress_bar``, ``max_length``, ``batch_size``,
``use_multiprocessing``, ``multiprocessing_threshold``, ``threshold``), so code written for a
model2vec pipeline runs on a :class:`StaticClassifier` (``m2v_train``'s ``to_pipeline()``
returns one).
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
from m2v_infer._report import classification_report

Label = str | int


class StaticClassifier(HeadRuntime):
    """An exported classifier: a :class:`StaticModel` and a dense head, numpy only.

    Build it with :meth:`from_pretrained`; ``predict`` returns class labels (a list of
    labels per text for multi-label classifiers), ``predict_proba`` the probabilities in
    the order of :attr:`classes`.
    """

    runtime: ClassVar[str] = "StaticClassifier"

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, num_threads: int | None = None
    ) -> StaticClassifier:
        """Load a classifier folder (spec/classifier.md): model files plus the head.

        The head is ``classifier.json`` + ``classifier.safetensors``, or, in a folder that
        model2vec 0.10.0's ``StaticModelPipeline.save_pretrained`` wrote, its
        ``head.safetensors`` and config.json's ``head_config`` (rules M1-M4).
        ``num_threads`` is passed to :meth:`StaticModel.encode` (``None``: every core).

        Raises:
            FormatError: the model part breaks spec/format.md.
            ClassifierError: the head breaks spec/classifier.md.
            LegacyPipelineError: the only head is model2vec's legacy ``pipeline.skops``,
                which is never opened (the message names model2vec's converter).
            WrongHeadTaskError: the folder holds a regression or embedding head (the message
                names :class:`StaticRegressor` or :class:`StaticEmbedder`).
        """
        return cls._load(path, num_threads)

    @property
    def classes(self) -> tuple[Label, ...]:
        """The class labels, in the order of the probability columns."""
        return self.head.classes

    @property
    def multilabel(self) -> bool:
        """Whether each text can get any number of classes."""
        return self.head.task == "multi-label"

    @property
    def classes_(self) -> npt.NDArray[Any]:
        """:attr:`classes` as an array (model2vec's ``StaticModelPipeline.classes_``)."""
        return np.asarray(self.classes)

    @property
    def threshold(self) -> float:
        """Default probability a multi-label class must exceed to be predicted."""
        return self.head.threshold

    def predict_proba(
        self,
        texts: str | Iterable[str],
        show_progress_bar: bool = False,
        max_length: int | _Unset | None = UNSET,
        batch_size: int = 1024,
        use_multiprocessing: bool = True,
        multiprocessing_threshold: int | None = None,
    ) -> npt.NDArray[np.float32]:
        """Class probabilities ``[n, len(classes)]`` (softmax, or sigmoid for multi-label);
        ``(0, len(classes))`` for no texts.

        The encoding options are :meth:`StaticModel.encode`'s (``max_length`` not passed:
        the folder's own; ``multiprocessing_threshold`` ``None``: the measured break-even
        for this machine, where model2vec uses 10,000 texts).
        """
        features = self._features(
            texts,
            show_progress_bar,
            max_length,
            batch_size,
            use_multiprocessing,
            multiprocessing_threshold,
        )
        return self.head.probabilities(features)

    def predict(
        self,
        texts: str | Iterable[str],
        show_progress_bar: bool = False,
        max_length: int | _Unset | None = UNSET,
        batch_size: int = 1024,
        use_multiprocessing: bool = True,
        multiprocessing_threshold: int | None = None,
        threshold: float | None = None,
    ) -> npt.NDArray[Any] | list[list[Label]]:
        """Predicted labels: an array of labels, or for multi-label a list of label lists.

        Single-label: the class of highest probability (the first on ties); shape ``(0,)``
        for no texts.  Multi-label: every class whose probability is strictly above
        ``threshold`` (default: the classifier's own, normally 0.5).  The other options are
        :meth:`predict_proba`'s.
        """
        probabilities = self.predict_proba(
            texts,
            show_progress_bar=show_progress_bar,
            max_length=max_length,
            batch_size=batch_size,
            use_multiprocessing=use_multiprocessing,
            multiprocessing_threshold=multiprocessing_threshold,
        )
        if self.multilabel:
            cut = self.threshold if threshold is None else float(threshold)
            if not 0.0 <= cut <= 1.0:
                raise InvalidArgumentError(f"threshold must be in [0, 1], got {threshold!r}")
            return [[self.classes[i] for i in np.flatnonzero(row > cut)] for row in probabilities]
        labels: npt.NDArray[Any] = np.asarray(self.classes)[probabilities.argmax(axis=1)]
        return labels

    def evaluate(
        self,
        texts: Sequence[str],
        y: Sequence[Any],
        batch_size: int = 1024,
        threshold: float | None = None,
    ) -> dict[str, Any]:
        """A classification report of the predictions against the true labels ``y``.

        The dict has scikit-learn's layout: one entry per class seen in ``y`` or in the
        predictions (precision, recall, f1-score, support), ``accuracy`` (exact match of
        the label, or label set), ``macro avg`` and ``weighted avg``; numpy only.
        """
        predicted = self.predict(texts, batch_size=batch_size, threshold=threshold)
        truth = [row.tolist() if hasattr(row, "tolist") else row for row in y]
        return classification_report(truth, list(predicted), multilabel=self.multilabel)

    def __repr__(self) -> str:
        return (
            f"StaticClassifier(task={self.head.task!r}, classes={len(self.classes)}, "
            f"dim={self.model.dim}, layers={len(self.head.weights)})"
        )
