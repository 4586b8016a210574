"""The teacher: a Hugging Face sentence-transformer (folder or hub id) run with transformers.

A hub id is resolved to a snapshot folder in the Hugging Face cache (downloading the
config, tokenizer, pooling and safetensors files unless ``HF_HUB_OFFLINE`` is set), the
way ``m2v encode`` and ``m2v distill`` accept hub ids.  Only safetensors weights are read
(``use_safetensors=True``: never ``torch.load``) and no remote code runs.  The pooling
follows the folder's sentence-transformers config (``1_Pooling/config.json``: mean or
CLS; mean when absent).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from m2v_train._errors import InvalidParameterError, TeacherError

TargetMode = Literal["sentence", "tokens"]
"""What the teacher produces per text: ``"sentence"`` its own pooled sentence embedding;
``"tokens"`` the mean of its contextual token vectors without the first and last (special)
positions, as Tokenlearn does."""

TARGET_MODES: tuple[str, ...] = ("sentence", "tokens")
PRECISIONS: tuple[str, ...] = ("float32", "bfloat16")
"""Teacher precisions: bfloat16 is about twice as fast on recent CPUs (targets within
cosine 0.9999 of float32 on MiniLM)."""
TOKENS_PER_TEXT = 128
"""The default token budget of a teacher forward pass is ``batch_size`` times this: texts
up to 128 tokens run ``batch_size`` at a time, longer ones fewer (``encode_many``)."""


class TeacherLike(Protocol):
    """What featurizing needs: a name, an output dimension and a batch encoder."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:  # pragma: no cover
        """Vectors ``[len(texts), dim]`` (float32) for a batch of texts."""


_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")
_TEACHER_FILES = ("*.json", "*.safetensors", "*.txt", "*.model", "1_Pooling/*")
"""What a teacher needs from a hub repository: configs, tokenizer files, safetensors."""


