"""``featurize``: run a teacher over a corpus once and store its targets in a work folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from m2v_train._errors import InvalidParameterError
from m2v_train._features import (
    Manifest,
    corpus_digest,
    missing_shards,
    read_manifest,
    shard_rows,
    start_store,
    write_shard,
)
from m2v_train._teacher import TargetMode, TeacherLike, TransformersTeacher, teacher_identity

DEFAULT_SHARD_SIZE = 4096


def default_work_dir(name: str) -> Path:
    """``~/.cache/m2v-train/<name>`` (or under ``$M2V_TRAIN_CACHE``)."""
    base = os.environ.get("M2V_TRAIN_CACHE")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "m2v-train"
    return root / name


def _encode_sorted(
    teacher: TeacherLike,
    texts: Sequence[str],
    batch_size: int,
    max_tokens: int | None,
    on_batch: Callable[[int], object],
) -> np.ndarray[Any, Any]:
    """The targets of ``texts`` in input order.  A teacher with ``encode_many`` (the
    transformers teacher) sorts and batches by token count itself; any other runs in
    batches of ``batch_size`` sorted by character length (less padding)."""
    encode_many = getattr(teacher, "encode_many", None)
    if encode_many is not None:
        vectors = encode_many(
            texts, batch_size=batch_size, max_tokens=max_tokens, on_batch=on_batch
        )
        return np.asarray(vectors, dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.empty((len(texts), teacher.dim), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        out[chosen] = np.asarray(teacher.encode([texts[i] for i in chosen]), dtype=np.float32)
        on_batch(len(chosen))
    return out


def featurize(
    texts: Sequence[str],
    work_dir: str | os.PathLike[str],
    *,
    teacher: str | os.PathLike[str] | TeacherLike,
    target: TargetMode = "sentence",
    shard_size: int = DEFAULT_SHARD_SIZE,
    batch_size: int = 64,
    max_tokens: int | None = None,
    device: str | None = "auto",
    max_length: int = 256,
    precision: str = "float32",
    show_progress: bool = True,
) -> Path:
    """Compute the teacher's target vector of every text, in resumable shards.

    Args:
        texts: the training corpus (non-empty strings).
        work_dir: folder of the feature store; a second call with the same corpus and
            teacher resumes where the first stopped.
        teacher: a sentence-transformers / Hugging Face folder or hub id (resolved in the
            Hugging Face cache; ``HF_HUB_OFFLINE=1``: the cache only), or any object with
            ``name``, ``dim`` and ``encode(texts) -> [n, dim]``.
        target: ``"sentence"`` (the teacher's own pooled embedding) or ``"tokens"`` (mean of
            contextual token vectors without the special first/last tokens, as Tokenlearn).
        shard_size: texts per shard file.
        batch_size: texts per teacher forward pass at most.
        max_tokens: padded tokens per forward pass at most, for a folder teacher
            (``None``: ``batch_size * 128``).  Each shard is tokenized once, sorted by
            token count and cut into batches of near-equal length (little padding).
        device: torch device for a folder teacher (``"auto"``: CUDA when present).
        max_length: teacher token limit per text.
        precision: ``"float32"`` or ``"bfloat16"`` (faster on CPUs with bf16 support) for
            a folder teacher; recorded in the manifest's teacher name.
        show_progress: draw a progress line on stderr.

    Returns:
        The work folder.
    """
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise InvalidParameterError(f"shard_size must be an int >= 1, got {shard_size!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidParameterError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise InvalidParameterError(f"max_tokens must be an int >= 1 or None, got {max_tokens!r}")
    corpus = list(texts)
    if not corpus:
        raise InvalidParameterError("the corpus is empty")
    if not all(isinstance(text, str) for text in corpus):
        raise InvalidParameterError("every text of the corpus must be a str")
    folder = Path(work_dir).expanduser()
    model: TeacherLike | None = None
    if isinstance(teacher, str | os.PathLike):
        name, dim = teacher_identity(teacher, precision)
    else:
        model = teacher
        name, dim = model.name, int(model.dim)
    manifest = Manifest(
        teacher=name,
        target=target,
        dim=dim,
        shard_size=shard_size,
        count=len(corpus),
        corpus_sha256=corpus_digest(corpus),
    )
    start_store(folder, manifest, corpus)
    manifest = read_manifest(folder) or manifest
    todo = missing_shards(folder, manifest)
    if todo and model is None:  # load the teacher only when there is work for it
        model = TransformersTeacher(
            teacher,  # type: ignore[arg-type]
            target=target,
            device=device,
            max_length=max_length,
            precision=precision,
            quiet=not show_progress,
        )
    done_before = manifest.count - sum(shard_rows(manifest, i) for i in todo)
    with tqdm(
        total=manifest.count,
        desc="Featurizing",
        unit="texts",
        disable=not (show_progress and todo),
        initial=done_before,
    ) as bar:
        for index in todo:
            start = index * shard_size
            chunk = corpus[start : start + shard_rows(manifest, index)]
            assert model is not None
            targets = _encode_sorted(model, chunk, batch_size, max_tokens, bar.update)
            write_shard(folder, index, targets)
    return folder
