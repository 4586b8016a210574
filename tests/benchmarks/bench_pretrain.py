"""Pre-training benchmark: the plain distilled model vs m2v-train's pre-trained models.

Run by hand (pytest does not collect ``bench_*.py``)::

    uv run --all-packages python tests/benchmarks/bench_pretrain.py [--configs NAME ...]
        [--epochs 2] [--markdown] [--json OUT.json]

Steps (each cached, so a second run only trains):

1. Corpus: ``m2v_testkit.fair_corpus()`` — tweets, Wikipedia sentences, Lee background
   sentences and Rotten Tomatoes plot sentences: nothing the evaluation suite scores.
2. Features: all-MiniLM-L6-v2 (the ``minilm`` test data set) run over the corpus in
   bfloat16, stored as resumable shards under ``~/.cache/m2v-train/bench-fair-minilm``.
3. Starting models: ``m2v_distill.distill(minilm, pca_dims=256 / 384)`` (float32).
4. Each configuration of ``CONFIGS`` is pre-trained and scored with m2v-distill's
   evaluation suite (word similarity, Lee, BBC / Rotten Tomatoes classification); the
   table shows each score and its change against the distilled baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from m2v_testkit import dataset_path, fair_corpus

CACHE = Path.home() / ".cache" / "m2v-train"
FEATURES = CACHE / "bench-fair-minilm"

# name -> (starting model dims, PretrainOptions overrides)
CONFIGS: dict[str, tuple[int, dict[str, Any]]] = {
    "contrastive+cosine": (256, {}),
    "cosine only": (256, {"contrastive_weight": 0.0}),
    "contrastive only": (256, {"cosine_weight": 0.0}),
    "mse only": (256, {"contrastive_weight": 0.0, "cosine_weight": 0.0, "mse_weight": 1.0}),
    "no token weights": (256, {"train_weights": False}),
    "no Procrustes alignment": (256, {"align": False}),
    "+ born-again (1 gen.)": (256, {"born_again": 1}),
    "+ power 0.7": (256, {"power": 0.7}),
    "+ SIF 1e-3": (256, {"sif_coefficient": 1e-3}),
    "384 -> PCA 256": (384, {"pca_dims": 256}),
}


def starting_model(dims: int) -> Path:
    """The distilled MiniLM model of ``dims`` dimensions (float32), cached."""
    folder = CACHE / f"distilled-minilm-{dims}"
    if not (folder / "model.safetensors").is_file():
        from m2v_distill import distill

        model = distill(
            str(dataset_path("minilm")),
            pca_dims=dims,
            quantize_to="float32",
            device="cpu",
            show_progress=False,
        )
        model.save_pretrained(folder, overwrite=True)
    return folder


def features() -> Any:
    """The teacher features of the fair corpus (computed once, resumable)."""
    from m2v_train import featurize, load_features

    featurize(
        fair_corpus(),
        FEATURES,
        teacher=dataset_path("minilm"),
        batch_size=128,
        precision="bfloat16",
    )
    return load_features(FEATURES)


def scores(model: Any) -> dict[str, float]:
    """Every score of the evaluation suite (throughput left out) for one model."""
    from m2v_distill import evaluate

    report = evaluate(model, tasks=("wordsim", "lee", "classification"))
    return {score.dataset: score.value for score in report.scores}


def run(names: list[str], epochs: int | None) -> dict[str, Any]:
    """Score the baseline and each configuration; return everything as a dict."""
    from m2v_infer import StaticModel
    from m2v_train import PretrainOptions, pretrain

    feats = features()
    results: dict[str, Any] = {"texts": len(feats.texts), "rows": {}}
    baseline = StaticModel.from_pretrained(starting_model(256))
    results["rows"]["distilled (baseline)"] = {"scores": scores(baseline), "seconds": 0.0}
    print(json.dumps({"distilled": results["rows"]["distilled (baseline)"]}), flush=True)
    for name in names:
        dims, overrides = CONFIGS[name]
        options = PretrainOptions(**overrides, show_progress=False)
        if epochs is not None:
            options = dataclasses.replace(options, epochs=epochs)
        start = time.perf_counter()
        model, report = pretrain(StaticModel.from_pretrained(starting_model(dims)), feats, options)
        seconds = time.perf_counter() - start
        row = {
            "scores": scores(model),
            "seconds": seconds,
            "val_cosine": [report.start_val_cosine, report.final_val_cosine],
            "dim": model.dim,
        }
        results["rows"][name] = row
        print(json.dumps({name: row}), flush=True)
    return results


def markdown(results: dict[str, Any]) -> str:
    """The ablation table: each score, and the mean change against the baseline."""
    rows = results["rows"]
    base = rows["distilled (baseline)"]["scores"]
    datasets = list(base)
    header = "| model | " + " | ".join(datasets) + " | mean Δ | wins | train s |"
    lines = [header, "|---|" + "---:|" * (len(datasets) + 3)]
    for name, row in rows.items():
        values = row["scores"]
        deltas = [values[d] - base[d] for d in datasets]
        wins = sum(delta > 0 for delta in deltas)
        cells = " | ".join(f"{values[d]:.3f}" for d in datasets)
        lines.append(
            f"| {name} | {cells} | {sum(deltas) / len(deltas):+.4f} | {wins}/{len(datasets)} "
            f"| {row['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    results = run(args.configs, args.epochs)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.markdown:
        print(markdown(results))


if __name__ == "__main__":
    main()
