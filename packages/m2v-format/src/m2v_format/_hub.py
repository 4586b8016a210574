"""Hub ids (L7): resolved to a local snapshot folder with the optional huggingface_hub."""

from __future__ import annotations

import os
import re
from pathlib import Path

from m2v_format._errors import MissingDependencyError, ModelNotFoundError
from m2v_format._layout import (
    CONFIG,
    MODULES,
    NESTED_FOLDER,
    README,
    SAFETENSORS,
    ST_CONFIG,
    TOKENIZER,
)

_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")
_TRUE = {"1", "ON", "YES", "TRUE"}

MODEL_FILES = (
    CONFIG,
    ST_CONFIG,
    MODULES,
    SAFETENSORS,
    TOKENIZER,
    README,
    f"{NESTED_FOLDER}/{SAFETENSORS}",
    f"{NESTED_FOLDER}/{TOKENIZER}",
)


def looks_like_hub_id(text: str) -> bool:
    """``name`` or ``owner/name`` with the characters the hub allows, no ``..`` or ``--``."""
    return _HUB_ID.fullmatch(text) is not None and ".." not in text and "--" not in text


def _offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.upper() in _TRUE


def _cache_dir() -> str | None:
    """The hub cache as the environment says *now* (huggingface_hub reads it at import)."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(variable)
        if value:
            return os.path.expandvars(os.path.expanduser(value))
    home = os.environ.get("HF_HOME")
    if home:
        return os.path.join(os.path.expandvars(os.path.expanduser(home)), "hub")
    return None


def download_snapshot(
    repo_id: str, *, subfolder: str | None, token: str | None, revision: str | None
) -> Path:
    """Resolve ``repo_id`` to a local snapshot folder (downloading unless offline).

    Raises:
        MissingDependencyError: huggingface_hub is not installed (rule L7).
        ModelNotFoundError: the hub or the local cache cannot provide the model.
    """
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise MissingDependencyError(
            f"{repo_id!r} is not a local folder, and loading it from the Hugging Face hub "
            'needs huggingface_hub: pip install "m2v-format[hub]"',
            rule="L7",
        ) from None
    patterns = list(MODEL_FILES)
    if subfolder:
        prefix = subfolder.strip("/")
        patterns = [f"{prefix}/{pattern}" for pattern in patterns]
    offline = _offline()
    try:
        folder = snapshot_download(
            repo_id,
            repo_type="model",
            revision=revision,
            token=token,
            cache_dir=_cache_dir(),
            local_files_only=offline,
            allow_patterns=patterns,
        )
    except Exception as error:  # any hub, network or cache failure means: not found
        mode = "in the local hub cache (HF_HUB_OFFLINE is set)" if offline else "on the hub"
        raise ModelNotFoundError(
            f"{repo_id!r} is not a local folder and was not found {mode}: "
            f"{type(error).__name__}: {error}"
        ) from error
    return Path(folder)


def hub_cache_root(snapshot: Path) -> Path:
    """The folder files of a hub snapshot may resolve into (``models--o--n``: blobs/ and
    snapshots/), since snapshot files are symbolic links into ``blobs/``."""
    if snapshot.parent.name == "snapshots" and snapshot.parent.parent.name.startswith("models--"):
        return snapshot.parent.parent
    return snapshot
