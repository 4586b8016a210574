"""The classifier folder format (spec/classifier.md): its reader and its atomic writer.

A classifier folder is a model folder (spec/format.md) plus ``classifier.json`` (classes,
task, activation) and ``classifier.safetensors`` (the head's dense layers).  Reading parses
JSON and safetensors only - no pickle, no code - and checks every rule H1-H9 before anything
is computed, so a head that loads runs.  The runtime that applies a head lives in m2v-infer
(``StaticClassifier``); the trainer that makes one in m2v-train.

model2vec's pipeline folders cross over both ways (rules M1-M6): a folder without our files
is read from model2vec's ``head.safetensors`` and config.json's ``head_config``, and the
writer adds both beside our files, from the same arrays, so model2vec 0.10.0's
``StaticModelPipeline`` loads what m2v writes.  model2vec's legacy ``pipeline.skops`` is
refused without being opened.

Besides classifiers, the folder may hold a head without classes (rules R1-R7, version 1.1):
``task`` ``"regression"`` (the raw outputs of the last layer, model2vec's ``identity``
head) or ``"embedding"`` (a projection whose output is the text's vector).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from m2v_format._card import ModelCard
from m2v_format._errors import (
    ClassifierError,
    ClassifierNotFoundError,
    FormatError,
    InvalidArgumentError,
    UnsupportedClassifierVersionError,
)
from m2v_format._model import StaticModelData
from m2v_format._model2vec_head import (
    HEAD_CONFIG_KEY,
    HEAD_FILE,
    LEGACY_FILE,
    TENSOR_PREFIX,
    head_config,
    legacy_pipeline_error,
    model2vec_mismatch,
    read_head_config,
)
from m2v_format._safetensors import read_safetensors, write_safetensors
from m2v_format._write import write_atomically, write_model_files

CLASSIFIER_FORMAT: Final = "m2v-classifier"
"""Value of ``format`` in classifier.json (H2)."""
CLASSIFIER_VERSION: Final = "1.1"
"""Newest classifier format version this library reads and writes (H3); a classifier is
written as "1.0", a regression or embedding head as "1.1" (R7)."""
CLASSIFIER_JSON: Final = "classifier.json"
CLASSIFIER_WEIGHTS: Final = "classifier.safetensors"
MAX_LAYERS: Final = 16
"""Rule H4: the most dense layers a head may have."""

_VERSION = re.compile(r"^([0-9]+)\.([0-9]+)$")
_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
_KNOWN_KEYS = frozenset(
    {
        "format",
        "classifier_version",
        "task",
        "classes",
        "hidden_activation",
        "threshold",
        "layers",
        "outputs",
    }
)

Task = Literal["single-label", "multi-label", "regression", "embedding"]
Label = str | int

CLASS_TASKS: Final = ("single-label", "multi-label")
"""Tasks whose head predicts classes (H4, H5, H12)."""
VALUE_TASKS: Final = ("regression", "embedding")
"""Tasks whose head output is used as is, without classes (R1-R6, version 1.1)."""
_TASKS: Final = (*CLASS_TASKS, *VALUE_TASKS)


def _version_key(version: str) -> tuple[int, int]:
    match = _VERSION.match(version)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 0)


@dataclass(frozen=True)
class ClassifierHead:
    """A classifier's head: the contents of classifier.json and classifier.safetensors.

    ``weights[i]`` is layer i's ``[out_i, in_i]`` matrix and ``biases[i]`` its ``[out_i]``
    vector, float32; ``extra`` holds the unknown keys of classifier.json (provenance).
    A ``"regression"`` or ``"embedding"`` head (R1) has no ``classes`` (an empty tuple),
    may have no layers (R4: its output is then its input) and a regression head may name
    its outputs (``outputs``, R3).
    """

    task: Task
    classes: tuple[Label, ...]
    weights: tuple[npt.NDArray[np.float32], ...]
    biases: tuple[npt.NDArray[np.float32], ...]
    hidden_activation: str = "relu"
    threshold: float = 0.5
    version: str = "1.0"
    extra: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[str, ...] | None = None

    @property
    def input_dim(self) -> int:
        """Dimension of the embedding the head takes (0 for a head without layers, R4: it
        takes any)."""
        return int(self.weights[0].shape[1]) if self.weights else 0

    @property
    def output_dim(self) -> int | None:
        """Width of the head's output (``None`` for a head without layers: the input's)."""
        return int(self.weights[-1].shape[0]) if self.weights else None

    @property
    def predicts_classes(self) -> bool:
        """Whether the task is a classification (H12) rather than a value task (R5, R6)."""
        return self.task in CLASS_TASKS

    @property
    def required_version(self) -> str:
        """The lowest classifier_version that describes this head (R7)."""
        return "1.0" if self.predicts_classes else "1.1"

    def check_input_dim(self, dim: int, path: Path | None = None) -> None:
        """Rule H8's first link: raise ``ClassifierError`` unless the head takes ``dim``."""
        if self.weights and self.input_dim != dim:
            raise ClassifierError(
                f"the head takes {self.input_dim}-dimensional inputs but the model gives {dim}",
                rule="H8",
                path=path,
            )

    def logits(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Rule H11: the dense layers (ReLU between them) applied to ``[n, input_dim]``
        (no layers: the features themselves, R4)."""
        hidden = np.asarray(features, dtype=np.float32)
        if not self.weights:
            return hidden.copy()
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            hidden = hidden @ weight.T + bias
            if index < last:
                np.maximum(hidden, 0.0, out=hidden)
        return hidden.astype(np.float32, copy=False)

    def probabilities(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Rule H12: softmax (single-label) or sigmoid (multi-label) of the logits.

        Raises:
            InvalidArgumentError: a regression or embedding head has no probabilities
                (use :meth:`logits`, rules R5 and R6).
        """
        if not self.predicts_classes:
            raise InvalidArgumentError(
                f"a {self.task} head has no class probabilities; its outputs are logits() "
                "(spec/classifier.md R5, R6)"
            )
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

    def config(self) -> dict[str, Any]:
        """The classifier.json object (H2-H5, R1-R3, R7), known keys first, then ``extra``."""
        version = max(self.version, self.required_version, key=_version_key)
        document: dict[str, Any] = {
            "format": CLASSIFIER_FORMAT,
            "classifier_version": version,
            "task": self.task,
        }
        if self.predicts_classes:
            document["classes"] = list(self.classes)
        elif self.outputs is not None:
            document["outputs"] = list(self.outputs)
        document["layers"] = len(self.weights)
        document["hidden_activation"] = self.hidden_activation
        if self.predicts_classes:
            document["threshold"] = self.threshold
        for key, value in self.extra.items():
            document.setdefault(key, value)
        return document

    def tensors(self) -> dict[str, npt.NDArray[np.float32]]:
        """The classifier.safetensors tensors (H7), float32."""
        return head_tensors(self.weights, self.biases)


def head_tensors(
    weights: Sequence[npt.NDArray[Any]], biases: Sequence[npt.NDArray[Any]]
) -> dict[str, npt.NDArray[np.float32]]:
    """The ``classifier.safetensors`` tensor dictionary for a list of dense layers (H7)."""
    tensors: dict[str, npt.NDArray[np.float32]] = {}
    for index, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        tensors[f"layers.{index}.weight"] = np.ascontiguousarray(weight, dtype=np.float32)
        tensors[f"layers.{index}.bias"] = np.ascontiguousarray(bias, dtype=np.float32)
    return tensors


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
            f"classifier_version {value} is not readable by this runtime (reads 1.x)", path=path
        )
    return value


