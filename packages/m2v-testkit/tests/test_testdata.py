"""Fetching test data: every source pinned, pins enforced, a cache lock, a stdlib-only CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from m2v_testkit import SOURCES, FetchError, Source, UnknownDatasetError, cache_lock, fetch
from m2v_testkit import _testdata as testdata

Downloads = tuple[list[str], Callable[[Source, Path], None]]
SHA256 = re.compile(r"[0-9a-f]{64}")
# Files of gensim's test data that the evaluation suite (m2v_distill._eval_data) and the
# pre-training corpus read: the platform wheel cannot be pinned, these must be.
GENSIM_FILES_READ = {
    "wordsim353.tsv",
    "simlex999.txt",
    "lee.cor",
    "similarities0-1.txt",
    "lee_background.cor",
    "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
}


@pytest.mark.parametrize("source", SOURCES.values(), ids=lambda source: source.name)
def test_every_source_is_pinned_by_sha256(source: Source) -> None:
    assert source.pinned, f"{source.name}: pin the wheel's sha256 or the files used from it"
    pins = [source.sha256] if source.sha256 is not None else []
    pins += list(source.files.values())
    assert pins, source.name
    assert all(SHA256.fullmatch(pin) for pin in pins), pins
    assert source.requirement.count("==") == 1, "pin an exact version"


def test_the_platform_wheel_pins_every_file_read_from_it() -> None:
    gensim = SOURCES["gensim-data"]
    assert gensim.sha256 is None  # platform-specific: one hash per platform
    assert set(gensim.files) == GENSIM_FILES_READ


def test_fetch_unpacks_verifies_and_then_uses_the_cache(
    tmp_path: Path, fake_source: Source, downloads: Downloads, fake_files: dict[str, bytes]
) -> None:
    calls, download = downloads
    root = tmp_path / "cache"
    target = fetch(fake_source, root, download=download)
    assert target == root / "fake-data"
    assert (target / "one.txt").read_bytes() == fake_files["data/one.txt"]
    assert (target / "sub" / "two.txt").read_bytes() == fake_files["data/sub/two.txt"]
    assert [p.name for p in (root / "wheels").iterdir()] == ["fakedata-1.0-py3-none-any.whl"]
    assert (root / testdata.LOCK_NAME).is_file()
    assert calls == ["fakedata==1.0"]
    assert fetch(fake_source, root, download=download) == target
    assert calls == ["fakedata==1.0"], "a cached data set is not downloaded again"
    assert [p.name for p in root.iterdir() if p.name.startswith(".fake")] == []  # no staging


def test_a_cached_wheel_is_not_downloaded_again(
    tmp_path: Path, fake_source: Source, downloads: Downloads
) -> None:
    calls, download = downloads
    root = tmp_path / "cache"
    fetch(fake_source, root, download=download)
    shutil.rmtree(root / "fake-data")  # the unpacked data set goes, the wheel stays
    fetch(fake_source, root, download=download)
    assert calls == ["fakedata==1.0"]


def test_a_wheel_with_another_sha256_is_refused_and_deleted(
    tmp_path: Path, fake_source: Source, downloads: Downloads
) -> None:
    _, download = downloads
    wrong = dataclasses.replace(fake_source, sha256="0" * 64)
    with pytest.raises(FetchError, match="is not the pinned 0000") as caught:
        fetch(wrong, tmp_path, download=download)
    assert caught.value.dataset == "fake-data"
    assert not (tmp_path / "fake-data").exists()
    assert list((tmp_path / "wheels").glob("*.whl")) == []


def test_a_pinned_file_with_another_sha256_leaves_no_data_set(
    tmp_path: Path, fake_source: Source, downloads: Downloads
) -> None:
    _, download = downloads
    wrong = dataclasses.replace(fake_source, files={"sub/two.txt": "f" * 64})
    with pytest.raises(FetchError, match=r"sub/two.txt: sha256 .* is not the pinned ffff"):
        fetch(wrong, tmp_path, download=download)
    missing = dataclasses.replace(fake_source, files={"absent.txt": "f" * 64})
    with pytest.raises(FetchError, match=r"has no pinned file absent\.txt"):
        fetch(missing, tmp_path, download=download)
    assert not (tmp_path / "fake-data").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".fake")] == []


def test_a_wheel_without_the_inner_path_is_an_error(
    tmp_path: Path, fake_source: Source, downloads: Downloads
) -> None:
    _, download = downloads
    elsewhere = dataclasses.replace(fake_source, inner_path="fakedata/nothing", files={})
    with pytest.raises(FetchError, match="has no fakedata/nothing"):
        fetch(elsewhere, tmp_path, download=download)


def test_a_download_that_gives_no_wheel_is_an_error(tmp_path: Path, fake_source: Source) -> None:
    with pytest.raises(FetchError, match="gave no wheel"):
        fetch(fake_source, tmp_path, download=lambda source, folder: None)


def test_an_unwritable_cache_is_a_fetch_error(tmp_path: Path, fake_source: Source) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(FetchError, match="cannot fetch into"):
        fetch(fake_source, blocker / "cache", download=lambda source, folder: None)


def test_threads_fetching_at_once_download_once(
    tmp_path: Path, fake_source: Source, downloads: Downloads
) -> None:
    calls, write_wheel = downloads
    started = threading.Event()

    def slow_download(source: Source, folder: Path) -> None:
        started.set()
        threading.Event().wait(0.3)  # the others queue on the lock meanwhile
        write_wheel(source, folder)

    results: list[Path] = []
    workers = [
        threading.Thread(
            target=lambda: results.append(fetch(fake_source, tmp_path, download=slow_download))
        )
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert started.is_set()
    assert calls == ["fakedata==1.0"]
    assert results == [tmp_path / "fake-data"] * 4


_RACE = """
import sys, time
from pathlib import Path
from m2v_testkit import Source, fetch

