"""``m2v train classify / featurize / pretrain`` through the ``m2v`` dispatcher."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from m2v_format import save_model
from m2v_format.cli import main
from m2v_infer import StaticClassifier, StaticModel
from m2v_testkit import (
    hub_cache_snapshot,
    offline_hub_cache,
    sentiment_texts,
    synthetic_corpus,
    synthetic_model,
    topic_texts,
)


def _write_csv(path: Path, texts: list[str], labels: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        writer.writerows(zip(texts, labels, strict=True))
    return path


def test_classify_csv(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts, labels = sentiment_texts(200)
    data = _write_csv(tmp_path / "train.csv", texts, labels)
    test = _write_csv(tmp_path / "test.csv", *sentiment_texts(50, seed=3))
    out = tmp_path / "clf"
    argv = [
        "train", "classify", "--data", str(data), "--text-column", "review",
        "--label-column", "sentiment", "--model", str(tiny_model_dir), "--output", str(out),
        "--max-epochs", "6", "--learning-rate", "0.01", "--hidden-dim", "16",
        "--test-data", str(test), "--quiet", "--device", "cpu",
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "classifier written to" in printed
    assert "precision" in printed
    classifier = StaticClassifier.from_pretrained(out)
    assert classifier.classes == ("neg", "pos")
    assert main(argv) == 1  # the output exists now
    assert "output-exists" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0


def test_classify_jsonl_multilabel(tiny_model_dir: Path, tmp_path: Path) -> None:
    texts, labels = topic_texts(200)
    data = tmp_path / "train.jsonl"
    data.write_text(
        "".join(
            json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(texts, labels, strict=True)
        )
    )
    out = tmp_path / "ml"
    code = main([
        "train", "classify", "--data", str(data), "--model", str(tiny_model_dir),
        "--output", str(out), "--max-epochs", "3", "--quiet", "--device", "cpu",
    ])  # fmt: skip
    assert code == 0
    assert StaticClassifier.from_pretrained(out).multilabel


def test_classify_errors(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _write_csv(tmp_path / "train.csv", ["a", "b"], ["x", "y"])
    base = ["train", "classify", "--model", str(tiny_model_dir), "--output", str(tmp_path / "o")]
    assert main([*base, "--data", str(data), "--text-column", "nope"]) == 1
    assert "invalid-data-file" in capsys.readouterr().err
    assert main([*base, "--data", str(tmp_path / "missing.csv")]) == 1
    assert main([*base, "--data", str(tmp_path / "train.xml")]) == 1


def test_featurize_then_pretrain(
    tiny_teacher_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(synthetic_corpus(120)) + "\n\n")
    work = tmp_path / "work"
    args = ["train", "featurize", "--corpus", str(corpus), "--teacher", str(tiny_teacher_dir),
            "--work-dir", str(work), "--shard-size", "50", "--quiet", "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    assert main(args) == 0  # resuming a complete store is a no-op
    start = save_model(tmp_path / "start", synthetic_model(dim=16))
    out = tmp_path / "pretrained"
    code = main([
        "train", "pretrain", "--features", str(work), "--model", str(start),
        "--output", str(out), "--epochs", "2", "--batch-size", "16", "--power", "0.8",
        "--pca-dims", "8", "--quantize-to", "float16", "--quiet", "--device", "cpu",
    ])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["texts"] == 120
    model = StaticModel.from_pretrained(out)
    assert model.dim == 8
    assert model.embedding.dtype == np.float16


def test_pretrain_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "pretrain", "--features", str(tmp_path), "--model", str(tmp_path),
                 "--output", str(tmp_path / "o"), "--quiet"])  # fmt: skip
    assert code == 1
    assert "invalid-feature-store" in capsys.readouterr().err


def test_help_is_light() -> None:
    script = "import sys; from m2v_format.cli import main; main(['train', '--help'])"
    probe = script.replace("main(['train', '--help'])", "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    helped = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert "classify" in helped.stdout
    assert "pretrain" in helped.stdout
    check = "import sys, m2v_train._cli, m2v_train; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_featurize_quiet_prints_nothing_but_the_result(tmp_path: Path) -> None:
    """--quiet on the real all-MiniLM-L6-v2 (whose checkpoint makes transformers print a
    load report and a weight-loading bar): stderr stays empty."""
    from m2v_testkit import dataset_path

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a first sentence\nand a second one\n")
    done = subprocess.run(
        [sys.executable, "-m", "m2v_format.cli", "train", "featurize", "--corpus", str(corpus),
         "--teacher", str(dataset_path("minilm")), "--work-dir", str(tmp_path / "work"),
         "--quiet", "--device", "cpu"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.strip() == f"features of 2 texts in {tmp_path / 'work'}"


# ---------------------------------------------------------------- issue 13's CLI bugs


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, offline; the working folder has no ``org/...`` path."""
    cache = offline_hub_cache(tmp_path / "hub-cache", monkeypatch)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return cache


