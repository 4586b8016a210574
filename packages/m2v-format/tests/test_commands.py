"""``m2v info`` and ``m2v validate`` on real folders, through the dispatcher."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from m2v_format.cli import EXIT_FAILURE, EXIT_OK, main


def test_info_reports_the_facts_and_the_max_length_encoding_uses(
    potion_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(potion_path), "--json"]) == EXIT_OK
    facts = json.loads(capsys.readouterr().out)
    assert (facts["rows"], facts["dim"], facts["vocab_size"]) == (29528, 256, 29528)
    assert facts["layout"] == "native"
    assert facts["dtype"] == "float32"
    assert facts["normalize"] is True
    # potion's config.json has no max_length key: encoding uses 512 (rule I9), not "None"
    assert facts["max_length"] == 512
    assert facts["max_length_in_config"] is False
    assert facts["size_on_disk_bytes"] > 30_000_000
    assert main(["info", str(potion_path)]) == EXIT_OK
    assert re.search(r"^max_length +512$", capsys.readouterr().out, re.MULTILINE)


def test_validate_exit_status_and_json(
    potion_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(potion_path)]) == EXIT_OK
    assert "valid" in capsys.readouterr().out
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (broken / name).write_bytes((potion_path / name).read_bytes())
    (broken / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    assert main(["validate", str(broken), "--json"]) == EXIT_FAILURE
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["violations"][0]["code"] == "missing-tensor"


def test_a_missing_folder_is_a_typed_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "/no/such/folder"]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert err.startswith("m2v info: error[model-not-found]: ")
    assert "/no/such/folder" in err