def _offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def _hub_cache() -> str | None:
    """The hub cache as the environment says now (huggingface_hub reads it at import)."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return os.path.expanduser(os.environ[variable])
    home = os.environ.get("HF_HOME")
    return os.path.join(os.path.expanduser(home), "hub") if home else None


def resolve_teacher(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """The local folder of a teacher and its name: a folder is itself (named by its last
    component); a hub id is a snapshot in the Hugging Face cache (named by the id).

    Raises:
        TeacherError: neither a folder nor a hub id the hub (or, offline, the cache) has.
        MissingDependencyError: a hub id, and huggingface_hub is not installed.
    """
    folder = Path(path).expanduser()
    text = os.fspath(path)
    if folder.is_dir() or isinstance(path, os.PathLike) or not _HUB_ID.fullmatch(text):
        return folder, folder.name
    if ".." in text or "--" in text:
        return folder, folder.name
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        from m2v_format import MissingDependencyError

        raise MissingDependencyError(
            f"teacher {text!r} is not a local folder, and loading it from the Hugging Face "
            'hub needs huggingface_hub: pip install "m2v-train[teacher]"'
        ) from None
    offline = _offline()
    try:
        snapshot = snapshot_download(
            text,
            cache_dir=_hub_cache(),
            local_files_only=offline,
            allow_patterns=list(_TEACHER_FILES),
        )
    except Exception as error:  # any hub, network or cache failure: not found
        where = "in the local hub cache (HF_HUB_OFFLINE is set)" if offline else "on the hub"
        raise TeacherError(
            f"teacher {text!r} is not a local folder and was not found {where}: "
            f"{type(error).__name__}: {error}"
        ) from None
    return Path(snapshot), text


def _pooling_mode(folder: Path) -> str:
    config = folder / "1_Pooling" / "config.json"
    if not config.is_file():
        return "mean"
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TeacherError(f"unreadable pooling config {config}: {error}") from None
    if settings.get("pooling_mode_cls_token"):
        return "cls"
    return "mean"


def teacher_identity(path: str | os.PathLike[str], precision: str = "float32") -> tuple[str, int]:
    """The (name, output dimension) a teacher (folder or hub id) will have, read from its
    config.json without loading the weights."""
    folder, base = resolve_teacher(path)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        dim = int(config["hidden_size"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TeacherError(
            f"teacher {str(path)!r} is not a Hugging Face model folder or hub id with a "
            f"config.json giving hidden_size: {error}"
        ) from None
    name = base if precision == "float32" else f"{base}@{precision}"
    return name, dim


@contextlib.contextmanager
def _quiet_transformers(quiet: bool) -> Iterator[None]:
    """With ``quiet``: no load report and no weight-loading bar from transformers (both
    restored afterwards)."""
    if not quiet:
        yield
        return
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        transformers_logging.set_verbosity(verbosity)
        if bars:
            transformers_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


class TransformersTeacher:
    """A sentence transformer loaded with ``transformers`` from a folder or hub id."""

    def __init__(
        self,
        path: str | Path,
        *,
        target: TargetMode = "sentence",
        device: str | None = "auto",
        max_length: int = 256,
        precision: str = "float32",
        quiet: bool = False,
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from m2v_train._device import resolve_device

        if target not in TARGET_MODES:
            raise InvalidParameterError(f"target must be one of {TARGET_MODES}, got {target!r}")
        folder, base = resolve_teacher(path)
        if not (folder / "config.json").is_file():
            raise TeacherError(
                f"teacher {str(path)!r} is not a Hugging Face model folder or hub id "
                "(config.json missing)"
            )
        try:
            with _quiet_transformers(quiet):
                self._tokenizer = AutoTokenizer.from_pretrained(str(folder), use_fast=True)
                self._model = AutoModel.from_pretrained(str(folder), use_safetensors=True)
        except (OSError, ValueError, KeyError) as error:
            raise TeacherError(f"cannot load teacher {folder}: {error}") from None
        if precision not in PRECISIONS:
            raise InvalidParameterError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self._device = resolve_device(device)
        dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
        self._model.to(self._device, dtype=dtype).eval()
        self._torch = torch
        self.name = base if precision == "float32" else f"{base}@{precision}"
        self.target = target
        self.pooling = _pooling_mode(folder)
        self.max_length = max_length
        self.precision = precision
        self.dim = int(self._model.config.hidden_size)

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        """Targets for one batch (float32 ``[len(texts), dim]``)."""
        size = max(1, len(texts))
        return self.encode_many(texts, batch_size=size, max_tokens=size * max(1, self.max_length))

    def encode_many(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        max_tokens: int | None = None,
        on_batch: Callable[[int], object] | None = None,
    ) -> np.ndarray[Any, Any]:
        """Targets of any number of texts (float32 ``[len(texts), dim]``, in input order).

        The texts are tokenized once (truncated to ``max_length``), sorted by token count,
        longest first, and run in batches of equal or near-equal length: at most
        ``batch_size`` texts and at most ``max_tokens`` padded tokens a batch (``None``:
        ``batch_size * TOKENS_PER_TEXT``; a batch holds at least one text).  ``on_batch(n)``
        is called after each batch of ``n`` texts.
        """
        torch = self._torch
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encoded = self._tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            padding=False,
            return_attention_mask=False,
        )
        ids: list[list[int]] = encoded["input_ids"]
        types: list[list[int]] | None = encoded.get("token_type_ids")
        lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(-lengths, kind="stable")
        pad_id = self._tokenizer.pad_token_id
        pad_id = 0 if pad_id is None else int(pad_id)
        left = getattr(self._tokenizer, "padding_side", "right") == "left"
        budget = batch_size * TOKENS_PER_TEXT if max_tokens is None else max_tokens
        for chosen in _batches(lengths[order], batch_size, budget, order):
            width = max(1, int(lengths[chosen[0]]))  # the longest first
            input_ids = np.full((len(chosen), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(chosen), width), dtype=np.int64)
            token_types = np.zeros((len(chosen), width), dtype=np.int64) if types else None
            for row, index in enumerate(chosen.tolist()):
                size = int(lengths[index])
                where = slice(width - size, width) if left else slice(0, size)
                input_ids[row, where] = ids[index]
                mask[row, where] = 1
                if token_types is not None and types is not None:
                    token_types[row, where] = types[index]
            batch = {"input_ids": input_ids, "attention_mask": mask}
            if token_types is not None:
                batch["token_type_ids"] = token_types
            tensors = {
                key: torch.from_numpy(value).to(self._device) for key, value in batch.items()
            }
            with torch.inference_mode():
                hidden = self._model(**tensors).last_hidden_state
                pooled = self._pool(hidden, tensors["attention_mask"])
            out[chosen] = pooled.float().cpu().numpy()
            if on_batch is not None:
                on_batch(len(chosen))
        return out

    def _pool(self, hidden: Any, attention: Any) -> Any:
        """The target of each row of ``hidden`` ``[batch, length, dim]`` under its 0/1
        attention mask (padding on either side)."""
        torch = self._torch
        mask = attention.to(hidden.dtype)
        if self.target == "tokens":
            # Drop the first and the last real position (CLS/SEP-like specials); a text of
            # at most two tokens keeps them all.
            positions = torch.arange(attention.shape[1], device=attention.device)
            real = attention.bool()
            first = torch.where(real, positions, attention.shape[1]).amin(dim=1)
            last = torch.where(real, positions, -1).amax(dim=1)
            inner = real & (positions > first[:, None]) & (positions < last[:, None])
            empty = ~inner.any(dim=1)
            inner[empty] = real[empty]
            mask = inner.to(hidden.dtype)
        elif self.pooling == "cls":
            first = attention.argmax(dim=1)  # the first real position (CLS)
            return hidden[torch.arange(hidden.shape[0], device=hidden.device), first]
        summed = (hidden * mask[..., None]).sum(1)
        return summed / mask.sum(1, keepdim=True).clamp(min=1)


def _batches(
    sorted_lengths: np.ndarray[Any, Any],
    batch_size: int,
    max_tokens: int,
    order: np.ndarray[Any, Any],
) -> Iterator[np.ndarray[Any, Any]]:
    """Cut ``order`` (indices sorted by token count, longest first; ``sorted_lengths`` their
    counts) into batches of at most ``batch_size`` texts and ``max_tokens`` padded tokens."""
    start = 0
    total = len(order)
    while start < total:
        width = max(1, int(sorted_lengths[start]))  # the longest of the batch: its padding
        size = max(1, min(batch_size, max_tokens // width))
        yield order[start : start + size]
        start += size
