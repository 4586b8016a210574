"""Folder layouts (L2-L5) and path safety (L6)."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from m2v_format._errors import MissingFileError, ModelNotFoundError, SubfolderEscapeError

CONFIG = "config.json"
ST_CONFIG = "config_sentence_transformers.json"
MODULES = "modules.json"
SAFETENSORS = "model.safetensors"
TOKENIZER = "tokenizer.json"
README = "README.md"
NESTED_FOLDER = "0_StaticEmbedding"

NATIVE_TENSOR = "embeddings"
ST_TENSOR = "embedding.weight"


class Layout(enum.Enum):
    """The folder layouts a reader accepts, in the order they are tried (L2, L5)."""

    NATIVE = "native"
    SENTENCE_TRANSFORMERS = "sentence-transformers"
    NESTED = "nested"
    STATIC_EMBEDDING_FOLDER = "0_StaticEmbedding"


@dataclass(frozen=True)
class ResolvedLayout:
    """Which layout a folder has and where its files are."""

    layout: Layout
    folder: Path
    weights: Path
    tokenizer: Path
    config: Path | None
    modules: Path | None
    st_config: Path | None
    tensor_name: str

    @property
    def fallback_tensor_name(self) -> str:
        """The other embedding tensor name a reader may fall back to (L4)."""
        return ST_TENSOR if self.tensor_name == NATIVE_TENSOR else NATIVE_TENSOR


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def check_inside(path: Path, trusted_root: Path) -> Path:
    """Resolve ``path`` (following symlinks) and require it inside ``trusted_root`` (L6)."""
    resolved = path.resolve()
    if not _inside(resolved, trusted_root.resolve()):
        raise SubfolderEscapeError(
            f"{path.name} resolves to {resolved}, outside the model folder {trusted_root}",
            path=path,
        )
    return resolved


def apply_subfolder(folder: Path, subfolder: str | None, trusted_root: Path) -> Path:
    """``folder / subfolder``, refusing absolute paths, ``..`` and escaping symlinks (L6)."""
    if not subfolder:
        return folder
    pure_posix, pure_windows = PurePosixPath(subfolder), PureWindowsPath(subfolder)
    if (
        pure_posix.is_absolute()
        or pure_windows.anchor
        or ".." in pure_posix.parts
        or ".." in pure_windows.parts
        or "\0" in subfolder
    ):
        raise SubfolderEscapeError(
            f"subfolder {subfolder!r} must be a relative path without '..'", path=folder
        )
    target = folder / subfolder
    check_inside(target, trusted_root)
    if not target.is_dir():
        raise ModelNotFoundError(f"subfolder {subfolder!r} is not a folder", path=target)
    return target


def _has(folder: Path, *names: str) -> bool:
    return all((folder / name).is_file() for name in names)


def detect_layout(folder: Path) -> ResolvedLayout:
    """Find the first matching layout of ``folder`` (L2 order, then L5).

    Raises:
        MissingFileError: no layout matches; the message names what the native layout lacks.
    """
    modules = folder / MODULES if (folder / MODULES).is_file() else None
    if _has(folder, CONFIG, SAFETENSORS, TOKENIZER):
        return ResolvedLayout(
            Layout.NATIVE,
            folder,
            folder / SAFETENSORS,
            folder / TOKENIZER,
            folder / CONFIG,
            modules,
            None,
            NATIVE_TENSOR,
        )
    if _has(folder, ST_CONFIG, SAFETENSORS, TOKENIZER):
        return ResolvedLayout(
            Layout.SENTENCE_TRANSFORMERS,
            folder,
            folder / SAFETENSORS,
            folder / TOKENIZER,
            None,
            modules,
            folder / ST_CONFIG,
            ST_TENSOR,
        )
    nested = folder / NESTED_FOLDER
    if _has(folder, ST_CONFIG) and _has(nested, SAFETENSORS, TOKENIZER):
        return ResolvedLayout(
            Layout.NESTED,
            folder,
            nested / SAFETENSORS,
            nested / TOKENIZER,
            None,
            modules,
            folder / ST_CONFIG,
            ST_TENSOR,
        )
    if folder.name == NESTED_FOLDER and _has(folder, SAFETENSORS, TOKENIZER):
        return ResolvedLayout(
            Layout.STATIC_EMBEDDING_FOLDER,
            folder,
            folder / SAFETENSORS,
            folder / TOKENIZER,
            None,
            modules,
            None,
            ST_TENSOR,
        )
    missing = [name for name in (CONFIG, SAFETENSORS, TOKENIZER) if not (folder / name).is_file()]
    present = sorted(entry.name for entry in folder.iterdir()) if folder.is_dir() else []
    shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "") or "nothing"
    raise MissingFileError(
        f"not a static model folder: missing {', '.join(missing)} (a native m2v folder has "
        f"{CONFIG}, {SAFETENSORS} and {TOKENIZER}; sentence-transformers folders need "
        f"{ST_CONFIG} with {SAFETENSORS} and {TOKENIZER} at the root or in {NESTED_FOLDER}/); "
        f"found: {shown}",
        path=folder,
    )


def local_folder(path: str | os.PathLike[str]) -> Path | None:
    """``path`` as a folder when it exists locally; raise when it exists but is not a folder."""
    candidate = Path(path).expanduser()
    if candidate.is_dir():
        return candidate
    if candidate.exists():
        raise ModelNotFoundError("exists but is not a folder", path=candidate)
    return None
