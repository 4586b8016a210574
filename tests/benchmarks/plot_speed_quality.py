"""Speed against quality: static models on the eval suite, and how fast each one encodes.

Run by hand (pytest does not collect this file; it needs the dev group's matplotlib)::

    uv run --all-packages python tests/benchmarks/plot_speed_quality.py \\
        [--output docs/images/speed-quality.png]

Models: potion-base-8M (float32), the same converted with ``m2v quantize`` (int8; int8 cut
to 152 and 64 dims; 2,048 vocabulary clusters in int8) and m2v-infer's bundled default.
Quality: ``m2v eval --json`` (word similarity, Lee, classification; the mean of its
scores, each in [0, 1]).  Speed: texts per second over the benchmark corpus (55,814
texts), warm, one process, best of 3, every configuration in its own fresh process:
m2v-infer (``num_workers=1``) for every model, and model2vec 0.10.0 (one process:
``use_multiprocessing=False``) for potion-base-8M, whose outputs are identical (the
parity tests), so it shares potion's quality.  Prints a markdown table; draws the plot.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BATCH_SIZE = 1024
REPEATS = 3
VARIANTS: dict[str, list[str]] = {
    "potion-base-8M int8": ["--to", "int8"],
    "potion-base-8M int8, 152 dims": ["--to", "int8", "--dims", "152"],
    "potion-base-8M int8, 64 dims": ["--to", "int8", "--dims", "64"],
    "potion-base-8M, 2,048 clusters, int8": ["--vocabulary", "2048", "--to", "int8"],
}


def child(library: str, folder: str) -> dict[str, float]:
    """Warm throughput of one library on one model, best of ``REPEATS`` passes."""
    from m2v_testkit import benchmark_corpus

    corpus = benchmark_corpus()
    if library == "m2v-infer":
        from m2v_infer import StaticModel

        model: Any = StaticModel.from_pretrained(folder)

        def encode() -> None:
            model.encode(corpus, num_workers=1, batch_size=BATCH_SIZE)
    else:
        from model2vec import StaticModel as Model2Vec

        model = Model2Vec.from_pretrained(folder)

        def encode() -> None:
            model.encode(corpus, use_multiprocessing=False, batch_size=BATCH_SIZE)

    encode()  # the first pass fills caches; speed is the warm rate
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        encode()
        times.append(time.perf_counter() - start)
    return {"rate": len(corpus) / min(times)}


def _run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _speed(library: str, folder: Path) -> float:
    out = _run(sys.executable, __file__, "--child", library, str(folder))
    return float(json.loads(out.strip().splitlines()[-1])["rate"])


def _quality(folder: Path) -> tuple[float, int]:
    report = json.loads(
        _run(
            sys.executable,
            "-m",
            "m2v_format.cli",
            "eval",
            str(folder),
            "--tasks",
            "wordsim,lee,classification",
            "--json",
            "--quiet",
        )
    )
    values = [score["value"] for score in report["scores"]]
    return statistics.fmean(values), len(values)


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def plot(points: list[dict[str, Any]], path: Path, subtitle: str) -> None:
    """Throughput (x, log) against the eval mean (y); marker area ~ size on disk."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(8, 5.2))
    placed: list[tuple[float, float]] = []
    for point in points:
        ours = point["library"] == "m2v-infer"
        ax.scatter(
            point["rate"] / 1000,
            point["quality"],
            s=30 + 12 * point["size_mb"],
            alpha=0.7,
            marker="o" if ours else "s",
            color="tab:blue" if ours else "tab:gray",
            edgecolors="black",
            linewidths=0.5,
        )
        crowded = any(
            abs(point["rate"] / rate - 1) < 0.15 and abs(point["quality"] - quality) < 0.006
            for rate, quality in placed
        )  # a label already sits here: put this one on the marker's left
        placed.append((point["rate"], point["quality"]))
        ax.annotate(
            f"{point['label']} ({point['size_mb']:.1f} MB)",
            (point["rate"] / 1000, point["quality"]),
            textcoords="offset points",
            xytext=(-9, -3) if crowded else (8, 4),
            horizontalalignment="right" if crowded else "left",
            fontsize=8,
        )
    ax.set_xscale("log")
    ticks = [5, 10, 20, 30, 50, 100, 200, 500]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("thousand texts per second, one process, warm (log scale)")
    ax.set_ylabel("m2v eval: mean of the scores")
    ax.set_title(f"Speed against quality (circles: m2v-infer; squares: model2vec)\n{subtitle}")
    ax.grid(True, which="both", alpha=0.3)
    ax.margins(x=0.35, y=0.15)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    """Build the variants, evaluate and time every model, print the table, draw the plot."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("docs/images/speed-quality.png"),
        help="where to write the plot (default: %(default)s)",
    )
    parser.add_argument("--child", nargs=2, metavar=("LIBRARY", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0

    from m2v_infer import StaticModel
    from m2v_testkit import dataset_path, describe_machine

    load_before = os.getloadavg()[0]
    potion = dataset_path("potion-base-8M")
    default = StaticModel.from_pretrained().path
    assert default is not None
    points: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        models: dict[str, Path] = {"potion-base-8M": Path(potion), "m2v default": Path(default)}
        for label, options in VARIANTS.items():
            folder = Path(scratch) / label.replace(" ", "_").replace(",", "")
            _run(
                sys.executable,
                "-m",
                "m2v_format.cli",
                "quantize",
                str(potion),
                str(folder),
                *options,
            )
            models[label] = folder
        for label, folder in models.items():
            quality, count = _quality(folder)
            size = _size_mb(folder)
            points.append(
                {"label": label, "library": "m2v-infer", "rate": _speed("m2v-infer", folder),
                 "quality": quality, "scores": count, "size_mb": size}
            )  # fmt: skip
            if label == "potion-base-8M":
                points.append(
                    {"label": "potion-base-8M", "library": "model2vec 0.10.0",
                     "rate": _speed("model2vec", folder), "quality": quality,
                     "scores": count, "size_mb": size}
                )  # fmt: skip
            print(f"  {label} done", file=sys.stderr)
    load_after = os.getloadavg()[0]
    subtitle = f"{describe_machine()}; load {load_before:.1f} -> {load_after:.1f}"
    print(subtitle)
    print("| model | library | size | eval mean (scores) | texts/s, warm, 1 process |")
    print("|---|---|---|---|---|")
    for p in points:
        print(
            f"| {p['label']} | {p['library']} | {p['size_mb']:.1f} MB | {p['quality']:.3f} "
            f"({p['scores']}) | {p['rate']:,.0f} |"
        )
    plot(points, args.output, subtitle)
    print(f"\nplot: {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
