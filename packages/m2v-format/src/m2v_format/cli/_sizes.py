"""Sizes of files and folders as the subcommands report them."""

from __future__ import annotations

import os
from pathlib import Path


def folder_size(folder: str | os.PathLike[str]) -> int:
    """Bytes of every file under ``folder`` (links followed, each file counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in Path(folder).rglob("*"):
        if not path.is_file():
            continue
        stat = path.stat()
        if (stat.st_dev, stat.st_ino) not in seen:
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_size
    return total


def format_size(size: int) -> str:
    """``12.3 MB`` (decimal units, as file managers show)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
