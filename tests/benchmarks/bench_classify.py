"""Classifier benchmark: m2v-train vs model2vec 0.10.0 vs logistic regression, same splits.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --all-packages python tests/benchmarks/bench_classify.py [--seeds 0 1 2]
        [--datasets bbc rt] [--systems m2v-train model2vec logreg] [--markdown] [--json OUT]

Data: BBC News (5 classes, one document per file) and Rotten Tomatoes (fresh vs rotten
snippets; plot summaries left out).  For each seed, one stratified 80/20 train/test split
(scikit-learn ``train_test_split(..., stratify=labels, random_state=seed)``) is shared by:

* ``m2v-train``: ``StaticModelForClassification`` with its defaults, exported, then
  reloaded and run by ``m2v_infer.StaticClassifier`` (numpy only) for the test accuracy;
* ``model2vec``: ``model2vec.train.StaticModelForClassification`` 0.10.0 with its defaults;
* ``logreg``: scikit-learn ``LogisticRegression(max_iter=2000)`` on frozen potion-base-8M
  embeddings.

Base model: potion-base-8M.  Every run is a fresh subprocess with torch on 2 threads.
Reported, mean ± sd over the seeds (default 0, 1, 2): test accuracy and its difference from
model2vec's on the same split, training wall time (loading the base model included) and how
many times faster than model2vec's it is (paired by seed), epochs run, and the prediction
throughput (texts/s) of each trained classifier on the test texts (ours: the exported
folder under m2v-infer).  The machine and its load average are printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from m2v_testkit import bbc_news, dataset_path, describe_machine, rotten_tomatoes_reviews

SYSTEMS = ("m2v-train", "model2vec", "logreg")
DATASETS = {"bbc": "BBC News", "rt": "Rotten Tomatoes"}


def load(dataset: str) -> tuple[list[str], list[str]]:
    """Texts and labels of ``dataset`` ("bbc" or "rt")."""
    return bbc_news() if dataset == "bbc" else rotten_tomatoes_reviews()


def split(dataset: str, seed: int) -> tuple[list[str], list[str], list[str], list[str]]:
    """The shared stratified 80/20 split."""
    from sklearn.model_selection import train_test_split

    texts, labels = load(dataset)
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=seed
    )
    return x_train, x_test, y_train, y_test


def _throughput(predict: Any, texts: list[str]) -> float:
    predict(texts[:64])
    start = time.perf_counter()
    predict(texts)
    return len(texts) / (time.perf_counter() - start)


def child(system: str, dataset: str, seed: int) -> dict[str, Any]:
    """One run: train on the split, measure accuracy, training time and throughput."""
    import numpy as np
    import torch

    torch.set_num_threads(2)
    x_train, x_test, y_train, y_test = split(dataset, seed)
    base = str(dataset_path("potion-base-8M"))
    truth = np.asarray(y_test)
    result: dict[str, Any] = {"system": system, "dataset": dataset, "seed": seed}
    if system == "m2v-train":
        import tempfile

        from m2v_infer import StaticClassifier
        from m2v_train import StaticModelForClassification

        start = time.perf_counter()
        model = StaticModelForClassification.from_pretrained(base)
        model.fit(x_train, y_train, seed=seed, show_progress=False)
        result["train_s"] = time.perf_counter() - start
        result["epochs"] = len(model.history)
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(Path(tmp) / "clf")
            runtime = StaticClassifier.from_pretrained(Path(tmp) / "clf")
            predicted = runtime.predict(x_test)
            result["accuracy"] = float(np.mean(np.asarray(predicted) == truth))
            result["torch_accuracy"] = float(np.mean(model.predict(x_test) == truth))
            result["texts_per_s"] = _throughput(runtime.predict, x_test)
    elif system == "model2vec":
        from model2vec.train import StaticModelForClassification as M2VClassifier

        start = time.perf_counter()
        model = M2VClassifier.from_pretrained(path=base)
        model.fit(x_train, y_train, random_seed=seed)
        result["train_s"] = time.perf_counter() - start
        pipeline = model.to_pipeline()
        result["accuracy"] = float(np.mean(np.asarray(pipeline.predict(x_test)) == truth))
        result["texts_per_s"] = _throughput(pipeline.predict, x_test)
    else:
        from m2v_infer import StaticModel
        from sklearn.linear_model import LogisticRegression

        start = time.perf_counter()
        encoder = StaticModel.from_pretrained(base)
        classifier = LogisticRegression(max_iter=2000).fit(encoder.encode(x_train), y_train)
        result["train_s"] = time.perf_counter() - start

        def predict(texts: list[str]) -> Any:
            return classifier.predict(encoder.encode(texts))

        result["accuracy"] = float(np.mean(predict(x_test) == truth))
        result["texts_per_s"] = _throughput(predict, x_test)
    return result


def run(systems: list[str], datasets: list[str], seeds: list[int]) -> list[dict[str, Any]]:
    """Every (dataset, seed, system) in its own subprocess."""
    results = []
    for dataset in datasets:
        for seed in seeds:
            for system in systems:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", system, dataset, str(seed)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "TQDM_DISABLE": "1"},
                )
                line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
                result = json.loads(line[len("RESULT ") :])
                print(json.dumps(result), flush=True)
                results.append(result)
    return results


def _mean_sd(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    mean = statistics.mean(values) * scale
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values) * scale:.{digits}f}"


def markdown(results: list[dict[str, Any]]) -> str:
    """Mean ± sd over seeds per data set and system: accuracy, its difference from model2vec
    (paired by seed), training time and how many times faster than model2vec's it is,
    epochs, prediction throughput."""
    lines = [
        "| data set | system | seeds | accuracy (%) | vs model2vec (points) | train s "
        "| speed-up vs model2vec | epochs | predict texts/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for dataset in DATASETS:
        rows = [r for r in results if r["dataset"] == dataset]
        reference = {r["seed"]: r for r in rows if r["system"] == "model2vec"}
        for system in SYSTEMS:
            mine = [r for r in rows if r["system"] == system]
            if not mine:
                continue
            paired = [r for r in mine if r["seed"] in reference]
            delta = speedup = ""
            if paired and system != "model2vec":
                delta = _mean_sd(
                    [r["accuracy"] - reference[r["seed"]]["accuracy"] for r in paired], 100
                )
                speedup = (
                    _mean_sd(
                        [reference[r["seed"]]["train_s"] / r["train_s"] for r in paired], digits=1
                    )
                    + "x"
                )
            epochs = (
                _mean_sd([float(r["epochs"]) for r in mine if "epochs" in r], digits=1)
                if any("epochs" in r for r in mine)
                else ""
            )
            lines.append(
                f"| {DATASETS[dataset]} | {system} | {len(mine)} "
                f"| {_mean_sd([r['accuracy'] for r in mine], 100)} | {delta} "
                f"| {_mean_sd([r['train_s'] for r in mine], digits=1)} | {speedup} | {epochs} "
                f"| {statistics.mean(r['texts_per_s'] for r in mine):,.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    """Command line entry point."""
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print("RESULT " + json.dumps(child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", nargs="*", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    print(f"machine: {describe_machine('torch', 'model2vec')}", flush=True)
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    results = run(args.systems, args.datasets, args.seeds)
    print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.markdown:
        print(markdown(results))


if __name__ == "__main__":
    main()
