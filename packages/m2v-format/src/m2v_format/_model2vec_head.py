"""model2vec's pipeline head: ``head.safetensors`` plus ``head_config`` in config.json.

model2vec 0.10.0 (``StaticModelPipeline.save_pretrained``) stores a classifier as a model
folder, a safetensors file of dense layers named ``head.{i}.weight`` / ``head.{i}.bias`` and
an object ``head_config`` (``n_layers``, ``activation``, ``classes``) inside config.json.
This module knows that layout's names and its config object (rules M1-M6 of
spec/classifier.md): it parses ``head_config``, builds it for the writer, and says when
model2vec would compute something other than our head from a folder.  The tensors are
checked by the classifier reader with rules H6-H9, as ours are.  Older model2vec releases
wrote ``pipeline.skops`` (scikit-learn objects restored by unpickling-like code): it is never
opened (M5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from m2v_format._errors import ClassifierError, LegacyPipelineError
from m2v_format._model import StaticModelData

HEAD_FILE: Final = "head.safetensors"
"""model2vec's head tensors (M3)."""
LEGACY_FILE: Final = "pipeline.skops"
"""model2vec's legacy scikit-learn pipeline, refused unopened (M5)."""
HEAD_CONFIG_KEY: Final = "head_config"
"""The config.json key of model2vec's head description (M2)."""
TENSOR_PREFIX: Final = "head"
"""model2vec's tensor names are ``head.{i}.weight`` and ``head.{i}.bias`` (M3)."""
MODEL_CONFIG: Final = "config.json"
MULTILABEL_THRESHOLD: Final = 0.5
"""The threshold model2vec's ``predict`` uses by default; it stores none (M4, M6)."""

Task = Literal["single-label", "multi-label", "regression", "embedding"]

_TASK_OF: Final[dict[str, Task]] = {
    "softmax": "single-label",
    "sigmoid": "multi-label",
    "identity": "regression",
}
_ACTIVATION_OF: Final[dict[Task, str]] = {
    "single-label": "softmax",
    "multi-label": "sigmoid",
    "regression": "identity",
    "embedding": "identity",
}
CONVERT_HINT: Final = (
    "convert it where scikit-learn and skops are installed: "
    "model2vec.inference.convert_legacy_pipeline(folder).save_pretrained(new_folder) "
    "writes head.safetensors, which m2v reads"
)


@dataclass(frozen=True)
class HeadConfig:
    """model2vec's ``head_config``, checked (M2); ``classes`` is raw, checked by rule H5
    (``None`` for an ``identity`` head, read as a regression head)."""

    task: Task
    n_layers: int
    classes: object


def _fail(message: str, path: Path) -> ClassifierError:
    return ClassifierError(message, rule="M2", path=path)


def read_head_config(root: Path, max_layers: int) -> HeadConfig:
    """Rule M2: parse config.json's ``head_config`` of the pipeline folder ``root``.

    Raises:
        ClassifierError: config.json is missing or not a JSON object, ``head_config`` is
            absent or not an object, or ``n_layers``, ``activation`` or ``classes`` is
            missing or of the wrong value (rule M2).
    """
    path = root / MODEL_CONFIG
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise _fail(
            f"{HEAD_FILE} needs config.json's {HEAD_CONFIG_KEY}: no config.json", path
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise _fail(f"config.json is not UTF-8 JSON ({error})", path) from None
    if not isinstance(document, dict):
        raise _fail("config.json's top level must be a JSON object", path)
    if HEAD_CONFIG_KEY not in document:
        raise _fail(
            f"config.json has no {HEAD_CONFIG_KEY}: {HEAD_FILE} cannot be read without its "
            "classes and activation",
            path,
        )
    config = document[HEAD_CONFIG_KEY]
    if not isinstance(config, dict):
        raise _fail(f"{HEAD_CONFIG_KEY} must be a JSON object, got {type(config).__name__}", path)
    activation = config.get("activation")
    if not isinstance(activation, str) or activation not in _TASK_OF:
        raise _fail(
            f"{HEAD_CONFIG_KEY}.activation must be 'softmax', 'sigmoid' or 'identity', got "
            f"{activation!r}",
            path,
        )
    identity = activation == "identity"
    lowest = 0 if identity else 1  # model2vec's identity head may have no layers at all
    n_layers = config.get("n_layers")
    if (
        isinstance(n_layers, bool)
        or not isinstance(n_layers, int)
        or not lowest <= n_layers <= max_layers
    ):
        raise _fail(
            f"{HEAD_CONFIG_KEY}.n_layers must be an int in [{lowest}, {max_layers}] for "
            f"activation {activation!r}, got {n_layers!r}",
            path,
        )
    classes = config.get("classes")
    if identity:
        if classes is not None:
            raise _fail(
                f"{HEAD_CONFIG_KEY}.classes must be null for an 'identity' (regression) head, "
                f"got {classes!r}",
                path,
            )
        return HeadConfig(task="regression", n_layers=n_layers, classes=None)
    if classes is None:
        raise _fail(f"{HEAD_CONFIG_KEY}.classes is missing (or null)", path)
    return HeadConfig(task=_TASK_OF[activation], n_layers=n_layers, classes=classes)


def head_config(task: Task, classes: tuple[str | int, ...], n_layers: int) -> dict[str, Any]:
    """Rule M6: the ``head_config`` object a writer puts in config.json (a regression or
    embedding head: activation ``identity``, classes null)."""
    listed = list(classes) if task in ("single-label", "multi-label") else None
    return {"n_layers": n_layers, "activation": _ACTIVATION_OF[task], "classes": listed}


def model2vec_mismatch(task: Task, threshold: float, model: StaticModelData) -> str | None:
    """Rule M6: why model2vec would not give this head's outputs from the folder, or None."""
    if task == "multi-label" and threshold != MULTILABEL_THRESHOLD:
        return (
            f"the multi-label threshold is {threshold}, and model2vec stores none (its predict "
            f"uses {MULTILABEL_THRESHOLD}); keep the head's threshold at 0.5 and pass "
            "threshold= to predict instead"
        )
    if model.embeddings_scale is not None and not model.normalize:
        return (
            "the model has a global embeddings_scale and normalize false: model2vec ignores the "
            "scale, so its features would differ by that factor; quantize with per-row scales"
        )
    return None


def legacy_pipeline_error(root: Path) -> LegacyPipelineError:
    """Rule M5: the refusal of a folder whose only head is ``pipeline.skops``."""
    return LegacyPipelineError(
        f"only model2vec's legacy {LEGACY_FILE} holds the head; m2v never opens it (it holds "
        f"scikit-learn objects, not plain arrays); {CONVERT_HINT}",
        path=root / LEGACY_FILE,
    )
