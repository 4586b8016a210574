"""Label handling: single- vs multi-label detection, the class list, target encoding."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from m2v_train._errors import InvalidLabelsError

Label = str | int


def _is_label(value: object) -> bool:
    return isinstance(value, str) or (
        isinstance(value, int | np.integer) and not isinstance(value, bool)
    )


def _plain(value: Any) -> Label:
    if isinstance(value, np.integer):
        return int(value)
    label: Label = value
    return label


@dataclass(frozen=True)
class LabelSpace:
    """The classes of a task and whether each text may have several of them."""

    classes: tuple[Label, ...]
    multilabel: bool

    @property
    def index(self) -> dict[Label, int]:
        """Class -> column."""
        return {label: i for i, label in enumerate(self.classes)}

    def encode(self, y: Sequence[Any], name: str = "y") -> np.ndarray[Any, Any]:
        """Class indices (int64 ``[n]``) or multi-hot rows (float32 ``[n, classes]``)."""
        index = self.index
        multilabel, _ = read_labels(y, name)
        if multilabel != self.multilabel:
            kind = "multi-label" if self.multilabel else "single-label"
            raise InvalidLabelsError(f"{name} must be {kind} like the training labels")
        try:
            if not self.multilabel:
                return np.asarray([index[_plain(label)] for label in y], dtype=np.int64)
            targets = np.zeros((len(y), len(self.classes)), dtype=np.float32)
            for row, labels in enumerate(y):
                targets[row, [index[_plain(label)] for label in labels]] = 1.0
            return targets
        except KeyError as error:
            raise InvalidLabelsError(
                f"{name} holds class {error.args[0]!r}, which is not one of the training "
                f"classes {list(self.classes)}"
            ) from None


def read_labels(y: Sequence[Any], name: str = "y") -> tuple[bool, Counter[Label]]:
    """Whether ``y`` is multi-label (every item a list/tuple) and how often each class occurs."""
    if isinstance(y, str) or len(y) == 0:
        raise InvalidLabelsError(f"{name} must be a non-empty sequence of labels")
    items: list[Any] = list(y.tolist()) if isinstance(y, np.ndarray) else list(y)  # type: ignore[unreachable]
    if all(_is_label(item) for item in items):
        counts: Counter[Label] = Counter(_plain(item) for item in items)
        multilabel = False
    elif all(isinstance(item, list | tuple | np.ndarray) for item in items):
        counts = Counter()
        for item in items:
            members = list(item)
            if not all(_is_label(m) for m in members):
                raise InvalidLabelsError(f"{name}: every class must be a str or an int")
            counts.update(_plain(m) for m in set(members))
        multilabel = True
    else:
        raise InvalidLabelsError(
            f"{name} mixes label types: give a str/int per text (single-label) or a list "
            "of str/int per text (multi-label)"
        )
    kinds = {type(label) for label in counts}
    if len(kinds) > 1:
        raise InvalidLabelsError(f"{name} mixes string and integer classes")
    return multilabel, counts


def label_space(y: Sequence[Any]) -> tuple[LabelSpace, Counter[Label]]:
    """The sorted classes of ``y`` and their counts."""
    multilabel, counts = read_labels(y)
    if not counts:
        raise InvalidLabelsError("y holds no class at all")
    if not multilabel and len(counts) < 2:
        raise InvalidLabelsError("single-label classification needs at least 2 classes")
    classes: list[Any] = sorted(counts)  # one type only (checked above)
    return LabelSpace(tuple(classes), multilabel), counts


def class_weights(
    spec: str | Mapping[Any, float] | Sequence[float] | Any | None,
    space: LabelSpace,
    counts: Counter[Label],
    n: int,
) -> np.ndarray[Any, Any] | None:
    """One weight per class: ``None``, ``"balanced"``, an explicit mapping, or one weight
    per class in the order of ``space.classes`` (a list, array or tensor, as model2vec's
    deprecated tensor form).

    ``"balanced"`` is ``n / (classes * count)`` for single-label data and, for multi-label
    data, the positive weight ``(n - count) / count`` of each class.
    """
    if spec is None:
        return None
    if spec == "balanced":
        if space.multilabel:
            return np.asarray(
                [(n - counts[c]) / max(counts[c], 1) for c in space.classes], dtype=np.float32
            )
        total = sum(counts.values())
        return np.asarray(
            [total / (len(space.classes) * counts[c]) for c in space.classes], dtype=np.float32
        )
    if not isinstance(spec, str | Mapping) and (
        hasattr(spec, "tolist") or isinstance(spec, list | tuple)
    ):
        values = spec.tolist() if hasattr(spec, "tolist") else list(spec)
        if len(values) != len(space.classes):
            raise InvalidLabelsError(
                f"class_weight has {len(values)} weights for {len(space.classes)} classes"
            )
        spec = dict(zip(space.classes, values, strict=True))
    if isinstance(spec, Mapping):
        missing = [c for c in space.classes if c not in spec]
        if missing:
            raise InvalidLabelsError(f"class_weight lacks a weight for {missing}")
        weights = np.asarray([float(spec[c]) for c in space.classes], dtype=np.float32)
        if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
            raise InvalidLabelsError("class weights must be finite and > 0")
        return weights
    raise InvalidLabelsError(f"class_weight must be None, 'balanced' or a dict, got {spec!r}")
