"""StaticClassifier: the numpy-only runtime of exported text classifiers (spec/classifier.md).

A classifier folder is a model folder (spec/format.md) plus ``classifier.json`` (classes,
task, activation) and ``classifier.safetensors`` (the head's dense layers).  Loading reads
JSON and safetensors only — no pickle, no code — and checks every rule of the spec
before anything is computed: a folder that loads runs.

``StaticClassifier.from_pretrained(folder).predict(texts)`` embeds with
:class:`m2v_infer.StaticModel` (the folder's own config: normalize, max_length) and applies
the head in float32 with numpy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

import numpy as np
import numpy.typing as npt
from m2v_format import FormatError, read_safetensors

from m2v_infer._errors import InferError, InvalidArgumentError
from m2v_infer._model import StaticModel

CLASSIFIER_FORMAT: Final = "m2v-classifier"
"""Value of ``format`` in classifier.json."""
CLASSIFIER_VERSION: Final = "1.0"
"""Newest classifier format version this runtime reads and the trainer writes."""
CLASSIFIER_JSON: Final = "classifier.json"
CLASSIFIER_WEIGHTS: Final = "classifier.safetensors"
MAX_LAYERS: Final = 16
_VERSION = re.compile(r"^([0-9]+)\.([0-9]+)$")
_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))

Task = Literal["single-label", "multi-label"]
Label = str | int


class ClassifierError(InferError):
    """A classifier folder breaks a rule of spec/classifier.md (``rule`` names it)."""

    code = "invalid-classifier"
    rule: ClassVar[str] = ""

    def __init__(self, message: str, *, rule: str, path: str | Path | None = None) -> None:
        self.rule_id = rule
        super().__init__(f"[rule {rule}] {message}", path=path)


class ClassifierNotFoundError(ClassifierError):
    """The folder has no ``classifier.json`` / ``classifier.safetensors`` (rule H1)."""

    code = "classifier-missing"


class UnsupportedClassifierVersionError(ClassifierError):
    """``classifier_version`` has a major version this runtime does not read (rule H3)."""

    code = "unsupported-classifier-version"


@dataclass(frozen=True)
class ClassifierHead:
    """The validated contents of classifier.json + classifier.safetensors."""

    task: Task
    classes: tuple[Label, ...]
    weights: tuple[npt.NDArray[np.float32], ...]
    biases: tuple[npt.NDArray[np.float32], ...]
    hidden_activation: str
    threshold: float
    version: str
    extra: dict[str, Any]

    @property
    def input_dim(self) -> int:
        """Dimension of the embedding the head takes."""
        return int(self.weights[0].shape[1])

    def logits(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Apply the dense layers (ReLU between them) to ``[n, input_dim]`` features."""
        hidden = np.asarray(features, dtype=np.float32)
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            hidden = hidden @ weight.T + bias
            if index < last:
                np.maximum(hidden, 0.0, out=hidden)
        return hidden.astype(np.float32, copy=False)

    def probabilities(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Softmax (single-label) or sigmoid (multi-label) of the logits."""
        logits = self.logits(features)
        out: npt.NDArray[np.float32]
        if self.task == "multi-label":
            out = (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)
            return out
        shifted = logits - logits.max(axis=1, keepdims=True)
        np.exp(shifted, out=shifted)
        shifted /= shifted.sum(axis=1, keepdims=True)
        out = shifted.astype(np.float32, copy=False)
        return out


# --------------------------------------------------------------------------- reading


def _fail(message: str, rule: str, path: Path) -> ClassifierError:
    return ClassifierError(message, rule=rule, path=path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise _fail(f"not UTF-8 JSON: {error}", "H2", path) from None
    if not isinstance(raw, dict):
        raise _fail("the top level must be a JSON object", "H2", path)
    return raw


def _check_version(value: object, path: Path) -> str:
    if not isinstance(value, str) or not (match := _VERSION.match(value)):
        raise _fail(f"classifier_version must look like '1.0', got {value!r}", "H3", path)
    if int(match.group(1)) != 1:
        raise UnsupportedClassifierVersionError(
            f"classifier_version {value} is not readable by this runtime (reads 1.x)",
            rule="H3",
            path=path,
        )
    return value


def _check_classes(value: object, task: str, path: Path) -> tuple[Label, ...]:
    if not isinstance(value, list) or not value:
        raise _fail("classes must be a non-empty JSON array", "H5", path)
    strings = all(isinstance(c, str) for c in value)
    integers = all(isinstance(c, int) and not isinstance(c, bool) for c in value)
    if not (strings or integers):
        raise _fail("classes must be all strings or all integers", "H5", path)
    if len(set(value)) != len(value):
        raise _fail("classes must be distinct", "H5", path)
    if task == "single-label" and len(value) < 2:
        raise _fail("a single-label classifier needs at least 2 classes", "H5", path)
    return tuple(value)


def _read_safetensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Read the head's tensors with m2v-format's strict reader (rules S1-S3 of the model format)."""
    try:
        tensors = read_safetensors(path)
    except FormatError as error:
        raise _fail(f"{error.code}: {error.message}", "H6", path) from None
    for name, array in tensors.items():
        if array.dtype not in _FLOAT_DTYPES:
            raise _fail(f"tensor {name!r}: dtype {array.dtype} (need F16, F32 or F64)", "H7", path)
    return tensors


def read_head(folder: str | Path) -> ClassifierHead:
    """Read and check ``classifier.json`` and ``classifier.safetensors`` of ``folder``.

    Raises:
        ClassifierNotFoundError: either file is missing (H1).
        UnsupportedClassifierVersionError: a classifier_version of another major (H3).
        ClassifierError: any other rule broken; ``rule_id`` names it.
    """
    root = Path(folder)
    config_path = root / CLASSIFIER_JSON
    weights_path = root / CLASSIFIER_WEIGHTS
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ClassifierNotFoundError(
                f"{path.name} missing: not a classifier folder", rule="H1", path=root
            )
    config = _read_json(config_path)
    if config.get("format") != CLASSIFIER_FORMAT:
        raise _fail(
            f"format must be {CLASSIFIER_FORMAT!r}, got {config.get('format')!r}", "H2", config_path
        )
    version = _check_version(config.get("classifier_version"), config_path)
    task = config.get("task")
    if task not in ("single-label", "multi-label"):
        raise _fail(
            f"task must be 'single-label' or 'multi-label', got {task!r}", "H4", config_path
        )
    classes = _check_classes(config.get("classes"), task, config_path)
    activation = config.get("hidden_activation", "relu")
    if activation != "relu":
        raise _fail(f"hidden_activation must be 'relu', got {activation!r}", "H4", config_path)
    threshold = config.get("threshold", 0.5)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0.0 <= float(threshold) <= 1.0
    ):
        raise _fail(f"threshold must be a number in [0, 1], got {threshold!r}", "H4", config_path)
    layers = config.get("layers")
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= MAX_LAYERS:
        raise _fail(
            f"layers must be an int in [1, {MAX_LAYERS}], got {layers!r}", "H4", config_path
        )
    tensors = _read_safetensors(weights_path)
    weights: list[npt.NDArray[np.float32]] = []
    biases: list[npt.NDArray[np.float32]] = []
    for index in range(layers):
        for kind in ("weight", "bias"):
            if f"layers.{index}.{kind}" not in tensors:
                raise _fail(f"tensor layers.{index}.{kind} missing", "H7", weights_path)
        weight = tensors[f"layers.{index}.weight"]
        bias = tensors[f"layers.{index}.bias"]
        if weight.ndim != 2 or bias.ndim != 1 or bias.shape[0] != weight.shape[0]:
            raise _fail(
                f"layer {index}: weight {weight.shape} / bias {bias.shape} do not match",
                "H8",
                weights_path,
            )
        if weights and weight.shape[1] != weights[-1].shape[0]:
            raise _fail(
                f"layer {index} takes {weight.shape[1]} inputs but layer {index - 1} gives "
                f"{weights[-1].shape[0]}",
                "H8",
                weights_path,
            )
        if weight.shape[0] < 1 or weight.shape[1] < 1:
            raise _fail(f"layer {index} has an empty dimension", "H8", weights_path)
        if not (np.isfinite(weight).all() and np.isfinite(bias).all()):
            raise _fail(f"layer {index} holds NaN or infinite values", "H9", weights_path)
        weights.append(np.ascontiguousarray(weight, dtype=np.float32))
        biases.append(np.ascontiguousarray(bias, dtype=np.float32))
    if weights[-1].shape[0] != len(classes):
        raise _fail(
            f"the last layer gives {weights[-1].shape[0]} outputs for {len(classes)} classes",
            "H8",
            weights_path,
        )
    known = {"format", "classifier_version", "task", "classes", "hidden_activation"}
    known |= {"threshold", "layers"}
    return ClassifierHead(
        task=task,
        classes=classes,
        weights=tuple(weights),
        biases=tuple(biases),
        hidden_activation="relu",
        threshold=float(threshold),
        version=version,
        extra={key: value for key, value in config.items() if key not in known},
    )