root, wheel, log, sha = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]

def download(source, folder):
    with log.open("a") as handle:
        handle.write("download\\n")
    time.sleep(0.5)
    (folder / wheel.name).write_bytes(wheel.read_bytes())

source = Source("fake-data", "fakedata==1.0", "fakedata/data", "race", sha256=sha)
print(fetch(source, root, download=download))
"""


def test_processes_fetching_at_once_download_once(
    tmp_path: Path, fake_source: Source, wheel_bytes: bytes
) -> None:
    wheel = tmp_path / "fakedata-1.0-py3-none-any.whl"
    wheel.write_bytes(wheel_bytes)
    script = tmp_path / "race.py"
    script.write_text(textwrap.dedent(_RACE))
    log, root = tmp_path / "downloads.log", tmp_path / "cache"
    assert fake_source.sha256 is not None
    argv = [sys.executable, str(script), str(root), str(wheel), str(log), fake_source.sha256]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=60)[0].strip() for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0]
    assert outputs == [str(root / "fake-data")] * 3
    assert log.read_text() == "download\n"


def test_the_lock_is_exclusive(tmp_path: Path) -> None:
    entered = threading.Event()

    def second_holder() -> None:
        with cache_lock(tmp_path):
            entered.set()

    with cache_lock(tmp_path):
        waiter = threading.Thread(target=second_holder, daemon=True)
        waiter.start()
        assert not entered.wait(0.3), "a second holder got the lock while it was held"
    assert entered.wait(10), "the lock was not released"
    waiter.join(10)


def test_dataset_path_of_an_unknown_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("M2V_TESTDATA_DIR", str(tmp_path))
    with pytest.raises(UnknownDatasetError, match="unknown data set 'nope'; known: potion-base-8M"):
        testdata.dataset_path("nope")
    assert testdata.main(["nope"]) == 1


def test_dataset_path_uses_the_configured_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("M2V_TESTDATA_DIR", str(tmp_path))
    (tmp_path / "tweets.csv").write_text("text\nhello\n")
    assert testdata.cache_dir() == tmp_path
    assert testdata.dataset_path("tweets") == tmp_path / "tweets.csv"  # cached: no download


def test_the_module_runs_with_the_standard_library_only() -> None:
    """``-I -S``: no site-packages, no user paths: it must run before anything is installed."""
    script = Path(testdata.__file__)
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(script), "--list"],
        capture_output=True,
        text=True,
        check=True,
    )
    listed = [line.split()[0] for line in result.stdout.splitlines()]
    assert listed == list(SOURCES)


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_an_sdist_with_a_nested_tar_is_unpacked_and_every_layer_checked(tmp_path: Path) -> None:
    ratings = b"1\t0.5\tgood\r\n"
    inner = _tar_gz({"corpus/ratings.txt": ratings, "corpus/notes.txt": b"n"})
    sdist = _tar_gz({"Fake_Data-1.0/PKG-INFO": b"x", "Fake_Data-1.0/res/corpus.tar.gz": inner})
    calls: list[str] = []

    def download(source: Source, folder: Path) -> None:
        calls.append(source.kind)
        (folder / "fake_data-1.0-py3-none-any.whl").write_bytes(b"not this one")
        (folder / "Fake_Data-1.0.tar.gz").write_bytes(sdist)

    source = Source(
        "fake-sdist",
        "fake-data==1.0",
        "corpus",
        "an sdist",
        sha256=_sha(sdist),
        sdist=True,
        nested="Fake_Data-1.0/res/corpus.tar.gz",
        nested_sha256=_sha(inner),
        files={"ratings.txt": _sha(ratings)},
    )
    target = fetch(source, tmp_path, download=download)
    assert (target / "ratings.txt").read_bytes() == ratings
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt", "ratings.txt"]
    assert [p.name for p in (tmp_path / "wheels").iterdir()] == ["Fake_Data-1.0.tar.gz"]
    shutil.rmtree(target)
    assert fetch(source, tmp_path, download=download) == target  # from the cached sdist
    assert calls == ["sdist"]
    shutil.rmtree(target)
    wrong = dataclasses.replace(source, nested_sha256="0" * 64)
    with pytest.raises(FetchError, match=r"corpus.tar.gz: sha256 .* is not the pinned 0000"):
        fetch(wrong, tmp_path, download=download)
    absent = dataclasses.replace(source, nested="Fake_Data-1.0/none.tar.gz")
    with pytest.raises(FetchError, match=r"has no Fake_Data-1\.0/none\.tar\.gz"):
        fetch(absent, tmp_path, download=download)
    assert not target.exists()


def test_a_member_that_leaves_its_folder_is_refused(tmp_path: Path) -> None:
    sdist = _tar_gz({"pkg-1.0/data/../../evil.txt": b"x"})
    source = Source(
        "fake-sdist", "pkg==1.0", "pkg-1.0/data", "evil", sha256=_sha(sdist), sdist=True
    )

    def download(source: Source, folder: Path) -> None:
        (folder / "pkg-1.0.tar.gz").write_bytes(sdist)

    with pytest.raises(FetchError, match="leaves its folder"):
        fetch(source, tmp_path / "cache", download=download)
    assert not (tmp_path / "evil.txt").exists()


def test_pip_download_asks_for_an_sdist_or_a_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    commands: list[list[str]] = []

    def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(testdata, "_pip_command", lambda name: ["pip"])
    monkeypatch.setattr(subprocess, "run", run)
    testdata.pip_download(SOURCES["vader-sentiment"], Path("/tmp/x"))
    testdata.pip_download(SOURCES["potion-base-8M"], Path("/tmp/x"))
    assert "--no-binary=:all:" in commands[0]
    assert "--python-version" not in commands[0]
    assert "--only-binary=:all:" in commands[1]
    assert "--python-version" in commands[1]
