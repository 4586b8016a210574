"""Write a trained classifier as a folder m2v-infer runs with numpy alone (spec/classifier.md).

The folder is a complete model folder (written by ``m2v_format.save_model``) plus
``classifier.json`` and ``classifier.safetensors``.  Everything is written into a
temporary sibling folder and renamed into place once complete.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from m2v_format import ModelCard, OutputExistsError, StaticModelData, save_model
from m2v_infer._classifier import (
    CLASSIFIER_FORMAT,
    CLASSIFIER_JSON,
    CLASSIFIER_VERSION,
    CLASSIFIER_WEIGHTS,
    head_tensors,
)
from safetensors.numpy import save_file

from m2v_train._labels import Label


def classifier_config(
    *,
    task: str,
    classes: Sequence[Label],
    layers: int,
    threshold: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``classifier.json`` object (rules H2-H5)."""
    config: dict[str, Any] = {
        "format": CLASSIFIER_FORMAT,
        "classifier_version": CLASSIFIER_VERSION,
        "task": task,
        "classes": list(classes),
        "layers": layers,
        "hidden_activation": "relu",
        "threshold": threshold,
    }
    config.update(extra or {})
    return config


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def export_classifier(
    folder: str | os.PathLike[str],
    model: StaticModelData,
    layers: Sequence[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
    config: dict[str, Any],
    *,
    overwrite: bool = False,
    card: ModelCard | None = None,
) -> Path:
    """Write ``model`` + head atomically into ``folder``; return the folder.

    Raises:
        OutputExistsError: ``folder`` exists and ``overwrite`` is false.
    """
    destination = Path(folder)
    if destination.exists() and not overwrite:
        raise OutputExistsError(
            "destination exists (pass overwrite=True to replace it)", path=destination
        )
    destination.absolute().parent.mkdir(parents=True, exist_ok=True)
    staging = destination.absolute().parent / f".{destination.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        save_model(staging, model, card=card)
        weights_path = staging / CLASSIFIER_WEIGHTS
        save_file(
            head_tensors([w for w, _ in layers], [b for _, b in layers]),
            str(weights_path),
            metadata={"format": CLASSIFIER_FORMAT},
        )
        config_path = staging / CLASSIFIER_JSON
        config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", "utf-8")
        for path in (weights_path, config_path):
            _fsync_file(path)
        if destination.exists():
            backup = (
                destination.absolute().parent / f".{destination.name}.old-{uuid.uuid4().hex[:8]}"
            )
            os.replace(destination, backup)
            os.replace(staging, destination)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, destination)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return destination
