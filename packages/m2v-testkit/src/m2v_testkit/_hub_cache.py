"""A Hugging Face hub cache written by hand, so hub ids resolve offline in tests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"
"""The revision :func:`hub_cache_snapshot` files its snapshot under (``refs/main``)."""


def hub_cache_snapshot(
    cache: Path, repo: str, folder: Path, *, prefix: str = "", commit: str = HUB_COMMIT
) -> Path:
    """``folder``'s files as huggingface_hub caches ``repo`` under ``cache``.

    The layout huggingface_hub uses: blobs named by their sha256, snapshot files as relative
    symlinks (under ``prefix`` inside the snapshot), ``refs/main`` naming ``commit``.
    Returns the snapshot folder.  Use with ``HF_HUB_CACHE=cache`` and ``HF_HUB_OFFLINE=1``.
    """
    root = cache / ("models--" + repo.replace("/", "--"))
    blobs, snapshot = root / "blobs", root / "snapshots" / commit
    blobs.mkdir(parents=True)
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = file.read_bytes()
        blob = blobs / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        target = snapshot / prefix / file.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, target.parent), target)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    return snapshot


def offline_hub_cache(cache: Path, monkeypatch: Any) -> Path:
    """Make ``cache`` an empty Hugging Face cache and the hub offline, for one test.

    ``monkeypatch`` is the test's ``pytest.MonkeyPatch`` (it undoes the environment
    changes).  Skips the test when huggingface_hub is not installed.  Returns ``cache``.
    """
    import pytest  # only tests call this; the testkit itself does not depend on pytest

    pytest.importorskip("huggingface_hub")
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache
