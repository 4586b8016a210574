"""``m2v distill`` and ``m2v eval`` through the ``m2v`` dispatcher."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from m2v_format import validate_model
from m2v_format.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_distill_writes_a_valid_model_with_progress(
    bert_teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    words = tmp_path / "words.txt"
    words.write_text("kingly\n\nnew york\n", encoding="utf-8")
    output = tmp_path / "student"
    code, _out, err = _run(
        capsys,
        "distill",
        "--model", str(bert_teacher),
        "--output", str(output),
        "--vocabulary", str(words),
        "--pca-dims", "8",
        "--quantize-to", "int8",
        "--threads", "1",
    )  # fmt: skip
    assert code == 0, err
    assert "Embedding tokens" in err
    assert "tokens/s" in err
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d", err), err  # elapsed<ETA
    assert f"wrote {output}" in err
    assert validate_model(output).ok
    config = json.loads((output / "config.json").read_text())
    assert config["embedding_dtype"] == "int8"
    assert config["format_version"] == "1.0"  # per-row int8 scales live in the weights
    readme = (output / "README.md").read_text()
    assert "base_model" in readme
    assert "bert" in readme


def test_existing_output_is_refused_before_any_work(
    bert_teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "exists"
    output.mkdir()
    code, _out, err = _run(capsys, "distill", "--model", str(bert_teacher), "--output", str(output))
    assert code == 1
    assert "output-exists" in err
    assert "--overwrite" in err
    assert "loading teacher" not in err
    code, _out, err = _run(
        capsys, "distill", "--model", str(bert_teacher), "--output", str(output),
        "--overwrite", "--pca-dims", "4", "--quiet",
    )  # fmt: skip
    assert code == 0
    assert err == ""
    assert validate_model(output).ok


@pytest.mark.parametrize(
    ("extra", "code_text"),
    [
        (["--token-remove-pattern", "[unclosed"], "invalid-pattern"),
        (["--sif-coefficient", "2"], "invalid-argument"),
        (["--vocabulary", "MISSING"], "vocabulary file not found"),
        (["--vocabulary", "EMPTY"], "empty-vocabulary"),
        (["--pca-dims", "0"], "invalid-argument"),
    ],
)
def test_bad_options_fail_fast_with_a_code(
    bert_teacher: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    code_text: str,
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", encoding="utf-8")
    extra = [
        str(tmp_path / "nope.txt") if a == "MISSING" else str(empty) if a == "EMPTY" else a
        for a in extra
    ]
    code, _out, err = _run(
        capsys, "distill", "--model", str(bert_teacher), "--output", str(tmp_path / "o"), *extra
    )
    assert code == 1
    assert code_text in err
    assert "loading teacher" not in err
    assert not (tmp_path / "o").exists()


def test_teacher_errors(
    slow_teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = _run(
        capsys, "distill", "--model", str(tmp_path / "absent"), "--output", str(tmp_path / "o")
    )
    assert code == 1
    assert "teacher-not-found" in err
    code, _out, err = _run(
        capsys, "distill", "--model", str(slow_teacher), "--output", str(tmp_path / "o")
    )
    assert code == 1
    assert "no-fast-tokenizer" in err
    assert not (tmp_path / "o").exists()


def test_unparseable_pca_dims_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["distill", "--model", "x", "--output", str(tmp_path / "o"), "--pca-dims", "many"])
    assert exit_info.value.code == 2
    assert "--pca-dims" in capsys.readouterr().err


def test_eval_prints_a_table_and_json(
    bert_teacher: Path, tmp_path: Path, eval_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "student"
    assert main(["distill", "--model", str(bert_teacher), "--output", str(output), "--quiet"]) == 0
    code, out, _err = _run(
        capsys, "eval", str(output), "--data-dir", str(eval_data_dir), "--folds", "2"
    )
    assert code == 0
    assert "| word similarity | WordSim353 | Spearman |" in out
    assert "| classification | BBC News |" in out
    assert "| throughput |" in out
    code, out, _err = _run(
        capsys, "eval", str(output), "--data-dir", str(eval_data_dir), "--tasks", "lee", "--json"
    )
    assert code == 0
    assert json.loads(out)["scores"][0]["dataset"] == "Lee"
    code, _out, err = _run(
        capsys, "eval", str(output), "--data-dir", str(tmp_path), "--tasks", "lee", "--strict"
    )
    assert code == 1
    assert "evaluation-data" in err


def test_help_lists_the_subcommands_without_importing_torch() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from m2v_format.cli import build_parser\n"
        "text = build_parser().format_help()\n"
        "assert 'distill' in text and 'eval' in text, text\n"
        "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
