"""A classification report with numpy alone, in the layout of scikit-learn's dict.

One entry per class that occurs in the true or the predicted labels (sorted; keys are the
class names as strings) with ``precision``, ``recall``, ``f1-score`` and ``support``, then
``accuracy`` (the share of texts whose predicted label, or label set, is exactly right),
``macro avg`` and ``weighted avg`` (weighted by support).  This is the layout model2vec's
``StaticModelPipeline.evaluate`` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from m2v_infer._errors import InvalidArgumentError


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _label_sets(values: Sequence[Any], multilabel: bool) -> list[Any]:
    if multilabel:
        return [{_plain(label) for label in row} for row in values]
    return [_plain(label) for label in values]


def _indicators(rows: list[Any], classes: list[Any], multilabel: bool) -> npt.NDArray[np.bool_]:
    column = {label: i for i, label in enumerate(classes)}
    out = np.zeros((len(rows), len(classes)), dtype=bool)
    for row, labels in enumerate(rows):
        for label in labels if multilabel else (labels,):
            out[row, column[label]] = True
    return out


def _ratio(top: npt.NDArray[np.float64], bottom: npt.NDArray[np.float64]) -> Any:
    return np.divide(top, bottom, out=np.zeros_like(top), where=bottom > 0)


def classification_report(
    y_true: Sequence[Any], y_pred: Sequence[Any], *, multilabel: bool
) -> dict[str, Any]:
    """The report of ``y_pred`` against ``y_true`` (labels, or label lists if multi-label)."""
    if len(y_true) != len(y_pred):
        raise InvalidArgumentError(f"y has {len(y_true)} labels for {len(y_pred)} predictions")
    truth_rows = _label_sets(y_true, multilabel)
    predicted_rows = _label_sets(y_pred, multilabel)
    seen: set[Any] = set()
    for rows in (truth_rows, predicted_rows):
        for labels in rows:
            seen.update(labels if multilabel else (labels,))
    classes = sorted(seen)
    truth = _indicators(truth_rows, classes, multilabel)
    predicted = _indicators(predicted_rows, classes, multilabel)
    hits = (truth & predicted).sum(axis=0).astype(np.float64)
    support = truth.sum(axis=0).astype(np.float64)
    precision = _ratio(hits, predicted.sum(axis=0).astype(np.float64))
    recall = _ratio(hits, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    report: dict[str, Any] = {
        str(label): {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1-score": float(f1[i]),
            "support": float(support[i]),
        }
        for i, label in enumerate(classes)
    }
    total = float(support.sum())
    share = support / total if total > 0 else np.zeros_like(support)
    report["accuracy"] = float(np.all(truth == predicted, axis=1).mean()) if len(truth) else 0.0
    report["macro avg"] = {
        "precision": float(precision.mean()) if classes else 0.0,
        "recall": float(recall.mean()) if classes else 0.0,
        "f1-score": float(f1.mean()) if classes else 0.0,
        "support": total,
    }
    report["weighted avg"] = {
        "precision": float((precision * share).sum()),
        "recall": float((recall * share).sum()),
        "f1-score": float((f1 * share).sum()),
        "support": total,
    }
    return report
