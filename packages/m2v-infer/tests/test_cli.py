"""``m2v encode`` and ``m2v quantize``, in-process through the ``m2v`` dispatcher (and once
as a real subprocess)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import load_model
from m2v_format.cli import main
from m2v_infer import StaticModel


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_texts_from_arguments(
    potion_path: Path, potion: StaticModel, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["encode", "--model", str(potion_path), "hello world", "", "😀"]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert [row["text"] for row in rows] == ["hello world", "", "😀"]
    vectors = np.array([row["embedding"] for row in rows], dtype=np.float32)
    assert np.array_equal(vectors, potion.encode(["hello world", "", "😀"]))


def test_file_to_npy(
    potion_path: Path,
    potion: StaticModel,
    tmp_path: Path,
    real_corpus: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    texts = [text.replace("\n", " ").replace("\r", " ") for text in real_corpus[:1500]]
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "vectors.npy"
    code = main(
        [
            "encode",
            "-m",
            str(potion_path),
            "--file",
            str(source),
            "-o",
            str(out),
            "--batch-size",
            "200",
        ]
    )
    assert code == 0
    assert "wrote 1500 embeddings (256 dimensions)" in capsys.readouterr().err
    assert np.array_equal(np.load(out), potion.encode(texts))


def test_stdin_to_jsonl_with_options(
    potion_path: Path, potion: StaticModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("first line\nsecond line\n\nlast"))
    out = tmp_path / "out.jsonl"
    code = main(
        [
            "encode",
            "-m",
            str(potion_path),
            "-o",
            str(out),
            "--max-length",
            "none",
            "--no-normalize",
            "--dimensions",
            "16",
            "--num-threads",
            "1",
        ]
    )
    assert code == 0
    rows = _json_lines(out.read_text(encoding="utf-8"))
    texts = ["first line", "second line", "", "last"]
    assert [row["text"] for row in rows] == texts
    expected = potion.encode(texts, max_length=None, normalize=False, dimensions=16)
    assert np.array_equal(np.array([row["embedding"] for row in rows], dtype=np.float32), expected)


def test_file_dash_reads_stdin(
    potion_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("one\ntwo\n"))
    assert main(["encode", "-m", str(potion_path), "--file", "-", "--max-length", "2"]) == 0
    assert len(_json_lines(capsys.readouterr().out)) == 2


def test_parquet(potion_path: Path, potion: StaticModel, tmp_path: Path) -> None:
    parquet = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "out.parquet"
    texts = [f"sentence {i}" for i in range(2500)]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(texts), encoding="utf-8")
    assert main(["encode", "-m", str(potion_path), "-f", str(source), "-o", str(out)]) == 0
    table = parquet.read_table(out)
    assert table.column("text").to_pylist() == texts
    vectors = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
    assert np.array_equal(vectors, potion.encode(texts))


def test_parquet_without_pyarrow(
    potion_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    assert main(["encode", "-m", str(potion_path), "-o", str(tmp_path / "x.parquet"), "hi"]) == 1
    assert "missing-dependency" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


def test_empty_input_to_npy(
    potion_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    out = tmp_path / "empty.npy"
    assert main(["encode", "-m", str(potion_path), "-o", str(out), "--dimensions", "8"]) == 0
    assert np.load(out).shape == (0, 8)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["-o", "OUT/x.csv", "hi"], 1, "unsupported-output"),
        (["-o", "OUT/exists.npy", "hi"], 1, "output-exists"),
        (["--file", "OUT/absent.txt"], 1, "unreadable-input"),
        (["--file", "OUT/latin1.txt"], 1, "unreadable-input"),
        (["--dimensions", "999", "hi"], 1, "invalid-argument"),
        (["--file", "OUT/latin1.txt", "hi"], 2, "not both"),
    ],
)
def test_errors(
    potion_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    (tmp_path / "exists.npy").write_bytes(b"keep me")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    argv = [arg.replace("OUT", str(tmp_path)) for arg in argv]
    assert main(["encode", "-m", str(potion_path), *argv]) == code
    assert message in capsys.readouterr().err
    assert (tmp_path / "exists.npy").read_bytes() == b"keep me"


def test_latin1_with_encoding(
    potion_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    argv = [
        "encode",
        "-m",
        str(potion_path),
        "-f",
        str(tmp_path / "latin1.txt"),
        "--encoding",
        "latin-1",
    ]
    assert main(argv) == 0
    assert _json_lines(capsys.readouterr().out)[0]["text"] == "café"


def test_overwrite(potion_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.npy"
    out.write_bytes(b"old")
    assert main(["encode", "-m", str(potion_path), "-o", str(out), "--overwrite", "hi"]) == 0
    assert np.load(out).shape == (1, 256)


def test_no_input_is_a_usage_error(
    potion_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal())
    assert main(["encode", "-m", str(potion_path)]) == 2
    assert "no input" in capsys.readouterr().err


def test_bad_option_values_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--max-length", "0"], ["--batch-size", "x"], ["--dimensions", "-1"]):
        with pytest.raises(SystemExit) as caught:
            main(["encode", *argv, "hi"])
        assert caught.value.code == 2
    assert "integer >= 1" in capsys.readouterr().err


def test_model_errors_show_their_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["encode", "-m", str(tmp_path / "absent"), "hi"]) == 1
    assert "model-not-found" in capsys.readouterr().err
    import m2v_infer._default as default

    monkeypatch.setattr(default, "DEFAULT_MODEL_DIR", tmp_path / "none")
    assert main(["encode", "hi"]) == 1
    assert "default-model-missing" in capsys.readouterr().err


def test_progress_bar(
    potion_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import m2v_infer._runner as runner

    real = runner.progress_bar

    def immediate(*args: Any, **kwargs: Any) -> Any:
        kwargs["delay"] = 0.0
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "progress_bar", immediate)
    source = tmp_path / "in.txt"
    source.write_text("\n".join(["text"] * 3000), encoding="utf-8")
    argv = [
        "encode",
        "-m",
        str(potion_path),
        "-f",
        str(source),
        "-o",
        str(tmp_path / "o.npy"),
        "--progress",
        "--batch-size",
        "500",
    ]
    assert main(argv) == 0
    assert "3000/3000" in capsys.readouterr().err


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("encode", "quantize"):
        with pytest.raises(SystemExit) as caught:
            main([command, "--help"])
        assert caught.value.code == 0
        assert "examples:" in capsys.readouterr().out


@pytest.mark.parametrize(("to", "dims"), [("int8", None), ("float16", 64), ("float32", 8)])
def test_quantize(
    potion_path: Path,
    potion: StaticModel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    to: str,
    dims: int | None,
) -> None:
    out = tmp_path / "q"
    argv = ["quantize", str(potion_path), str(out), "--to", to]
    if dims is not None:
        argv += ["--dims", str(dims)]
    assert main(argv) == 0
    assert "->" in capsys.readouterr().out
    data = load_model(out)
    assert data.dtype.name == to
    assert data.dim == (dims or 256)
    model = StaticModel.from_pretrained(out)
    reference = potion.encode(["a movie about a bank"], dimensions=dims)
    assert np.abs(model.encode(["a movie about a bank"]) - reference).max() < 3e-2


def test_quantize_errors(
    potion_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "q"
    assert main(["quantize", str(potion_path), str(out), "--to", "int8"]) == 0
    assert main(["quantize", str(potion_path), str(out), "--to", "int8"]) == 1
    assert "output-exists" in capsys.readouterr().err
    assert main(["quantize", str(potion_path), str(out), "--to", "int8", "--overwrite"]) == 0
    assert (
        main(
            ["quantize", str(potion_path), str(out), "--to", "int8", "--dims", "999", "--overwrite"]
        )
        == 1
    )
    assert "invalid-argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["quantize", str(potion_path), str(out), "--to", "bfloat16"])


def test_quantize_vocabulary(
    potion_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "vq"
    assert (
        main(["quantize", str(potion_path), str(out), "--vocabulary", "256", "--to", "int8"]) == 0
    )
    printed = capsys.readouterr()
    assert "256 x 256 shared by 29,528 tokens" in printed.out
    data = load_model(out)
    assert (data.rows, data.dtype.name, data.config.vocabulary_quantization) == (256, "int8", 256)
    assert data.mapping is not None
    assert len(data.mapping) == 29_528
    texts = ["a movie about a bank", "the election results were announced"]
    from_cli = StaticModel.from_pretrained(out).encode(texts)
    at_load = StaticModel.from_pretrained(
        potion_path, vocabulary_quantization=256, quantize_to="int8"
    ).encode(texts)
    np.testing.assert_array_equal(from_cli, at_load)  # same seed, same clusters
    # a vocabulary-quantized model cannot be clustered again; nothing to do is refused
    assert main(["quantize", str(out), str(tmp_path / "again"), "--vocabulary", "16"]) == 1
    assert "already vocabulary-quantized" in capsys.readouterr().err
    assert main(["quantize", str(potion_path), str(tmp_path / "none")]) == 1
    assert "nothing to do" in capsys.readouterr().err
    assert main(["quantize", str(potion_path), str(tmp_path / "big"), "--vocabulary", "99999"]) == 1
    assert "at most 29,528" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
    assert not (tmp_path / "big").exists()


def test_subprocess(potion_path: Path, potion: StaticModel) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "m2v_format.cli", "encode", "-m", str(potion_path)],
        input="hello from a pipe\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (row,) = _json_lines(done.stdout)
    assert np.array_equal(
        np.array(row["embedding"], dtype=np.float32), potion.encode("hello from a pipe")
    )
    failed = subprocess.run(
        [sys.executable, "-m", "m2v_format.cli", "encode", "-m", "/nonexistent/model", "x"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert failed.returncode == 1
    assert "model-not-found" in failed.stderr


def test_bytes_that_are_not_utf8_are_a_clean_error(potion_path: Path) -> None:
    """stdin and argv arrive with surrogate escapes under a UTF-8 locale: the command names
    the line or argument instead of failing inside the tokenizers library."""
    command = [sys.executable, "-m", "m2v_format.cli", "encode", "-m", str(potion_path)]
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""}
    piped = subprocess.run(command, input=b"fine\ncaf\xe9\n", capture_output=True, env=env)
    assert piped.returncode == 1
    assert b"error[unreadable-input]: stdin is not valid utf-8 (line 2" in piped.stderr
    assert b"Traceback" not in piped.stderr
    argument = subprocess.run([*command, b"caf\xe9"], capture_output=True, env=env)  # type: ignore[list-item]
    assert argument.returncode == 1
    assert b"error[unreadable-input]: argument 1 is not valid UTF-8" in argument.stderr
    latin = subprocess.run(
        [*command, "--encoding", "latin-1"], input=b"caf\xe9\n", capture_output=True, env=env
    )
    assert latin.returncode == 0, latin.stderr
    assert json.loads(latin.stdout)["text"] == "café"
