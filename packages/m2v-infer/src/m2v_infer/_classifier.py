"""StaticClassifier: the numpy-only runtime of exported text classifiers (spec/classifier.md).

A classifier folder is a model folder plus a dense head; m2v-format reads and checks the
head (``m2v_format.load_classifier_head``: JSON and safetensors only, no pickle, no code)
before anything is computed, so a folder that loads runs.
``StaticClassifier.from_pretrained(folder).predict(texts)`` embeds with
:class:`m2v_infer.StaticModel` (the folder's own config: normalize, max_length, rule H10)
and applies the head in float32 with numpy.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from m2v_format import ClassifierHead, load_classifier_head

from m2v_infer._errors import InvalidArgumentError
from m2v_infer._model import StaticModel

Label = str | int


class StaticClassifier:
    """An exported classifier: a :class:`StaticModel` and a dense head, numpy only.

    Build it with :meth:`from_pretrained`; ``predict`` returns class labels (a list of
    labels per text for multi-label classifiers), ``predict_proba`` the probabilities in
    the order of :attr:`classes`.
    """

    def __init__(
        self, model: StaticModel, head: ClassifierHead, *, num_threads: int | None = None
    ) -> None:
        head.check_input_dim(model.dim, model.path)
        self.model = model
        self.head = head
        self.num_threads = num_threads

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, num_threads: int | None = None
    ) -> StaticClassifier:
        """Load a classifier folder (spec/classifier.md): model files plus the head.

        ``num_threads`` is passed to :meth:`StaticModel.encode` (``None``: every core).

        Raises:
            FormatError: the model part breaks spec/format.md.
            ClassifierError: the head breaks spec/classifier.md.
        """
        folder = Path(path)
        head = load_classifier_head(folder)
        return cls(StaticModel.from_pretrained(folder), head, num_threads=num_threads)

    @property
    def classes(self) -> tuple[Label, ...]:
        """The class labels, in the order of the probability columns."""
        return self.head.classes

    @property
    def multilabel(self) -> bool:
        """Whether each text can get any number of classes."""
        return self.head.task == "multi-label"

    @property
    def threshold(self) -> float:
        """Default probability a multi-label class must exceed to be predicted."""
        return self.head.threshold

    def _texts(self, texts: str | Iterable[str]) -> list[str]:
        if isinstance(texts, str):
            return [texts]
        return list(texts)

    def predict_proba(
        self, texts: str | Iterable[str], *, batch_size: int = 1024
    ) -> npt.NDArray[np.float32]:
        """Class probabilities ``[n, len(classes)]`` (softmax, or sigmoid for multi-label)."""
        batch = self._texts(texts)
        features = self.model.encode(batch, batch_size=batch_size, num_threads=self.num_threads)
        return self.head.probabilities(np.atleast_2d(features).reshape(len(batch), -1))

    def predict(
        self,
        texts: str | Iterable[str],
        *,
        threshold: float | None = None,
        batch_size: int = 1024,
    ) -> npt.NDArray[Any] | list[list[Label]]:
        """Predicted labels: an array of labels, or for multi-label a list of label lists.

        Single-label: the class of highest probability (the first on ties).  Multi-label:
        every class whose probability is strictly above ``threshold`` (default: the
        classifier's own, normally 0.5).
        """
        probabilities = self.predict_proba(texts, batch_size=batch_size)
        if self.multilabel:
            cut = self.threshold if threshold is None else float(threshold)
            if not 0.0 <= cut <= 1.0:
                raise InvalidArgumentError(f"threshold must be in [0, 1], got {threshold!r}")
            return [[self.classes[i] for i in np.flatnonzero(row > cut)] for row in probabilities]
        labels: npt.NDArray[Any] = np.asarray(self.classes)[probabilities.argmax(axis=1)]
        return labels

    def __repr__(self) -> str:
        return (
            f"StaticClassifier(task={self.head.task!r}, classes={len(self.classes)}, "
            f"dim={self.model.dim}, layers={len(self.head.weights)})"
        )
