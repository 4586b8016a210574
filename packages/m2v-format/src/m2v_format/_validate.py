"""The validator: every rule a folder breaks, not just the first."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tokenizers import Tokenizer

from m2v_format._checks import (
    EMBEDDINGS,
    MAPPING,
    READ_DTYPES,
    SCALE,
    WEIGHTS,
    TensorMeta,
    check_finite,
    check_mapping_range,
    check_scale_value,
    check_structure,
    check_vocabulary,
)
from m2v_format._config import ModelConfig, check_config
from m2v_format._errors import FormatError
from m2v_format._json import read_json
from m2v_format._layout import (
    README,
    Layout,
    ResolvedLayout,
    check_inside,
    detect_layout,
)
from m2v_format._load import embedding_tensor_name, layout_files, locate, normalize_from_modules
from m2v_format._safetensors import MappedSafetensors
from m2v_format._tokenizer import (
    load_tokenizer,
    missing_unknown_token,
    vocab_size,
    vocabulary,
)

_T = TypeVar("_T")


@dataclass(frozen=True)
class Violation:
    """One broken rule: the spec rule id, the stable error code, what is wrong, and where."""

    rule: str
    code: str
    message: str
    path: Path | None = None

    @classmethod
    def from_error(cls, error: FormatError) -> Violation:
        """The violation a typed error stands for."""
        return cls(rule=error.rule, code=error.code, message=error.message, path=error.path)

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path is not None else ""
        return f"{self.code} [rule {self.rule}]: {self.message}{where}"


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of ``validate_model``: ``ok`` when ``violations`` is empty.

    ``warnings`` lists departures from SHOULD-level advice (a missing model card, a
    native config without ``normalize``, ...) that do not make the folder invalid.
    """

    path: Path
    violations: list[Violation] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)
    layout: Layout | None = None

    @property
    def ok(self) -> bool:
        """Whether the folder breaks no rule."""
        return not self.violations

    @property
    def rules(self) -> list[str]:
        """The rule ids broken, in the order found."""
        return [violation.rule for violation in self.violations]


class _Collector:
    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self.warnings: list[Violation] = []

    def add(self, errors: list[FormatError]) -> bool:
        self.violations.extend(Violation.from_error(error) for error in errors)
        return not errors

    def attempt(self, action: Callable[[], _T]) -> _T | None:
        try:
            return action()
        except FormatError as error:
            self.violations.append(Violation.from_error(error))
            return None

    def warn(self, rule: str, code: str, message: str, path: Path | None) -> None:
        self.warnings.append(Violation(rule, code, message, path))


def _check_configs(
    layout: ResolvedLayout, usable: set[Path], report: _Collector
) -> ModelConfig | None:
    config: ModelConfig | None = None
    config_path, st_config_path = layout.config, layout.st_config
    if config_path is not None and config_path in usable:
        document = report.attempt(lambda: read_json(config_path, dict))
        if document is not None:
            config, errors = check_config(document, path=config_path)
            report.add(errors)
            if config is not None and config.normalize is None:
                report.warn(
                    "C3",
                    "normalize-missing",
                    "config.json has no 'normalize' key: model2vec reads false, model2vec-rs "
                    "assumes true; writers must write it",
                    config_path,
                )
    if st_config_path is not None and st_config_path in usable:
        report.attempt(lambda: read_json(st_config_path, dict))
    if layout.modules is not None and layout.modules in usable:
        modules = layout.modules
        listed = report.attempt(lambda: read_json(modules, list))
        if listed is not None:
            normalize = report.attempt(lambda: normalize_from_modules(listed, modules))
            if normalize is not None and config is not None and normalize != bool(config.normalize):
                report.warn(
                    "C5",
                    "normalize-disagrees",
                    f"modules.json {'lists' if normalize else 'lacks'} a Normalize module but "
                    f"config.json has normalize={bool(config.normalize)}: sentence-transformers "
                    "and model2vec will give different outputs",
                    modules,
                )
    return config


