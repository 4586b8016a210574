"""The feature store: a work folder of teacher targets, written in resumable shards.

Layout (all data, no pickle)::

    features.json         manifest: teacher, target mode, dim, shard size, count, corpus hash
    texts.jsonl           the corpus, one JSON string per line
    shard-00000.npy       float32 [shard_size, dim] targets of texts 0 .. shard_size-1
    shard-00001.npy       ...

Every file is written to a temporary name and renamed into place, so an interrupted run
leaves only complete shards; featurizing again with the same corpus and teacher computes
only the missing ones.  Arrays are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from m2v_train._errors import FeatureStoreError

STORE_FORMAT = "m2v-train-features"
STORE_VERSION = 1
MANIFEST = "features.json"
TEXTS = "texts.jsonl"


def corpus_digest(texts: Sequence[str]) -> str:
    """SHA-256 over the texts (each UTF-8 encoded, NUL-terminated), in order."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Manifest:
    """What a feature folder holds."""

    teacher: str
    target: str
    dim: int
    shard_size: int
    count: int
    corpus_sha256: str
    format: str = STORE_FORMAT
    version: int = STORE_VERSION

    @property
    def shards(self) -> int:
        """Number of shards the corpus is cut into."""
        return (self.count + self.shard_size - 1) // self.shard_size

    def same_job(self, other: Manifest) -> bool:
        """Whether ``other`` describes the same corpus, teacher and sharding."""
        return asdict(self) == asdict(other)


def shard_path(folder: Path, index: int) -> Path:
    """The file of shard ``index``."""
    return folder / f"shard-{index:05d}.npy"


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest, ``None`` when there is none."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest(**raw)
    except (OSError, ValueError, TypeError) as error:
        raise FeatureStoreError(f"unreadable manifest {path}: {error}") from None
    if manifest.format != STORE_FORMAT or manifest.version != STORE_VERSION:
        raise FeatureStoreError(
            f"{path} is a {manifest.format} v{manifest.version} store; this version reads "
            f"{STORE_FORMAT} v{STORE_VERSION}"
        )
    return manifest


def start_store(folder: Path, manifest: Manifest, texts: Sequence[str]) -> None:
    """Create (or check) a store: a different job in a used folder is an error."""
    folder.mkdir(parents=True, exist_ok=True)
    existing = read_manifest(folder)
    if existing is not None:
        if not existing.same_job(manifest):
            raise FeatureStoreError(
                f"{folder} holds features of another corpus or teacher "
                f"({existing.teacher}, {existing.count} texts, target {existing.target}); "
                "use another --work-dir or pass overwrite"
            )
        return
    lines = "".join(json.dumps(text, ensure_ascii=False) + "\n" for text in texts)
    _atomic_write(folder / TEXTS, lines.encode("utf-8"))
    _atomic_write(folder / MANIFEST, json.dumps(asdict(manifest), indent=2).encode("utf-8"))


def shard_rows(manifest: Manifest, index: int) -> int:
    """How many texts shard ``index`` covers."""
    return min(manifest.shard_size, manifest.count - index * manifest.shard_size)


def _read_shard(folder: Path, manifest: Manifest, index: int) -> np.ndarray[Any, Any] | None:
    path = shard_path(folder, index)
    if not path.is_file():
        return None
    try:
        array: np.ndarray[Any, Any] = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as error:
        raise FeatureStoreError(f"corrupt shard {path}: {error}") from None
    if array.shape != (shard_rows(manifest, index), manifest.dim) or array.dtype != np.float32:
        raise FeatureStoreError(
            f"shard {path} has shape {array.shape} {array.dtype}, expected "
            f"({shard_rows(manifest, index)}, {manifest.dim}) float32"
        )
    return array


def missing_shards(folder: Path, manifest: Manifest) -> list[int]:
    """Indices of the shards not written yet."""
    return [i for i in range(manifest.shards) if not shard_path(folder, i).is_file()]


def write_shard(folder: Path, index: int, features: np.ndarray[Any, Any]) -> None:
    """Write shard ``index`` atomically as float32 ``.npy``."""
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(features, dtype=np.float32), allow_pickle=False)
    _atomic_write(shard_path(folder, index), buffer.getvalue())


@dataclass(frozen=True)
class FeatureSet:
    """A complete feature store loaded into memory: texts and their teacher targets."""

    texts: list[str]
    targets: np.ndarray[Any, Any]
    manifest: Manifest


def load_features(folder: str | os.PathLike[str]) -> FeatureSet:
    """Read a complete feature store (every shard present) into memory."""
    root = Path(folder).expanduser()
    manifest = read_manifest(root)
    if manifest is None:
        raise FeatureStoreError(f"{root} is not a feature folder ({MANIFEST} missing)")
    missing = missing_shards(root, manifest)
    if missing:
        raise FeatureStoreError(
            f"{root} is incomplete: {len(missing)} of {manifest.shards} shards missing; "
            "run `m2v train featurize` again with the same arguments to finish it"
        )
    try:
        with (root / TEXTS).open(encoding="utf-8") as handle:
            texts = [json.loads(line) for line in handle]
    except (OSError, ValueError) as error:
        raise FeatureStoreError(f"unreadable {root / TEXTS}: {error}") from None
    if len(texts) != manifest.count or not all(isinstance(t, str) for t in texts):
        raise FeatureStoreError(f"{root / TEXTS} does not hold {manifest.count} strings")
    parts = [_read_shard(root, manifest, i) for i in range(manifest.shards)]
    targets = np.concatenate([np.asarray(p) for p in parts if p is not None], axis=0)
    return FeatureSet(texts=texts, targets=targets, manifest=manifest)


def merge_features(parts: Sequence[FeatureSet]) -> FeatureSet:
    """Concatenate feature sets made by the same teacher (same name, target and dim)."""
    if not parts:
        raise FeatureStoreError("no feature folder given")
    first = parts[0].manifest
    for part in parts[1:]:
        other = part.manifest
        if (other.teacher, other.target, other.dim) != (first.teacher, first.target, first.dim):
            raise FeatureStoreError(
                f"cannot mix features of {first.teacher}/{first.target}/{first.dim} and "
                f"{other.teacher}/{other.target}/{other.dim}"
            )
    if len(parts) == 1:
        return parts[0]
    texts = [text for part in parts for text in part.texts]
    manifest = Manifest(
        teacher=first.teacher,
        target=first.target,
        dim=first.dim,
        shard_size=first.shard_size,
        count=len(texts),
        corpus_sha256=corpus_digest(texts),
    )
    targets = np.concatenate([part.targets for part in parts], axis=0)
    return FeatureSet(texts=texts, targets=targets, manifest=manifest)


def select_features(features: FeatureSet, rows: Sequence[int] | np.ndarray[Any, Any]) -> FeatureSet:
    """The subset of ``features`` at ``rows`` (e.g. to leave evaluation texts out)."""
    chosen = np.asarray(rows, dtype=np.int64)
    texts = [features.texts[i] for i in chosen]
    manifest = dataclasses.replace(
        features.manifest, count=len(texts), corpus_sha256=corpus_digest(texts)
    )
    return FeatureSet(texts=texts, targets=np.asarray(features.targets)[chosen], manifest=manifest)
