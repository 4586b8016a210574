"""Regenerate (or check) the committed gRPC code under ``src/m2v_grpc/_generated``.

    uv run --all-packages python packages/m2v-grpc/scripts/generate_proto.py          # write
    uv run --all-packages python packages/m2v-grpc/scripts/generate_proto.py --check  # drift

The protos live in ``proto/`` (a buf module: ``proto/m2v/embed/v1/embed.proto`` for package
``m2v.embed.v1``).  protoc runs with ``-I proto``, exactly as anyone generating code from
``proto/`` would, so the file descriptor is registered under its canonical name
``m2v/embed/v1/embed.proto`` and code generated elsewhere from the same proto can be imported
in the same process as ``m2v_grpc`` (identical files share one descriptor-pool entry).

The output lands under ``m2v/...``, but there must be no top-level ``m2v`` Python package
(the umbrella distribution ``m2v`` imports as ``m2v_all``), so the tree is moved to
``m2v_grpc/_generated/m2v/...`` and rewritten in one documented, deterministic step
(:func:`relocate`), applied line by line to the generated ``.py`` and ``.pyi`` files:

- ``from m2v.<x> import ...`` / ``import m2v.<x>`` become ``from m2v_grpc._generated.m2v.<x>
  import ...`` / ``import m2v_grpc._generated.m2v.<x>`` (``_pb2_grpc.py`` and its stub);
- the module name handed to protobuf's builder in ``_pb2.py``
  (``BuildTopDescriptorsAndMessages(DESCRIPTOR, 'm2v.embed.v1.embed_pb2', ...)``) becomes
  ``'m2v_grpc._generated.m2v.embed.v1.embed_pb2'`` so that the message classes'
  ``__module__`` is where they really live (pickling works).

Nothing else changes: the serialized descriptor keeps the canonical path.  ``--check``
regenerates into a temporary folder (same steps) and compares byte for byte.
"""

from __future__ import annotations

import argparse
import filecmp
import re
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
PACKAGE_PATH = "m2v_grpc/_generated"
"""Where the generated tree lives, relative to ``src``."""
PROTO_PACKAGE_ROOT = "m2v"
"""The top folder protoc writes (the first component of the proto package)."""
PYTHON_PREFIX = PACKAGE_PATH.replace("/", ".") + "."

_IMPORT = re.compile(rf"^(from|import) ({PROTO_PACKAGE_ROOT}\.)", re.MULTILINE)
_BUILDER = re.compile(rf"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, ')({PROTO_PACKAGE_ROOT}\.)")
INIT_TEXT = '"""Generated gRPC code (grpcio-tools + mypy-protobuf); do not edit."""\n'


def proto_files() -> list[Path]:
    """Every ``.proto`` file of the buf module, sorted."""
    return sorted(PROTO_ROOT.rglob("*.proto"))


def relocate(text: str) -> str:
    """Point a generated module's imports of ``m2v.*`` at ``m2v_grpc._generated.m2v.*``.

    The only post-processing of protoc's output (see the module docstring); deterministic
    and idempotent.  Leaves no ``from m2v.`` / ``import m2v.`` line behind.
    """
    text = _IMPORT.sub(lambda m: f"{m.group(1)} {PYTHON_PREFIX}{m.group(2)}", text)
    text = _BUILDER.sub(lambda m: f"{m.group(1)}{PYTHON_PREFIX}{m.group(2)}", text)
    if _IMPORT.search(text):  # pragma: no cover - a changed generator
        raise RuntimeError("generated code still imports the top-level m2v package")
    return text


def generate(out_src: Path) -> list[Path]:
    """Run protoc (grpcio-tools) with the Python, gRPC and mypy plugins, then relocate.

    protoc writes ``out_src / "m2v" / ...``; the tree is moved to
    ``out_src / "m2v_grpc" / "_generated" / "m2v"`` and its imports rewritten
    (:func:`relocate`).  Returns the files written under ``out_src / PACKAGE_PATH``.
    """
    bin_dir = Path(sys.executable).parent
    raw = out_src / "protoc"
    raw.mkdir(parents=True)
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={raw}",
        f"--grpc_python_out={raw}",
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={raw}",
        f"--mypy_grpc_out={raw}",
        *(str(path) for path in proto_files()),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    generated = out_src / PACKAGE_PATH
    generated.mkdir(parents=True)
    shutil.move(str(raw / PROTO_PACKAGE_ROOT), str(generated / PROTO_PACKAGE_ROOT))
    raw.rmdir()
    for path in generated.rglob("*"):
        if path.suffix in (".py", ".pyi"):
            path.write_text(relocate(path.read_text(encoding="utf-8")), encoding="utf-8")
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
        fresh = Path(tmp) / PACKAGE_PATH
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