def test_classify_and_featurize_take_hub_ids(
    tiny_model_dir: Path,
    tiny_teacher_dir: Path,
    offline_hub: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Hub ids resolve as in ``m2v encode`` (they were wrapped in Path and not found)."""
    hub_cache_snapshot(offline_hub, "org/tiny-static", tiny_model_dir)
    hub_cache_snapshot(offline_hub, "org/tiny-teacher", tiny_teacher_dir)
    data = _write_csv(tmp_path / "train.csv", *sentiment_texts(80))
    out = tmp_path / "clf"
    code = main([
        "train", "classify", "--data", str(data), "--text-column", "review",
        "--label-column", "sentiment", "--model", "org/tiny-static", "--output", str(out),
        "--max-epochs", "2", "--hidden-dim", "8", "--quiet", "--device", "cpu",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert StaticClassifier.from_pretrained(out).classes == ("neg", "pos")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(synthetic_corpus(30)) + "\n")
    work = tmp_path / "features"
    code = main([
        "train", "featurize", "--corpus", str(corpus), "--teacher", "org/tiny-teacher",
        "--work-dir", str(work), "--quiet", "--device", "cpu",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((work / "features.json").read_text())
    assert manifest["teacher"] == "org/tiny-teacher"  # named by the id, not the snapshot
    assert manifest["count"] == 30
    code = main(["train", "featurize", "--corpus", str(corpus), "--teacher", "org/absent",
                 "--work-dir", str(tmp_path / "f2"), "--quiet"])  # fmt: skip
    assert code == 1
    assert "teacher-unavailable" in capsys.readouterr().err
    code = main(["train", "classify", "--data", str(data), "--text-column", "review",
                 "--label-column", "sentiment", "--model", "org/absent",
                 "--output", str(tmp_path / "c2"), "--quiet"])  # fmt: skip
    assert code == 1
    assert "model-not-found" in capsys.readouterr().err


def test_existing_output_fails_before_anything_is_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--output is checked first (it used to be checked after a whole training run): the
    data, model and features named here do not even exist."""
    existing = tmp_path / "existing"
    existing.mkdir()
    missing = str(tmp_path / "missing")
    for argv in (
        ["train", "classify", "--data", f"{missing}.csv", "--model", missing],
        ["train", "pretrain", "--features", missing, "--model", missing],
    ):
        assert main([*argv, "--output", str(existing), "--quiet"]) == 1
        err = capsys.readouterr().err
        assert "output-exists" in err, err
        assert "--overwrite" in err
    # with --overwrite the command goes on (and fails on the missing data instead)
    code = main(["train", "classify", "--data", f"{missing}.csv", "--model", missing,
                 "--output", str(existing), "--overwrite", "--quiet"])  # fmt: skip
    assert code == 1
    assert "invalid-data-file" in capsys.readouterr().err


def test_classify_two_rows(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _write_csv(tmp_path / "tiny.csv", ["good", "bad"], ["pos", "neg"])
    code = main([
        "train", "classify", "--data", str(data), "--text-column", "review",
        "--label-column", "sentiment", "--model", str(tiny_model_dir),
        "--output", str(tmp_path / "o"), "--max-epochs", "3", "--quiet", "--device", "cpu",
    ])  # fmt: skip
    assert code == 0
    assert "trained 3 epochs (too few texts to hold out a validation set" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize("command", ["classify", "featurize", "pretrain"])
def test_help_shows_every_default_and_examples(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from m2v_format.cli import build_parser

    parser = build_parser()
    train = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    ).choices["train"]
    sub = next(
        action for action in train._actions if isinstance(action, argparse._SubParsersAction)
    ).choices[command]
    with pytest.raises(SystemExit):
        main(["train", command, "--help"])
    out = capsys.readouterr().out
    assert f"examples:\n  m2v train {command} " in out
    shown = "".join(out.split())  # the help as printed, without its line wrapping
    formatter = sub._get_formatter()
    for action in sub._actions:
        if not action.option_strings or action.nargs == 0 or action.required:
            continue  # positional, flags (off unless given), required options
        if action.help == argparse.SUPPRESS:
            continue  # hidden (deprecated: featurize --seed)
        entry = formatter._expand_help(action)
        flag = action.option_strings[0]
        assert "(default" in entry, f"{command} {flag}: no default in {entry!r}"
        if action.default is not None:
            assert f"(default: {action.default})" in entry, f"{command} {flag}: {entry!r}"
        assert "".join(entry.split()) in shown, f"{command} {flag}"


def test_featurize_seed_is_deprecated_and_hidden(
    tiny_teacher_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``featurize --seed`` used to be accepted and ignored: featurizing is deterministic.
    It is still accepted (old scripts), says so on stderr, and is gone from --help."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(synthetic_corpus(12)) + "\n")
    runs = {}
    for seed in ("1", "2"):
        work = tmp_path / f"features-{seed}"
        code = main(["train", "featurize", "--corpus", str(corpus), "--teacher",
                     str(tiny_teacher_dir), "--work-dir", str(work), "--quiet",
                     "--device", "cpu", "--seed", seed])  # fmt: skip
        assert code == 0
        err = capsys.readouterr().err
        assert "--seed is deprecated and has no effect" in err
        runs[seed] = np.load(work / "shard-00000.npy", allow_pickle=False)
    np.testing.assert_array_equal(runs["1"], runs["2"])  # what "no effect" means
    code = main(["train", "featurize", "--corpus", str(corpus), "--teacher",
                 str(tiny_teacher_dir), "--work-dir", str(tmp_path / "plain"), "--quiet",
                 "--device", "cpu"])  # fmt: skip
    assert code == 0
    assert capsys.readouterr().err == ""  # no warning without --seed
    with pytest.raises(SystemExit):
        main(["train", "featurize", "--help"])
    assert "--seed SEED" not in capsys.readouterr().out  # not among the options
    with pytest.raises(SystemExit):
        main(["train", "pretrain", "--help"])
    assert "--seed SEED" in capsys.readouterr().out  # pretrain keeps its seed