def _check_tensors(
    layout: ResolvedLayout,
    tokenizer: Tokenizer | None,
    config: ModelConfig | None,
    report: _Collector,
) -> None:
    mapped = report.attempt(lambda: MappedSafetensors(layout.weights))
    if mapped is None:
        return
    where = layout.weights
    name = report.attempt(lambda: embedding_tensor_name(mapped, layout))
    if name is None:
        return

    def meta(tensor: str) -> TensorMeta | None:
        info = mapped.tensors.get(tensor)
        return None if info is None else TensorMeta(tensor, info.dtype, info.shape)

    embeddings_meta = meta(name)
    assert embeddings_meta is not None
    first = next(iter(mapped.tensors))
    if first != name:
        report.warn(
            "W3",
            "embeddings-not-first",
            f"the first tensor of the header is {first!r}, not {name!r}: writers should list "
            "the embedding tensor first, since some readers take the first tensor",
            where,
        )
    weights_meta, mapping_meta, scale_meta = meta(WEIGHTS), meta(MAPPING), meta(SCALE)
    report.add(check_structure(embeddings_meta, weights_meta, mapping_meta, scale_meta, where))

    def readable(item: TensorMeta | None, role: str, rank: int) -> Any:
        if item is None or item.dtype not in READ_DTYPES[role] or len(item.shape) != rank:
            return None
        return mapped.view(item.name)

    embeddings = readable(embeddings_meta, EMBEDDINGS, 2)
    weights = readable(weights_meta, WEIGHTS, 1)
    mapping = readable(mapping_meta, MAPPING, 1)
    rows = embeddings.shape[0] if embeddings is not None else None

    if tokenizer is not None and rows is not None:
        vocab = vocabulary(tokenizer)
        largest = max(vocab.values(), default=-1)
        size = vocab_size(tokenizer)
        report.add(
            check_vocabulary(
                rows,
                None if weights is None else len(weights),
                None if mapping is None else len(mapping),
                size,
                where,
                largest_token_id=largest,
            )
        )
    if mapping is not None and rows is not None:
        report.add(check_mapping_range(mapping, rows, where))
    if scale_meta is not None and scale_meta.dtype == "F32" and scale_meta.shape == (1,):
        report.add(check_scale_value(float(mapped.view(SCALE)[0]), where))
        if config is not None and tuple(int(p) for p in config.format_version.split(".")) < (1, 1):
            report.warn(
                "V4",
                "format-version-too-low",
                f"the folder has {SCALE!r} (format 1.1) but format_version is "
                f"{config.format_version}",
                layout.config,
            )
    if embeddings is not None:
        report.add(check_finite(name, embeddings, where))
    if weights is not None:
        report.add(check_finite(WEIGHTS, weights, where))


def validate_model(
    path: str | os.PathLike[str], *, subfolder: str | None = None
) -> ValidationReport:
    """Check a model folder against every rule of the spec and report all violations.

    Unlike ``load_model``, which stops at the first problem, the validator keeps going
    wherever the remaining checks still make sense (a bad config.json does not stop the
    tensor checks, for instance).  It never raises ``FormatError``.
    """
    report = _Collector()
    location = report.attempt(lambda: locate(path, subfolder=subfolder))
    if location is None:
        return ValidationReport(Path(os.fspath(path)), report.violations)
    layout = report.attempt(lambda: detect_layout(location.folder))
    if layout is None:
        return ValidationReport(location.folder, report.violations)

    usable: set[Path] = set()
    for file in layout_files(layout):
        try:
            check_inside(file, location.trusted_root)
        except FormatError as error:
            report.add([error])
        else:
            usable.add(file)

    config = _check_configs(layout, usable, report)
    tokenizer = None
    if layout.tokenizer in usable:
        tokenizer = report.attempt(lambda: load_tokenizer(layout.tokenizer))
        missing = None if tokenizer is None else missing_unknown_token(tokenizer)
        if missing is not None:  # valid (K3: the unknown id is null), but worth knowing
            report.warn(
                "K3",
                "unknown-token-missing",
                f"unk_token {missing!r} is not in the vocabulary, so the unknown id is null "
                "(K3) and the tokenizers library refuses any text with a piece outside the "
                "vocabulary",
                layout.tokenizer,
            )
    if layout.weights in usable:
        _check_tensors(layout, tokenizer, config, report)

    readme = location.folder / README
    if layout.layout is Layout.NATIVE and not readme.is_file():
        report.warn("C6", "model-card-missing", "no README.md model card", readme)
    return ValidationReport(location.folder, report.violations, report.warnings, layout.layout)