def _check_classes(
    value: object, task: str, path: Path, name: str = "classes"
) -> tuple[Label, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(f"{name} must be a non-empty JSON array", "H5", path)
    strings = all(isinstance(c, str) for c in value)
    integers = all(isinstance(c, int) and not isinstance(c, bool) for c in value)
    if not (strings or integers):
        raise _fail(f"{name} must be all strings or all integers", "H5", path)
    if len(set(value)) != len(value):
        raise _fail(f"{name} must be distinct", "H5", path)
    if task == "single-label" and len(value) < 2:
        raise _fail("a single-label classifier needs at least 2 classes", "H5", path)
    return tuple(value)


def _read_head_tensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The head's tensors, read with the strict safetensors reader (S1-S3, rule H6)."""
    try:
        tensors = read_safetensors(path)
    except FormatError as error:
        raise _fail(f"{error.code}: {error.message}", "H6", path) from None
    for name, array in tensors.items():
        if array.dtype not in _FLOAT_DTYPES:
            raise _fail(f"tensor {name!r}: dtype {array.dtype} (need F16, F32 or F64)", "H7", path)
    return tensors


def _number_in_unit_interval(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and 0.0 <= float(value) <= 1.0
    )


def _layers(
    tensors: dict[str, npt.NDArray[Any]], count: int, path: Path, prefix: str = "layers"
) -> tuple[list[npt.NDArray[np.float32]], list[npt.NDArray[np.float32]]]:
    """Rules H7-H9: each layer's weight and bias, chained shapes, finite values.

    ``prefix`` is the tensor names' first part: ``layers`` here, ``head`` in model2vec's
    head.safetensors (M3).
    """
    weights: list[npt.NDArray[np.float32]] = []
    biases: list[npt.NDArray[np.float32]] = []
    for index in range(count):
        for kind in ("weight", "bias"):
            if f"{prefix}.{index}.{kind}" not in tensors:
                raise _fail(f"tensor {prefix}.{index}.{kind} missing", "H7", path)
        weight = tensors[f"{prefix}.{index}.weight"]
        bias = tensors[f"{prefix}.{index}.bias"]
        if weight.ndim != 2 or bias.ndim != 1 or bias.shape[0] != weight.shape[0]:
            raise _fail(
                f"layer {index}: weight {weight.shape} / bias {bias.shape} do not match", "H8", path
            )
        if weights and weight.shape[1] != weights[-1].shape[0]:
            raise _fail(
                f"layer {index} takes {weight.shape[1]} inputs but layer {index - 1} gives "
                f"{weights[-1].shape[0]}",
                "H8",
                path,
            )
        if weight.shape[0] < 1 or weight.shape[1] < 1:
            raise _fail(f"layer {index} has an empty dimension", "H8", path)
        if not (np.isfinite(weight).all() and np.isfinite(bias).all()):
            raise _fail(f"layer {index} holds NaN or infinite values", "H9", path)
        weights.append(np.ascontiguousarray(weight, dtype=np.float32))
        biases.append(np.ascontiguousarray(bias, dtype=np.float32))
    return weights, biases


def _check_outputs(weights: list[npt.NDArray[np.float32]], classes: int, path: Path) -> None:
    """Rule H8's last link: the last layer gives one output per class."""
    if weights and weights[-1].shape[0] != classes:
        raise _fail(
            f"the last layer gives {weights[-1].shape[0]} outputs for {classes} classes",
            "H8",
            path,
        )


def _load_model2vec_head(root: Path) -> ClassifierHead:
    """Rules M2-M4: model2vec's head_config and head.safetensors as our head."""
    config = read_head_config(root, MAX_LAYERS)
    config_path = root / "config.json"
    head_path = root / HEAD_FILE
    if config.task == "regression":  # model2vec's identity head (M2, M4)
        tensors = _read_head_tensors(head_path)
        weights, biases = _layers(tensors, config.n_layers, head_path, prefix=TENSOR_PREFIX)
        return ClassifierHead(
            task="regression",
            classes=(),
            weights=tuple(weights),
            biases=tuple(biases),
            version="1.1",
        )
    classes = _check_classes(
        config.classes, config.task, config_path, name=f"{HEAD_CONFIG_KEY}.classes"
    )
    tensors = _read_head_tensors(head_path)
    weights, biases = _layers(tensors, config.n_layers, head_path, prefix=TENSOR_PREFIX)
    _check_outputs(weights, len(classes), head_path)
    return ClassifierHead(
        task=config.task,
        classes=classes,
        weights=tuple(weights),
        biases=tuple(biases),
    )


def load_classifier_head(folder: str | os.PathLike[str]) -> ClassifierHead:
    """Read and check the head of the classifier folder ``folder``.

    ``classifier.json`` and ``classifier.safetensors`` when the folder has either (H1-H9);
    else model2vec's ``head.safetensors`` with config.json's ``head_config``, converted to
    our head in memory (M1-M4).  Nothing but JSON and safetensors is read.

    Raises:
        ClassifierNotFoundError: no head: our files are missing and there is no
            head.safetensors (H1).
        LegacyPipelineError: the only head is model2vec's legacy pipeline.skops, which is
            never opened (M5).
        UnsupportedClassifierVersionError: a classifier_version of another major (H3).
        ClassifierError: any other rule broken; ``rule`` names it.
    """
    root = Path(folder)
    config_path = root / CLASSIFIER_JSON
    weights_path = root / CLASSIFIER_WEIGHTS
    if not config_path.is_file() and not weights_path.is_file():
        if (root / HEAD_FILE).is_file():
            return _load_model2vec_head(root)
        if (root / LEGACY_FILE).exists():
            raise legacy_pipeline_error(root)
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ClassifierNotFoundError(
                f"{path.name} missing (and no model2vec {HEAD_FILE}): not a classifier folder",
                path=root,
            )
    config = _read_json(config_path)
    if config.get("format") != CLASSIFIER_FORMAT:
        raise _fail(
            f"format must be {CLASSIFIER_FORMAT!r}, got {config.get('format')!r}", "H2", config_path
        )
    version = _check_version(config.get("classifier_version"), config_path)
    task = config.get("task")
    if not isinstance(task, str) or task not in _TASKS:
        raise _fail(
            "task must be 'single-label', 'multi-label', 'regression' or 'embedding', got "
            f"{task!r}",
            "R1" if _version_key(version) >= (1, 1) else "H4",
            config_path,
        )
    if task in VALUE_TASKS:
        return _load_value_head(config, task, version, weights_path, config_path)
    task_value: Task = "multi-label" if task == "multi-label" else "single-label"
    classes = _check_classes(config.get("classes"), task, config_path)
    activation = config.get("hidden_activation", "relu")
    if activation != "relu":
        raise _fail(f"hidden_activation must be 'relu', got {activation!r}", "H4", config_path)
    threshold = config.get("threshold", 0.5)
    if not _number_in_unit_interval(threshold):
        raise _fail(f"threshold must be a number in [0, 1], got {threshold!r}", "H4", config_path)
    layers = config.get("layers")
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= MAX_LAYERS:
        raise _fail(
            f"layers must be an int in [1, {MAX_LAYERS}], got {layers!r}", "H4", config_path
        )
    weights, biases = _layers(_read_head_tensors(weights_path), layers, weights_path)
    _check_outputs(weights, len(classes), weights_path)
    return ClassifierHead(
        task=task_value,
        classes=classes,
        weights=tuple(weights),
        biases=tuple(biases),
        hidden_activation="relu",
        threshold=float(threshold),
        version=version,
        extra={key: value for key, value in config.items() if key not in _KNOWN_KEYS},
    )


def _check_output_names(value: object, task: str, path: Path) -> tuple[str, ...] | None:
    """Rule R3: a regression head's optional ``outputs``; an embedding head has none."""
    if value is None:
        return None
    if task != "regression":
        raise _fail(f"outputs is for regression heads only, not {task!r}", "R3", path)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(name, str) and name for name in value)
    ):
        raise _fail("outputs must be a non-empty array of non-empty strings", "R3", path)
    if len(set(value)) != len(value):
        raise _fail("outputs must be distinct", "R3", path)
    return tuple(value)


