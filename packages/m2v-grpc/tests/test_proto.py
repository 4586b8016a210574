"""The proto: buf lint clean, committed generated code identical to a fresh generation,
package-relative imports, and the Python mirrors of its enums in step."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from m2v_grpc._codec import DTYPE_NAMES, DTYPE_NUMBERS
from m2v_grpc._errors import ALL_ERRORS, STATUS_NUMBERS, code_from_proto_enum_name, proto_enum_name
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "packages" / "m2v-grpc" / "scripts" / "generate_proto.py"


def test_generated_code_matches_a_fresh_generation() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_buf_lint_is_clean() -> None:
    buf = shutil.which("buf") or str(Path(sys.executable).parent / "buf")
    if not Path(buf).exists():
        pytest.skip("buf (buf-bin) is not installed")
    result = subprocess.run(
        [buf, "lint"], cwd=REPO / "proto", capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    formatted = subprocess.run(
        [buf, "format", "-d"], cwd=REPO / "proto", capture_output=True, text=True, timeout=120
    )
    assert formatted.stdout == "", formatted.stdout


def test_generated_imports_need_no_path_tricks() -> None:
    probe = "import m2v_grpc._generated.m2v.embed.v1.embed_pb2_grpc as g; print(g.embed__pb2.__name__ if hasattr(g, 'embed__pb2') else 'ok')"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    source = (
        REPO / "packages/m2v-grpc/src/m2v_grpc/_generated/m2v/embed/v1/embed_pb2_grpc.py"
    ).read_text()
    assert "from m2v_grpc._generated.m2v.embed.v1 import embed_pb2" in source
    assert (
        importlib.util.find_spec("m2v") is None
    )  # nothing top-level named after the proto package
    assert embed_pb2.DESCRIPTOR.package == "m2v.embed.v1"


def test_stubs_exist_for_mypy() -> None:
    folder = REPO / "packages/m2v-grpc/src/m2v_grpc/_generated/m2v/embed/v1"
    assert (folder / "embed_pb2.pyi").exists()
    assert (folder / "embed_pb2_grpc.pyi").exists()


def test_dtype_mirror_matches_proto() -> None:
    for name, number in DTYPE_NUMBERS.items():
        assert embed_pb2.OutputDtype.Name(number) == f"OUTPUT_DTYPE_{name.upper()}"
    assert set(embed_pb2.OutputDtype.values()) == set(DTYPE_NAMES)


def test_error_codes_mirror_proto() -> None:
    proto_names = set(embed_pb2.ErrorCode.keys()) - {"ERROR_CODE_UNSPECIFIED"}
    python_codes = {cls.code for cls in ALL_ERRORS}
    assert len(python_codes) == len(ALL_ERRORS), "error codes must be unique"
    for name in proto_names:
        assert code_from_proto_enum_name(name) in python_codes, name
        assert proto_enum_name(code_from_proto_enum_name(name)) == name
    for cls in ALL_ERRORS:
        assert cls.status in STATUS_NUMBERS
