"""Regression and pair-similarity trainers: m2v-train vs model2vec 0.10.0 vs frozen embeddings.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --all-packages python tests/benchmarks/bench_train_tasks.py [--seeds 0 1 2]
        [--tasks regression pairs] [--systems m2v-train model2vec frozen]
        [--train-limit N] [--markdown] [--json OUT]

Data (``m2v_testkit``, see docs/test-data.md):

* ``regression``: :func:`m2v_testkit.vader_sentiment`, 13,003 sentences (Amazon reviews,
  NYT editorials, tweets) with a mean human sentiment rating in -4 .. 4;
* ``pairs``: :func:`m2v_testkit.paraphrase_pairs`, 27,941 verses as (World English Bible,
  Bible in Basic English).

Split: a fixed held-out test set, the same for every seed and system (20% of the
regression texts, 2,000 of the pairs, drawn with ``BENCHMARK_SEED``).  The rest is the
training set; each library's own ``fit`` takes its validation split from it with the
seed.  With ``--train-limit N`` (default 0: all) the training set is cut to its first N
rows of a fixed shuffle, to keep a run short on a small machine.

Systems, base model potion-base-8M, library defaults, the same calls (only the import
differs): ``Cls.from_pretrained(path)`` then ``fit(X, y, random_seed=seed)`` (y as one
column) or ``fit(text_a, text_b, random_seed=seed)``, and ``encode`` on the test texts:

* ``m2v-train``: ``m2v_train.StaticModelForRegression`` / ``StaticModelForPairSimilarity``;
* ``model2vec``: ``model2vec.train`` 0.10.0's classes of the same names;
* ``frozen``: no fine-tuning: scikit-learn ``RidgeCV`` on frozen potion-base-8M embeddings
  (m2v-infer) for regression; plain potion-base-8M cosine for pairs.

Measured on the test set: regression: Spearman and Pearson (x100) and R²; pairs:
recall@1 and MRR (x100) of finding each BBE verse among all 2,000 test BBE verses from
its WEB verse (cosine).  Also the training wall time (loading the base model included).
Every run is a fresh subprocess with torch on 2 threads; a system that cannot be
imported is skipped with a message.  Reported: mean ± sd over the seeds, and the
difference from model2vec paired by seed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from m2v_testkit import (
    BENCHMARK_SEED,
    dataset_path,
    describe_machine,
    paraphrase_pairs,
    vader_sentiment,
)

SYSTEMS = ("m2v-train", "model2vec", "frozen")
TASKS = {"regression": "VADER sentiment (regression)", "pairs": "WEB -> BBE verses (pairs)"}
PAIR_TEST_SIZE = 2_000
REGRESSION_TEST_FRACTION = 0.2
METRICS = {
    "regression": (("spearman", 100.0), ("pearson", 100.0), ("r2", 1.0)),
    "pairs": (("recall_at_1", 100.0), ("mrr", 100.0)),
}


def split(task: str, train_limit: int = 0) -> tuple[list[Any], list[Any]]:
    """(train rows, test rows) of ``task``: the fixed test set and the (cut) training set.

    A row is ``(text, rating)`` for regression and ``(web, bbe)`` for pairs.
    """
    if task == "regression":
        texts, ratings = vader_sentiment()
        rows: list[Any] = list(zip(texts, ratings, strict=True))
        test_size = round(len(rows) * REGRESSION_TEST_FRACTION)
    else:
        first, second = paraphrase_pairs()
        rows = list(zip(first, second, strict=True))
        test_size = PAIR_TEST_SIZE
    random.Random(BENCHMARK_SEED).shuffle(rows)
    test, train = rows[:test_size], rows[test_size:]
    return (train[:train_limit] if train_limit else train), test


def _import(system: str, task: str) -> Any:
    """The trainer class of ``system`` for ``task``."""
    name = "StaticModelForRegression" if task == "regression" else "StaticModelForPairSimilarity"
    if system == "m2v-train":
        import m2v_train

        return getattr(m2v_train, name)
    import model2vec.train

    return getattr(model2vec.train, name)


def _regression_scores(truth: Any, predicted: Any) -> dict[str, float]:
    from scipy.stats import pearsonr, spearmanr  # type: ignore[import-untyped]
    from sklearn.metrics import r2_score  # type: ignore[import-untyped]

    return {
        "spearman": float(spearmanr(truth, predicted).statistic),
        "pearson": float(pearsonr(truth, predicted).statistic),
        "r2": float(r2_score(truth, predicted)),
    }


def _retrieval_scores(queries: Any, documents: Any) -> dict[str, float]:
    """Recall@1 and MRR of finding document i for query i among all documents (cosine)."""
    import numpy as np

    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    d = documents / np.maximum(np.linalg.norm(documents, axis=1, keepdims=True), 1e-12)
    similarity = q @ d.T
    right = np.diag(similarity)
    ranks = 1 + (similarity > right[:, None]).sum(axis=1)
    return {"recall_at_1": float(np.mean(ranks == 1)), "mrr": float(np.mean(1.0 / ranks))}


def child(system: str, task: str, seed: int, train_limit: int) -> dict[str, Any]:
    """One run: train on the training set, score the fixed test set."""
    import numpy as np
    import torch

    torch.set_num_threads(2)
    train, test = split(task, train_limit)
    base = str(dataset_path("potion-base-8M"))
    result: dict[str, Any] = {
        "system": system,
        "task": task,
        "seed": seed,
        "train_rows": len(train),
        "test_rows": len(test),
    }
    if system == "frozen":
        from m2v_infer import StaticModel

        start = time.perf_counter()
        encoder = StaticModel.from_pretrained(base)
        if task == "regression":
            from sklearn.linear_model import RidgeCV  # type: ignore[import-untyped]

            ridge = RidgeCV(alphas=np.logspace(-3, 3, 13))
            ridge.fit(encoder.encode([t for t, _ in train]), [y for _, y in train])
            result["train_s"] = time.perf_counter() - start
            predicted = ridge.predict(encoder.encode([t for t, _ in test]))
            result.update(_regression_scores([y for _, y in test], predicted))
        else:
            result["train_s"] = time.perf_counter() - start
            result.update(
                _retrieval_scores(
                    encoder.encode([a for a, _ in test]), encoder.encode([b for _, b in test])
                )
            )
        return result
    try:
        trainer = _import(system, task)
    except (ImportError, AttributeError) as error:
        return {**result, "skipped": f"{type(error).__name__}: {error}"}
    start = time.perf_counter()
    model = trainer.from_pretrained(base)
    if task == "regression":
        model.fit([t for t, _ in train], [[y] for _, y in train], random_seed=seed)
        result["train_s"] = time.perf_counter() - start
        predicted = np.asarray(model.encode([t for t, _ in test])).reshape(-1)
        result.update(_regression_scores([y for _, y in test], predicted))
    else:
        model.fit([a for a, _ in train], [b for _, b in train], random_seed=seed)
        result["train_s"] = time.perf_counter() - start
        result.update(
            _retrieval_scores(
                np.asarray(model.encode([a for a, _ in test])),
                np.asarray(model.encode([b for _, b in test])),
            )
        )
    return result


def run(
    systems: list[str], tasks: list[str], seeds: list[int], train_limit: int
) -> list[dict[str, Any]]:
    """Every (task, seed, system) in its own subprocess (the frozen baseline once per task:
    it does not depend on the seed)."""
    results = []
    for task in tasks:
        for seed in seeds:
            for system in systems:
                if system == "frozen" and seed != seeds[0]:
                    continue
                argv = [sys.executable, __file__, "--child", system, task, str(seed)]
                out = subprocess.run(
                    [*argv, str(train_limit)],
                    capture_output=True,
                    text=True,
                    check=False,
                    env={**os.environ, "TQDM_DISABLE": "1"},
                )
                lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
                if out.returncode != 0 or not lines:
                    print(f"{system} {task} seed {seed} failed:\n{out.stderr[-3000:]}", flush=True)
                    continue
                result = json.loads(lines[-1][len("RESULT ") :])
                if "skipped" in result:
                    print(f"skipping {system} ({task}): {result['skipped']}", flush=True)
                    continue
                print(json.dumps(result), flush=True)
                results.append(result)
    return results


def _mean_sd(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    mean = statistics.mean(values) * scale
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values) * scale:.{digits}f}"


def markdown(results: list[dict[str, Any]]) -> str:
    """Per task, one table: each metric and training time, mean ± sd over seeds, and each
    metric's difference from model2vec paired by seed."""
    blocks = []
    for task, title in TASKS.items():
        rows = [r for r in results if r["task"] == task]
        if not rows:
            continue
        metrics = METRICS[task]
        sizes = f"train {rows[0]['train_rows']:,}, test {rows[0]['test_rows']:,}"
        header = " | ".join(
            f"{name}{' x100' if scale == 100 else ''} | Δ {name}" for name, scale in metrics
        )
        lines = [
            f"**{title}** ({sizes})",
            "",
            f"| system | seeds | {header} | train s |",
            "|---|---:|" + "---:|---:|" * len(metrics) + "---:|",
        ]
        reference = {r["seed"]: r for r in rows if r["system"] == "model2vec"}
        for system in SYSTEMS:
            mine = [r for r in rows if r["system"] == system]
            if not mine:
                continue
            cells = []
            for name, scale in metrics:
                digits = 2 if scale == 100 else 3
                cells.append(_mean_sd([r[name] for r in mine], scale, digits))
                paired = [r for r in mine if r["seed"] in reference]
                if system == "model2vec" or not paired:
                    cells.append("")
                elif system == "frozen":  # one run: against each model2vec seed
                    deltas = [mine[0][name] - ref[name] for ref in reference.values()]
                    cells.append(_mean_sd(deltas, scale, digits))
                else:
                    deltas = [r[name] - reference[r["seed"]][name] for r in paired]
                    cells.append(_mean_sd(deltas, scale, digits))
            train_s = _mean_sd([r["train_s"] for r in mine], digits=1)
            lines.append(f"| {system} | {len(mine)} | {' | '.join(cells)} | {train_s} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def main() -> None:
    """Command line entry point."""
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        _, _, system, task, seed, limit = sys.argv
        print("RESULT " + json.dumps(child(system, task, int(seed), int(limit))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", nargs="*", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--tasks", nargs="*", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--train-limit", type=int, default=0, help="cut the training set")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    print(f"machine: {describe_machine('torch', 'model2vec')}", flush=True)
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    limit = f"first {args.train_limit:,} rows" if args.train_limit else "all rows"
    print(f"training set: {limit} of the fixed shuffle", flush=True)
    results = run(args.systems, args.tasks, args.seeds, args.train_limit)
    print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.markdown:
        print(markdown(results))


if __name__ == "__main__":
    main()
