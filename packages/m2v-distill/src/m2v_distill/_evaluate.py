"""``evaluate``: run the evaluation tasks on one model and collect a report."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from m2v_distill._errors import EvaluationDataError, InvalidParameterError
from m2v_distill._eval_data import (
    BBC,
    GENSIM,
    ROTTEN_TOMATOES,
    default_data_dir,
    read_bbc,
    read_lee,
    read_rotten_tomatoes,
    word_similarity_sets,
)
from m2v_distill._eval_tasks import (
    Encoder,
    Score,
    classification,
    document_similarity,
    throughput,
    word_similarity,
)

TASKS = ("wordsim", "lee", "classification", "throughput")
"""Task names ``evaluate`` accepts, in the order they run."""


@dataclass(frozen=True)
class EvaluationReport:
    """The scores of one model, plus the data sets that were missing and so skipped."""

    model: str
    scores: tuple[Score, ...]
    skipped: tuple[str, ...] = field(default_factory=tuple)

    def get(self, dataset: str) -> float:
        """The score on ``dataset`` (e.g. ``"WordSim353"``); KeyError when not evaluated."""
        for score in self.scores:
            if score.dataset == dataset:
                return score.value
        raise KeyError(dataset)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "model": self.model,
            "scores": [asdict(score) for score in self.scores],
            "skipped": list(self.skipped),
        }

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    def table(self) -> str:
        """A Markdown table: task, data set, metric, score, coverage, detail."""
        lines = [
            "| task | data set | metric | score | coverage | detail |",
            "|---|---|---|---:|---:|---|",
        ]
        for score in self.scores:
            value = f"{score.value:,.0f}" if score.task == "throughput" else f"{score.value:.3f}"
            coverage = "" if score.coverage is None else f"{100 * score.coverage:.1f}%"
            lines.append(
                f"| {score.task} | {score.dataset} | {score.metric} | {value} | {coverage} "
                f"| {score.detail} |"
            )
        return "\n".join(lines)


def _check_tasks(tasks: Sequence[str] | None) -> tuple[str, ...]:
    if tasks is None:
        return TASKS
    unknown = [task for task in tasks if task not in TASKS]
    if unknown:
        raise InvalidParameterError(
            f"unknown evaluation task(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}"
        )
    return tuple(task for task in TASKS if task in tasks)


def evaluate(
    model: Encoder | str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    tasks: Sequence[str] | None = None,
    folds: int = 5,
    seed: int | None = None,
    strict: bool = False,
    progress: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Score a static model on word similarity, Lee, classification and throughput.

    Args:
        model: a model folder or hub id (loaded with m2v-infer), or any object with an
            ``encode(list[str])`` method.
        data_dir: the evaluation data folder (see ``m2v eval --help`` for its layout);
            default ``$M2V_EVAL_DATA``, ``$M2V_TESTDATA_DIR`` or ``~/.cache/m2v-testdata``.
        tasks: a subset of ``("wordsim", "lee", "classification", "throughput")``.
        folds: number of stratified cross-validation folds.
        seed: ``None`` (default) for fixed, unshuffled folds; an int shuffles the folds
            with that seed.
        strict: raise :class:`EvaluationDataError` for missing data instead of skipping.
        progress: called with a short message as each data set starts.

    Returns:
        An :class:`EvaluationReport`.
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise InvalidParameterError(f"folds must be an int >= 2, got {folds!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidParameterError(f"seed must be an int or None, got {seed!r}")
    selected = _check_tasks(tasks)
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    name = str(model) if isinstance(model, str | os.PathLike) else type(model).__name__
    if isinstance(model, str | os.PathLike):
        from m2v_infer import StaticModel

        model = StaticModel.from_pretrained(Path(model) if not isinstance(model, str) else model)
    notify = progress or (lambda _message: None)
    scores: list[Score] = []
    skipped: list[str] = []

    def missing(what: str, path: Path) -> None:
        if strict:
            raise EvaluationDataError(f"missing evaluation data for {what}: {path}")
        skipped.append(f"{what} ({path} not found)")

    if "wordsim" in selected:
        sets = word_similarity_sets(root)
        if not sets:
            missing("word similarity", root / GENSIM)
        for pairs in sets:
            notify(f"word similarity: {pairs.name}")
            scores.append(word_similarity(model, pairs))
    if "lee" in selected:
        if (root / GENSIM / "lee.cor").exists():
            notify("document similarity: Lee")
            documents, human = read_lee(root)
            scores.append(document_similarity(model, documents, human))
        else:
            missing("Lee document similarity", root / GENSIM / "lee.cor")
    rotten = None
    if "classification" in selected or "throughput" in selected:
        if (root / ROTTEN_TOMATOES).exists():
            rotten = read_rotten_tomatoes(root)
        elif "classification" in selected:
            missing("Rotten Tomatoes", root / ROTTEN_TOMATOES)
    if "classification" in selected:
        if rotten is not None:
            notify("classification: Rotten Tomatoes")
            scores.append(classification(model, rotten, folds=folds, seed=seed))
        if (root / BBC).exists():
            notify("classification: BBC News")
            scores.append(classification(model, read_bbc(root), folds=folds, seed=seed))
        else:
            missing("BBC News", root / BBC)
    if "throughput" in selected:
        notify("throughput")
        texts = rotten.texts if rotten is not None else _synthetic_texts()
        scores.append(throughput(model, texts))
    return EvaluationReport(model=name, scores=tuple(scores), skipped=tuple(skipped))


def _synthetic_texts(count: int = 10_000) -> tuple[str, ...]:
    """Deterministic stand-in texts for throughput when no corpus is available."""
    words = ("static", "embedding", "model", "fast", "token", "vector", "sentence", "query")
    return tuple(
        " ".join(words[(index * 7 + offset) % len(words)] for offset in range(5 + index % 20))
        for index in range(count)
    )