# --------------------------------------------------------------------------- runtime


class StaticClassifier:
    """An exported classifier: a :class:`StaticModel` and a dense head, numpy only.

    Build it with :meth:`from_pretrained`; ``predict`` returns class labels (a list of
    labels per text for multi-label classifiers), ``predict_proba`` the probabilities in
    the order of :attr:`classes`.
    """

    def __init__(
        self, model: StaticModel, head: ClassifierHead, *, num_threads: int | None = None
    ) -> None:
        if head.input_dim != model.dim:
            raise ClassifierError(
                f"the head takes {head.input_dim}-dimensional inputs but the model gives {model.dim}",
                rule="H8",
                path=model.path,
            )
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
        head = read_head(folder)
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


def head_tensors(
    weights: Sequence[npt.NDArray[Any]], biases: Sequence[npt.NDArray[Any]]
) -> dict[str, npt.NDArray[np.float32]]:
    """The ``classifier.safetensors`` tensor dictionary for a list of dense layers."""
    tensors: dict[str, npt.NDArray[np.float32]] = {}
    for index, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        tensors[f"layers.{index}.weight"] = np.ascontiguousarray(weight, dtype=np.float32)
        tensors[f"layers.{index}.bias"] = np.ascontiguousarray(bias, dtype=np.float32)
    return tensors


__all__ = [
    "CLASSIFIER_FORMAT",
    "CLASSIFIER_JSON",
    "CLASSIFIER_VERSION",
    "CLASSIFIER_WEIGHTS",
    "ClassifierError",
    "ClassifierHead",
    "ClassifierNotFoundError",
    "StaticClassifier",
    "UnsupportedClassifierVersionError",
    "head_tensors",
    "read_head",
]