def _load_value_head(
    config: dict[str, Any], name: str, version: str, weights_path: Path, config_path: Path
) -> ClassifierHead:
    """Rules R1-R4: a regression or embedding head from classifier.json and its tensors."""
    task: Task = "regression" if name == "regression" else "embedding"
    if _version_key(version) < (1, 1):
        raise _fail(
            f"task {task!r} needs classifier_version 1.1 or later, got {version}", "R7", config_path
        )
    if config.get("classes") is not None:
        raise _fail(
            f"a {task} head has no classes (absent or null), got {config['classes']!r}",
            "R2",
            config_path,
        )
    outputs = _check_output_names(config.get("outputs"), task, config_path)
    activation = config.get("hidden_activation", "relu")
    if activation != "relu":
        raise _fail(f"hidden_activation must be 'relu', got {activation!r}", "H4", config_path)
    layers = config.get("layers")
    if isinstance(layers, bool) or not isinstance(layers, int) or not 0 <= layers <= MAX_LAYERS:
        raise _fail(
            f"layers must be an int in [0, {MAX_LAYERS}] for a {task} head, got {layers!r}",
            "R4",
            config_path,
        )
    weights, biases = _layers(_read_head_tensors(weights_path), layers, weights_path)
    if outputs is not None:
        if not weights:
            raise _fail("outputs names need at least one layer", "R3", config_path)
        if weights[-1].shape[0] != len(outputs):
            raise _fail(
                f"the last layer gives {weights[-1].shape[0]} outputs for {len(outputs)} "
                "output names",
                "R3",
                weights_path,
            )
    return ClassifierHead(
        task=task,
        classes=(),
        weights=tuple(weights),
        biases=tuple(biases),
        hidden_activation="relu",
        version=version,
        extra={key: value for key, value in config.items() if key not in _KNOWN_KEYS},
        outputs=outputs,
    )


