"""Regenerate (or check) the committed gRPC code under ``src/m2v_grpc/_generated``.

    uv run --all-packages python packages/m2v-grpc/scripts/generate_proto.py          # write
    uv run --all-packages python packages/m2v-grpc/scripts/generate_proto.py --check  # drift

The protos live in ``proto/`` (a buf module: ``proto/m2v/embed/v1/embed.proto`` for package
``m2v.embed.v1``).  protoc is given ``-I m2v_grpc/_generated=proto``, a virtual path that
mounts the buf module at the Python package path, so the generated modules import each
other as ``m2v_grpc._generated.m2v.embed.v1...``: no sys.path tricks, no rewriting of
generated files.  Output is byte-for-byte what grpcio-tools and mypy-protobuf produce, so the
check simply regenerates into a temporary folder and compares.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO = PACKAGE_ROOT.parents[1]
PROTO_ROOT = REPO / "proto"
SRC = PACKAGE_ROOT / "src"
GENERATED = SRC / "m2v_grpc" / "_generated"
VIRTUAL_ROOT = "m2v_grpc/_generated"
INIT_TEXT = '"""Generated gRPC code (grpcio-tools + mypy-protobuf); do not edit."""\n'


def proto_files() -> list[Path]:
    """Every ``.proto`` file of the buf module, sorted."""
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate(out_src: Path) -> list[Path]:
    """Run protoc (grpcio-tools) with the Python, gRPC and mypy plugins into ``out_src``.

    Returns the files written under ``out_src / "m2v_grpc" / "_generated"``.
    """
    bin_dir = Path(sys.executable).parent
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{VIRTUAL_ROOT}={PROTO_ROOT}",
        f"--python_out={out_src}",
        f"--grpc_python_out={out_src}",
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={out_src}",
        f"--mypy_grpc_out={out_src}",
        *(str(path) for path in proto_files()),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    generated = out_src / VIRTUAL_ROOT
    for folder in [generated, *(p for p in generated.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").write_text(INIT_TEXT)
    return sorted(p for p in generated.rglob("*") if p.is_file())


def drift(reference: Path, candidate: Path) -> list[str]:
    """Relative paths that differ between two generated trees (missing, extra or changed)."""

    def files(root: Path) -> set[str]:
        return {
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    left, right = files(reference), files(candidate)
    changed = [
        name
        for name in sorted(left & right)
        if not filecmp.cmp(reference / name, candidate / name, shallow=False)
    ]
    return sorted(left ^ right) + changed


def main(argv: list[str] | None = None) -> int:
    """Write the generated code, or with ``--check`` report drift and exit 1 on any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = Path(tmp) / VIRTUAL_ROOT
        if args.check:
            differences = drift(fresh, GENERATED)
            for name in differences:
                print(f"drift: {name}", file=sys.stderr)
            if differences:
                print("run packages/m2v-grpc/scripts/generate_proto.py", file=sys.stderr)
                return 1
            print("generated code is up to date")
            return 0
        shutil.rmtree(GENERATED, ignore_errors=True)
        shutil.copytree(fresh, GENERATED)
        print(f"wrote {GENERATED.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
