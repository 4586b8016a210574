"""Ray Data: ``embed_dataset`` and ``m2v encode --ray`` on a real local Ray cluster (2 CPUs).

One cluster serves the module (``ray.init(num_cpus=2)`` in a module-scoped fixture); the
command runs in-process on it (it reuses an initialized Ray) and, for the kill test, in a
subprocess attached with ``--ray-address``.  Each Ray execution starts its own actors
(seconds each), so the datasets are small and the executions few.  Tests that need the
cluster skip when ray is not installed; the import checks run without it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format.cli import main
from m2v_infer import StaticModel, embed_dataset

# Ray copies a `uv run` environment to its workers by packaging the working directory;
# workers here share the driver's virtual environment, so that would only cost time.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

HAS_RAY = importlib.util.find_spec("ray") is not None


def _run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return result.stdout.strip()


def test_importing_m2v_infer_does_not_import_ray() -> None:
    code = (
        "import sys, m2v_infer\n"
        "m2v_infer.embed_dataset\n"
        "print(sorted(m for m in ('ray', 'pyarrow', 'pandas') if m in sys.modules))\n"
    )
    assert _run_python(code) == "[]"


def test_without_ray_the_error_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['ray'] = None\n"  # import ray -> ImportError, as when not installed
        "from m2v_infer import MissingDependencyError, embed_dataset\n"
        "try:\n"
        "    embed_dataset(None)\n"
        "except MissingDependencyError as error:\n"
        "    print(error.code, str(error))\n"
    )
    out = _run_python(code)
    assert out.startswith("missing-dependency")
    assert 'pip install "m2v-infer[ray]"' in out


# --------------------------------------------------------------------------- the cluster


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray cluster with 2 CPUs for this module; yields its address."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # pragma: no cover - another module left one running
        pytest.skip("a Ray session is already running in this process")
    ray.init(
        num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False
    )
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


def _arrow() -> Any:
    return pytest.importorskip("pyarrow")


def _vectors(table: Any, column: str = "embedding") -> np.ndarray:
    values = table.column(column).combine_chunks()
    flat = values.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float32).reshape(len(values), values.type.list_size)


def _collect(ds: Any) -> Any:
    pa = _arrow()
    return pa.concat_tables(list(ds.iter_batches(batch_size=None, batch_format="pyarrow")))


@pytest.fixture(scope="module")
def texts(parity_corpus: list[str]) -> list[str]:
    """About 3,000 real texts plus the hand-written edge cases (empty, emoji, 10k chars...)."""
    return parity_corpus


def test_vectors_equal_in_process_encode(
    ray_address: str, potion_path: Path, potion: StaticModel, texts: list[str], tmp_path: Path
) -> None:
    import ray

    pa = _arrow()
    table = pa.table({"id": np.arange(len(texts)), "text": texts})
    step = len(texts) // 4 + 1
    ds = ray.data.from_arrow([table.slice(start, step) for start in range(0, len(texts), step)])
    ds = embed_dataset(ds, potion_path, concurrency=1, batch_size=500)
    ds = embed_dataset(
        ds,
        potion_path,
        output_column="small",
        concurrency=1,
        dimensions=64,
        normalize=True,
        max_length=16,
    )
    ds.context.execution_options.preserve_order = True
    result = _collect(ds)

    assert result.column("id").to_pylist() == list(range(len(texts)))
    assert result.column("text").to_pylist() == texts
    assert result.schema.field("embedding").type == pa.list_(pa.float32(), 256)
    assert np.array_equal(_vectors(result), potion.encode(texts))
    small = potion.encode(texts, dimensions=64, normalize=True, max_length=16)
    assert np.array_equal(_vectors(result, "small"), small)

    import pyarrow.parquet as pq

    pq.write_table(result, tmp_path / "round-trip.parquet")
    back = pq.read_table(tmp_path / "round-trip.parquet")
    assert back.schema.field("embedding").type == pa.list_(pa.float32(), 256)
    assert np.array_equal(_vectors(back), _vectors(result))


# --------------------------------------------------------------------------- m2v encode --ray


def _write_parquet(path: Path, rows: dict[str, Any], **options: Any) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(_arrow().table(rows), path, **options)


def _write_jsonl(path: Path, rows: list[dict[str, Any]], blank_lines: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    gap = "\n\n" if blank_lines else "\n"
    path.write_text(gap.join(json.dumps(row) for row in rows) + ("\n" if rows else ""))


def _encode(potion_path: Path, *args: str) -> int:
    return main(["encode", "--ray", "--model", str(potion_path), *args])


def _read_output(path: Path) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(path)


@pytest.mark.usefixtures("ray_address")
def test_command_embeds_parquet_and_jsonl_files(
    potion_path: Path,
    potion: StaticModel,
    real_corpus: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    chunks = {name: real_corpus[i * 300 : (i + 1) * 300] for i, name in enumerate("abcd")}
    ids = {name: list(range(i * 1000, i * 1000 + 300)) for i, name in enumerate("abcd")}
    _write_parquet(data / "a.parquet", {"id": ids["a"], "text": chunks["a"], "other": ids["a"]})
    _write_parquet(data / "b.parquet", {"id": ids["b"], "text": chunks["b"]}, row_group_size=70)
    _write_jsonl(
        data / "sub" / "c.jsonl",
        [{"id": i, "text": t} for i, t in zip(ids["c"], chunks["c"], strict=True)],
    )
    rows_d = [{"text": t, "id": i, "x": [1]} for i, t in zip(ids["d"], chunks["d"], strict=True)]
    _write_jsonl(data / "d.ndjson", rows_d, blank_lines=True)
    _write_parquet(
        data / "empty.parquet",
        {"id": _arrow().array([], "int64"), "text": _arrow().array([], "string")},
    )
    _write_jsonl(data / "nothing.jsonl", [])
    args = ["--input", f"{data}/**/*.parquet", "--input", f"{data}/**/*.jsonl"]
    args += ["--input", f"{data}/*.ndjson", "--id-column", "id", "--output", str(out)]
    args += ["--batch-size", "128"]

    assert _encode(potion_path, *args) == 0
    assert "wrote 6 files (1200 rows)" in capsys.readouterr().err
    expected = {"a": "a", "b": "b", "sub/c": "c", "d": "d"}
    for name, chunk in expected.items():
        table = _read_output(out / f"{name}.parquet")
        assert table.column_names == ["id", "text", "embedding"]
        assert table.column("id").to_pylist() == ids[chunk]  # input order
        assert table.column("text").to_pylist() == chunks[chunk]
        assert np.array_equal(_vectors(table), potion.encode(chunks[chunk]))
    for name in ("empty", "nothing"):
        table = _read_output(out / f"{name}.parquet")
        assert table.num_rows == 0
        assert table.column_names == ["id", "text", "embedding"]
    written = {path: path.stat().st_mtime_ns for path in out.rglob("*.parquet")}
    assert len(written) == 6

    assert _encode(potion_path, *args) == 0  # everything done: nothing to redo
    assert "6 of 6 inputs already embedded" in capsys.readouterr().err
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*.parquet")} == written


@pytest.mark.slow
def test_killed_job_rerun_writes_every_row_exactly_once(
    ray_address: str,
    potion_path: Path,
    real_corpus: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    files, rows = 30, 40
    # Long texts (about 40 real ones joined, no truncation) make each file take a while.
    long_texts = [" ".join(real_corpus[i % 2900 : i % 2900 + 40]) for i in range(files * rows)]
    for index in range(files):
        span = range(index * rows, (index + 1) * rows)
        _write_parquet(
            data / f"part-{index:02d}.parquet",
            {"id": list(span), "text": [long_texts[i] for i in span]},
        )
    args = ["--input", f"{data}/*.parquet", "--output", str(out), "--id-column", "id"]
    args += ["--max-length", "none", "--concurrency", "1", "--batch-size", "25"]
    command = [sys.executable, "-m", "m2v_format.cli", "encode", "--ray", "--model"]
    command += [str(potion_path), *args, "--ray-address", ray_address]
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("*.parquet")) and job.poll() is None:
            assert time.monotonic() < deadline, "the job wrote no output in time"
            time.sleep(0.02)
    finally:
        job.send_signal(signal.SIGKILL)
        _, stderr = job.communicate(timeout=60)
    done = {path: path.stat().st_mtime_ns for path in out.glob("*.parquet")}
    assert job.returncode == -signal.SIGKILL, stderr.decode(errors="replace")[-2000:]
    assert 1 <= len(done) < files, f"{len(done)} of {files} outputs at the kill"

    assert _encode(potion_path, *args) == 0  # the rerun, in-process on the same cluster
    assert f"{len(done)} of {files} inputs already embedded" in capsys.readouterr().err
    assert not [path for path in out.iterdir() if path.name.startswith(".")]  # no temporaries
    assert {path: path.stat().st_mtime_ns for path in done} == done  # skipped, not redone
    seen = [
        i for path in sorted(out.glob("*.parquet")) for i in _read_output(path)["id"].to_pylist()
    ]
    assert sorted(seen) == list(range(files * rows))  # every row exactly once


# --------------------------------------------------------------------------- bad inputs


def _bad_inputs(data: Path) -> dict[str, tuple[Path, str, str]]:
    """name -> (file written, expected error code, expected message fragment)."""
    pa = _arrow()
    cases: dict[str, tuple[Path, str, str]] = {}

    def case(name: str, path: Path, code: str, fragment: str) -> None:
        cases[name] = (path, code, fragment)

    _write_parquet(data / "no-column.parquet", {"body": ["x"]})
    case("missing column", data / "no-column.parquet", "invalid-input", "no column 'text'")
    _write_parquet(data / "ints.parquet", {"text": [1, 2]})
    case("non-string Parquet", data / "ints.parquet", "invalid-input", "holds int64")
    _write_parquet(data / "nulls.parquet", {"text": pa.array(["a", None])})
    case("null Parquet", data / "nulls.parquet", "invalid-input", "null")
    _write_jsonl(data / "numbers.jsonl", [{"text": "a"}, {"text": 5}])
    case("non-string JSON", data / "numbers.jsonl", "invalid-input", "not a string")
    _write_jsonl(data / "absent.jsonl", [{"text": "a"}, {"body": "b"}])
    case("missing JSON field", data / "absent.jsonl", "invalid-input", "missing or null")
    (data / "garbage.parquet").write_bytes(b"not a parquet file at all")
    case("unreadable Parquet", data / "garbage.parquet", "unreadable-input", "not a readable")
    (data / "broken.jsonl").write_text('{"text": "a"}\n{"text": \n')
    case("unreadable JSON", data / "broken.jsonl", "unreadable-input", "not valid JSON")
    (data / "table.csv").write_text("text\na\n")
    case("unsupported suffix", data / "table.csv", "invalid-argument", "unsupported input type")
    return cases


def test_malformed_inputs_give_typed_errors(
    ray_address: str, potion_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name, (path, code, fragment) in _bad_inputs(data).items():
        assert _encode(potion_path, "--input", str(path), "--output", str(tmp_path / "out")) == 1
        err = capsys.readouterr().err
        assert f"error[{code}]" in err, (name, err)
        assert fragment in err, (name, err)
        assert str(path) in err, (name, err)
    _write_parquet(data / "ok.parquet", {"text": ["a"]})
    assert (
        _encode(
            potion_path,
            "--input",
            str(data / "ok.parquet"),
            "--id-column",
            "id",
            "-o",
            str(tmp_path / "o"),
        )
        == 1
    )
    assert "error[invalid-input]: no --id-column 'id'" in capsys.readouterr().err
    assert _encode(potion_path, "--input", str(data / "*.nothing"), "-o", str(tmp_path / "o")) == 1
    assert "matches no files" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.usefixtures("ray_address")
def test_errors_raised_in_the_actors_keep_their_type(
    potion_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without statistics the driver cannot see the null: the actor finds it.
    path = tmp_path / "nulls.parquet"
    _write_parquet(path, {"text": _arrow().array(["a", None])}, write_statistics=False)
    assert _encode(potion_path, "--input", str(path), "--output", str(tmp_path / "out")) == 1
    err = capsys.readouterr().err
    assert "error[invalid-input]: 1 of 2 values of column 'text' are null" in err
    assert not list(tmp_path.glob("out/*"))
    assert not list(tmp_path.glob("out/.*"))  # no temporary file left


def test_usage_errors(
    potion_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["encode", "--ray", "--output", str(tmp_path)]) == 2
    assert "--ray needs --input" in capsys.readouterr().err
    assert main(["encode", "--input", "x.parquet", "--output", str(tmp_path)]) == 2
    assert "--input needs --ray" in capsys.readouterr().err
