"""The proto: buf lint clean, committed generated code identical to a fresh generation,
package-relative imports, and the Python mirrors of its enums in step."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2
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


def _standard_generation(folder: Path) -> Path:
    """Generate code from proto/ the way another team would (grpcio-tools, ``-I proto``)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            str(REPO / "proto"),
            f"--python_out={folder}",
            f"--grpc_python_out={folder}",
            str(REPO / "proto/m2v/embed/v1/embed.proto"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return folder


_SAME_PROCESS_PROBE = """
import pickle, sys
sys.path.insert(0, {folder!r})
def theirs_first():
    from m2v.embed.v1 import embed_pb2 as theirs, embed_pb2_grpc  # noqa: F401
    import m2v_grpc  # noqa: F401
    from m2v_grpc._generated.m2v.embed.v1 import embed_pb2 as ours
    return theirs, ours
def ours_first():
    import m2v_grpc  # noqa: F401
    from m2v_grpc._generated.m2v.embed.v1 import embed_pb2 as ours
    from m2v.embed.v1 import embed_pb2 as theirs, embed_pb2_grpc  # noqa: F401
    return theirs, ours
theirs, ours = {order}()
assert theirs.DESCRIPTOR.name == "m2v/embed/v1/embed.proto", theirs.DESCRIPTOR.name
assert ours.DESCRIPTOR.name == "m2v/embed/v1/embed.proto", ours.DESCRIPTOR.name
request = theirs.EmbedRequest(texts=[b"hello"], options=theirs.EmbedOptions(model="m", dimensions=8))
parsed = ours.EmbedRequest.FromString(request.SerializeToString())
assert list(parsed.texts) == [b"hello"] and parsed.options.dimensions == 8
reply = ours.EmbedStreamResponse(sequence=3, ids=[1, 2], timing=ours.Timing(queue_ms=1.5))
back = theirs.EmbedStreamResponse.FromString(reply.SerializeToString())
assert back.sequence == 3 and list(back.ids) == [1, 2] and back.timing.queue_ms == 1.5
if {order!r} == "ours_first":  # one class per descriptor: the first import names it
    assert ours.EmbedRequest.__module__ == "m2v_grpc._generated.m2v.embed.v1.embed_pb2"
assert pickle.loads(pickle.dumps(parsed)) == parsed
print("ok")
"""


@pytest.mark.parametrize("order", ["theirs_first", "ours_first"])
def test_standard_generated_code_imports_with_m2v_grpc(tmp_path: Path, order: str) -> None:
    folder = _standard_generation(tmp_path / "generated")
    probe = _SAME_PROCESS_PROBE.format(folder=str(folder), order=order)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_descriptor_has_its_canonical_path() -> None:
    assert embed_pb2.DESCRIPTOR.name == "m2v/embed/v1/embed.proto"
    source = (
        REPO / "packages/m2v-grpc/src/m2v_grpc/_generated/m2v/embed/v1/embed_pb2.py"
    ).read_text()
    assert "m2v_grpc/_generated/m2v/embed/v1/embed.proto" not in source


def test_relocate_rewrites_only_the_imports_of_the_proto_package() -> None:
    spec = importlib.util.spec_from_file_location("generate_proto", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    text = (
        "import grpc\n"
        "from m2v.embed.v1 import embed_pb2 as m2v_dot_embed_dot_v1_dot_embed__pb2\n"
        "import m2v.embed.v1.embed_pb2\n"
        "_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, 'm2v.embed.v1.embed_pb2', _g)\n"
        "x = '/m2v.embed.v1.EmbedService/Embed'\n"
    )
    relocated = script.relocate(text)
    assert relocated == (
        "import grpc\n"
        "from m2v_grpc._generated.m2v.embed.v1 import embed_pb2 as "
        "m2v_dot_embed_dot_v1_dot_embed__pb2\n"
        "import m2v_grpc._generated.m2v.embed.v1.embed_pb2\n"
        "_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, "
        "'m2v_grpc._generated.m2v.embed.v1.embed_pb2', _g)\n"
        "x = '/m2v.embed.v1.EmbedService/Embed'\n"
    )
    assert script.relocate(relocated) == relocated  # idempotent


@pytest.mark.asyncio
async def test_reflection_serves_the_file_under_its_canonical_name(
    registry: Any, running_server: Any, channel: Any
) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    async with running_server(registry) as server, channel(server) as chan:
        stub = reflection_pb2_grpc.ServerReflectionStub(chan)

        async def ask(**request: str) -> Any:
            call = stub.ServerReflectionInfo()
            await call.write(reflection_pb2.ServerReflectionRequest(**request))
            await call.done_writing()
            return await call.read()

        by_name = await ask(file_by_filename="m2v/embed/v1/embed.proto")
        (serialized,) = by_name.file_descriptor_response.file_descriptor_proto
        assert descriptor_pb2.FileDescriptorProto.FromString(serialized).name == (
            "m2v/embed/v1/embed.proto"
        )
        by_symbol = await ask(file_containing_symbol="m2v.embed.v1.EmbedService")
        (serialized,) = by_symbol.file_descriptor_response.file_descriptor_proto
        assert descriptor_pb2.FileDescriptorProto.FromString(serialized).name == (
            "m2v/embed/v1/embed.proto"
        )
        old = await ask(file_by_filename="m2v_grpc/_generated/m2v/embed/v1/embed.proto")
        assert old.error_response.error_code == 5  # NOT_FOUND: the old path is gone