# --------------------------------------------------------------------------- writing


def _write_tensors(
    path: Path, tensors: dict[str, npt.NDArray[np.float32]], metadata: dict[str, str] | None
) -> None:
    with path.open("xb") as handle:
        write_safetensors(handle, tensors, metadata=metadata)
        handle.flush()
        os.fsync(handle.fileno())


def _write_head(folder: Path, head: ClassifierHead) -> None:
    _write_tensors(folder / CLASSIFIER_WEIGHTS, head.tensors(), {"format": CLASSIFIER_FORMAT})
    text = json.dumps(head.config(), indent=2, ensure_ascii=False) + "\n"
    with (folder / CLASSIFIER_JSON).open("x", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _model2vec_tensors(head: ClassifierHead) -> dict[str, npt.NDArray[np.float32]]:
    """Rule M6: our layers under model2vec's names, the same float32 arrays."""
    return {
        name.replace("layers.", f"{TENSOR_PREFIX}.", 1): array
        for name, array in head.tensors().items()
    }


def _with_head_config(model: StaticModelData, head: ClassifierHead | None) -> StaticModelData:
    """``model`` whose config carries model2vec's head_config for ``head`` (M6), or none."""
    extra = {key: value for key, value in model.config.extra.items() if key != HEAD_CONFIG_KEY}
    if head is not None:
        extra[HEAD_CONFIG_KEY] = head_config(head.task, head.classes, len(head.weights))
    if extra == model.config.extra:
        return model
    return dataclasses.replace(model, config=dataclasses.replace(model.config, extra=extra))


def save_classifier(
    folder: str | os.PathLike[str],
    model: StaticModelData,
    head: ClassifierHead,
    *,
    overwrite: bool = False,
    card: ModelCard | None = None,
) -> Path:
    """Write ``model`` and ``head`` as one classifier folder, atomically (H1, W1, W2).

    The folder is also a model2vec 0.10.0 pipeline folder (M6): ``head.safetensors`` and
    config.json's ``head_config`` hold the same head.  When model2vec would compute other
    outputs (a multi-label threshold other than 0.5, or a global ``embeddings_scale`` without
    normalization) they are left out, with a ``UserWarning`` that says why.

    Returns:
        The path of the written folder.

    Raises:
        OutputExistsError: ``folder`` exists and ``overwrite`` is false.
        ClassifierError: the head does not take the model's dimension (H8).
        FormatError: the model breaks a rule of spec/format.md.
    """
    head.check_input_dim(model.dim)
    name = Path(folder).name
    mismatch = model2vec_mismatch(head.task, head.threshold, model)
    if mismatch is not None:
        warnings.warn(
            f"{name}: written without model2vec's {HEAD_FILE} (model2vec 0.10.0 will not load "
            f"it as a pipeline): {mismatch}",
            UserWarning,
            stacklevel=2,
        )
    written = _with_head_config(model, None if mismatch else head)

    def fill(staging: Path) -> None:
        write_model_files(staging, written, card=card, name=name)
        _write_head(staging, head)
        if mismatch is None:
            _write_tensors(staging / HEAD_FILE, _model2vec_tensors(head), None)

    return write_atomically(folder, fill, overwrite=overwrite)
