"""Classification reports (scikit-learn's) for single- and multi-label predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from m2v_train._labels import LabelSpace


def classification_report(
    space: LabelSpace, y_true: Sequence[Any], y_pred: Any, *, output_dict: bool = True
) -> dict[str, Any] | str:
    """Per-class precision, recall, F1 and support, plus accuracy / averages.

    Multi-label dicts also get ``"accuracy"``: the share of texts whose predicted label set
    is exactly the true one (the key model2vec's report has).
    """
    from sklearn.metrics import (  # type: ignore[import-untyped]
        classification_report as sklearn_report,
    )

    names = [str(c) for c in space.classes]
    if space.multilabel:
        truth = space.encode(y_true)
        index = space.index
        predicted = np.zeros_like(truth)
        for row, labels in enumerate(y_pred):
            predicted[row, [index[label] for label in labels]] = 1.0
        report = sklearn_report(
            truth, predicted, target_names=names, output_dict=output_dict, zero_division=0
        )
        if output_dict:
            report["accuracy"] = float(np.all(truth == predicted, axis=1).mean())
        return report  # type: ignore[no-any-return]
    truth_idx = space.encode(y_true)
    index = space.index
    pred_idx = np.asarray(
        [index[label.item() if hasattr(label, "item") else label] for label in y_pred]
    )
    return sklearn_report(  # type: ignore[no-any-return]
        truth_idx,
        pred_idx,
        labels=list(range(len(names))),
        target_names=names,
        output_dict=output_dict,
        zero_division=0,
    )
