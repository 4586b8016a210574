"""Classifier benchmark: m2v-train vs model2vec 0.10.0 vs logistic regression, same splits.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --all-packages python tests/benchmarks/bench_classify.py [--seeds 0 1]
        [--datasets bbc rt] [--markdown] [--json OUT.json]

Data: BBC News (5 classes, one document per file) and Rotten Tomatoes (fresh vs rotten
snippets; plot summaries left out).  For each seed, one stratified 80/20 train/test split
(scikit-learn ``train_test_split(..., stratify=labels, random_state=seed)``) is shared by:

* ``m2v-train``: ``StaticModelForClassification`` with its defaults, exported, then
  reloaded and run by ``m2v_infer.StaticClassifier`` (numpy only) for the test accuracy;
* ``model2vec``: ``model2vec.train.StaticModelForClassification`` 0.10.0 with its defaults;
* ``logreg``: scikit-learn ``LogisticRegression(max_iter=2000)`` on frozen potion-base-8M
  embeddings.

Base model: potion-base-8M.  Every run is a fresh subprocess with torch on 2 threads.
Reported: test accuracy, training wall time, and the prediction throughput (texts/s) of
each trained classifier on the test texts (ours: the exported folder under m2v-infer).
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

from m2v_testkit import bbc_news, dataset_path, rotten_tomatoes_reviews

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


def markdown(results: list[dict[str, Any]]) -> str:
    """Mean over seeds per dataset and system: accuracy, train time (and ratio), throughput."""
    lines = [
        "| data set | system | accuracy | train s | train time vs model2vec | predict texts/s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for dataset in DATASETS:
        rows = [r for r in results if r["dataset"] == dataset]
        if not rows:
            continue
        m2v = [r["train_s"] for r in rows if r["system"] == "model2vec"]
        reference = statistics.mean(m2v) if m2v else None
        for system in SYSTEMS:
            mine = [r for r in rows if r["system"] == system]
            if not mine:
                continue
            accuracy = statistics.mean(r["accuracy"] for r in mine)
            train = statistics.mean(r["train_s"] for r in mine)
            ratio = f"{train / reference:.2f}x" if reference else ""
            speed = statistics.mean(r["texts_per_s"] for r in mine)
            lines.append(
                f"| {DATASETS[dataset]} | {system} | {100 * accuracy:.2f} | {train:.1f} "
                f"| {ratio} | {speed:,.0f} |"
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
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    results = run(args.systems, args.datasets, args.seeds)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.markdown:
        print(markdown(results))


if __name__ == "__main__":
    main()
