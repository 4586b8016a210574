"""Load a teacher (transformers model + fast tokenizer) and pick the torch device."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from m2v_distill._errors import (
    DeviceUnavailableError,
    SlowTokenizerError,
    TeacherLoadError,
    TeacherNotFoundError,
)


@dataclass(frozen=True)
class Teacher:
    """A loaded teacher: the transformers model, its fast tokenizer and a display name."""

    model: Any
    tokenizer: Tokenizer
    pad_token: str | None
    pad_id: int
    name: str


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def _could_be_hub_id(name: str) -> bool:
    return _HUB_ID.fullmatch(name) is not None and ".." not in name


def display_name(model_name: str) -> str:
    """The teacher name recorded in the student: a hub id, or a local folder's name."""
    path = Path(model_name).expanduser()
    return path.resolve().name if path.exists() else model_name


def backend_tokenizer(tokenizer: Any) -> Tokenizer:
    """The ``tokenizers.Tokenizer`` behind a transformers tokenizer, or itself.

    Raises :class:`SlowTokenizerError` for tokenizers implemented in Python only.
    """
    if isinstance(tokenizer, Tokenizer):
        return tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if isinstance(backend, Tokenizer):
        return backend
    raise SlowTokenizerError(
        f"the teacher's tokenizer ({type(tokenizer).__name__}) is not backed by the "
        "`tokenizers` library (no fast tokenizer); distillation needs a tokenizer.json. "
        "Convert it with transformers (tokenizer.save_pretrained on a fast tokenizer) first"
    )


def load_teacher(model_name: str, *, trust_remote_code: bool = False) -> Teacher:
    """Load the tokenizer (checked first: it is cheap) and then the model of a teacher.

    ``model_name`` is a local folder or a hub id (resolved by transformers, honouring
    ``HF_HUB_OFFLINE`` and its cache).
    """
    from transformers import AutoModel, AutoTokenizer

    path = Path(model_name).expanduser()
    if not path.exists() and not _could_be_hub_id(model_name):
        raise TeacherNotFoundError(f"no teacher model folder at {model_name}")
    source = str(path) if path.exists() else model_name
    if path.exists() and not path.is_dir():
        raise TeacherNotFoundError(f"the teacher must be a model folder, {model_name} is a file")
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source, use_fast=True, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as error:
        if not path.exists():
            raise TeacherNotFoundError(
                f"cannot find teacher {model_name!r} locally or on the Hugging Face hub "
                f"(offline mode: {os.environ.get('HF_HUB_OFFLINE', '0')}): {error}"
            ) from error
        raise TeacherLoadError(f"cannot load the tokenizer of {model_name}: {error}") from error
    fast = backend_tokenizer(tokenizer)
    try:
        model = AutoModel.from_pretrained(source, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
        raise TeacherLoadError(f"cannot load teacher model {model_name}: {error}") from error
    pad_token = getattr(tokenizer, "pad_token", None)
    pad_id = getattr(tokenizer, "pad_token_id", None)
    return Teacher(
        model=model,
        tokenizer=fast,
        pad_token=pad_token if isinstance(pad_token, str) else None,
        pad_id=pad_id if isinstance(pad_id, int) else 0,
        name=display_name(model_name),
    )


def resolve_device(device: str) -> str:
    """Turn ``auto`` into cuda, mps or cpu; check that an explicit accelerator exists."""
    import torch

    cuda = torch.cuda.is_available()
    mps_backend = getattr(torch.backends, "mps", None)
    mps = bool(mps_backend is not None and mps_backend.is_available())
    if device == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if device.startswith("cuda") and not cuda:
        raise DeviceUnavailableError(f"device {device!r} requested but CUDA is not available")
    if device == "mps" and not mps:
        raise DeviceUnavailableError("device 'mps' requested but MPS is not available")
    return device
