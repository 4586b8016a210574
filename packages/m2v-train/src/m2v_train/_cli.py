"""``m2v train``: classify / featurize / pretrain subcommands.

This module is imported when the ``m2v`` command starts, so it imports nothing heavy:
torch and the training code load inside each ``run`` function.  ``--output`` is checked
before anything is loaded or trained (as ``m2v distill`` does); ``--model`` and
``--teacher`` are a local folder or a hub id (``HF_HUB_OFFLINE=1``: the local cache only).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from pathlib import Path
from typing import Any

from m2v_format.cli import EXIT_OK, or_none, positive_int

from m2v_train._cli_common import (
    add_data_and_model_options,
    fit_options,
    load_trainer,
    read_data,
    refuse_existing_output,
)
from m2v_train._cli_values import add_value_commands

_CLASSIFY_EPILOG = """\
examples:
  m2v train classify --data train.csv --model minishlab/potion-base-8M --output clf
  m2v train classify --data train.jsonl --model ./potion-base-8M --output clf \\
      --test-data test.jsonl --max-epochs 20 --class-weight balanced
  m2v train classify --data tags.csv --label-separator "|" --model ./base --output ml-clf

--data is .csv, .tsv or .jsonl; in JSONL a list label means multi-label, in CSV
--label-separator splits a cell.  Without --validation-data, --validation-size of the
data is held out (stratified); a data set too small to split trains without validation
(every epoch, no early stopping).  The output folder runs with numpy alone
(m2v_infer.StaticClassifier); an existing one needs --overwrite (checked before training).
Exit status: 0 on success, 1 on an error (printed with a stable code), 2 on bad usage.
"""

_FEATURIZE_EPILOG = """\
examples:
  m2v train featurize --corpus corpus.txt --teacher sentence-transformers/all-MiniLM-L6-v2 \\
      --work-dir feats
  m2v train featurize --corpus tweets.csv --text-column text --teacher ./minilm \\
      --work-dir feats --precision bfloat16 --target tokens

The teacher is a sentence-transformers / Hugging Face folder or hub id (safetensors
weights only, no remote code).  Features go to .npy shards in --work-dir; run the same
command again to resume an interrupted run.
"""

_PRETRAIN_EPILOG = """\
examples:
  m2v train pretrain --features feats --model ./distilled --output pretrained
  m2v train pretrain --features feats-a feats-b --model ./distilled --output small \\
      --epochs 2 --pca-dims 128 --quantize-to int8

--model is the starting static model (e.g. from m2v distill with the same teacher),
a folder or hub id.  An existing --output needs --overwrite (checked before training).
"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's line breaks and ends each option's help with its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "%(default)" in text
            or "(default" in text
            or action.required
            or action.nargs == 0  # flags: off unless given
            or action.default in (None, argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)".strip()


def _run_classify(args: argparse.Namespace) -> int:
    refuse_existing_output(args.output, args.overwrite)
    from m2v_train._classifier import StaticModelForClassification
    from m2v_train._data import read_labelled

    read = functools.partial(
        read_labelled,
        text_column=args.text_column,
        label_column=args.label_column,
        label_separator=args.label_separator,
        encoding=args.encoding,
    )
    texts, labels, val_texts, val_labels = read_data(read, args)
    classifier = load_trainer(StaticModelForClassification, args)
    classifier.fit(
        texts,
        labels,
        X_val=val_texts,
        y_val=val_labels,
        class_weight=args.class_weight,
        **fit_options(args),
    )
    folder = classifier.save_pretrained(args.output, overwrite=args.overwrite)
    validated = [r for r in classifier.history if not math.isnan(r.val_score)]
    if validated:
        best = max(validated, key=lambda r: (r.val_score, -r.val_loss))
        outcome = f"best {best.epoch}: validation score {best.val_score:.4f}"
    else:
        outcome = "too few texts to hold out a validation set: the last epoch is kept"
    print(f"trained {len(classifier.history)} epochs ({outcome}); classifier written to {folder}")
    if args.test_data:
        test_texts, test_labels = read(args.test_data)
        print(classifier.evaluate(test_texts, test_labels, output_dict=False))
    return EXIT_OK


_SEED_DEPRECATED = (
    "m2v train featurize: warning: --seed is deprecated and has no effect: featurizing is "
    "deterministic (the teacher runs in eval mode, no dropout, nothing is sampled or "
    "shuffled); it will be removed"
)


def _run_featurize(args: argparse.Namespace) -> int:
    from m2v_train._data import read_corpus
    from m2v_train._featurize import featurize

    if args.seed is not None:
        print(_SEED_DEPRECATED, file=sys.stderr)
    texts = read_corpus(args.corpus, text_column=args.text_column, encoding=args.encoding)
    folder = featurize(
        texts,
        args.work_dir,
        teacher=args.teacher,
        target=args.target,
        shard_size=args.shard_size,
        batch_size=args.batch_size,
        device=args.device,
        max_length=args.max_length,
        precision=args.precision,
        show_progress=not args.quiet,
    )
    print(f"features of {len(texts)} texts in {folder}")
    return EXIT_OK


def _run_pretrain(args: argparse.Namespace) -> int:
    refuse_existing_output(args.output, args.overwrite)
    from m2v_format import quantize
    from m2v_infer import StaticModel

    from m2v_train._features import load_features, merge_features
    from m2v_train._pretrain import PretrainOptions, pretrain

    features = merge_features([load_features(folder) for folder in args.features])
    options = PretrainOptions(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        contrastive_weight=args.contrastive_weight,
        cosine_weight=args.cosine_weight,
        mse_weight=args.mse_weight,
        temperature=args.temperature,
        train_weights=not args.no_train_weights,
        align=not args.no_align,
        center_targets=not args.no_center_targets,
        born_again=args.born_again,
        born_again_alpha=args.born_again_alpha,
        sif_coefficient=args.sif_coefficient,
        power=args.power,
        pca_dims=args.pca_dims,
        seed=args.seed,
        device=args.device,
        show_progress=not args.quiet,
    )
    model, report = pretrain(args.model, features, options)
    if args.quantize_to != "float32":
        model = StaticModel.from_data(quantize(model.data, args.quantize_to))
    folder = model.save_pretrained(args.output, overwrite=args.overwrite)
    summary = {
        "output": str(folder),
        "texts": len(features.texts),
        "seconds": round(report.seconds, 1),
        "val_cosine_before": round(report.start_val_cosine, 4),
        "val_cosine_after": round(report.final_val_cosine, 4),
    }
    print(json.dumps(summary))
    return EXIT_OK


def _common(parser: argparse.ArgumentParser, *, seed: bool = True) -> None:
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:N")
    if seed:
        parser.add_argument("--seed", type=int, default=42, help="random seed")
    else:  # accepted for old scripts, hidden from --help, warned about when given
        parser.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _add_classify(sub: Any) -> None:
    parser = sub.add_parser(
        "classify",
        help="fine-tune a classifier on a CSV/JSONL file and export it",
        description="Fine-tune a static model plus an MLP head on labelled texts; the output\n"
        "folder runs with numpy alone (m2v_infer.StaticClassifier).",
        epilog=_CLASSIFY_EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--data", required=True, help="training file: .csv, .tsv or .jsonl")
    parser.add_argument("--text-column", default="text", help="column of the texts")
    parser.add_argument("--label-column", default="label", help="column of the labels")
    parser.add_argument(
        "--label-separator",
        help="split CSV label cells into several labels (multi-label) (default: no split)",
    )
    add_data_and_model_options(parser, what="classifier")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="AdamW learning rate")
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="texts per step (default: 32 to 512, from the data size)",
    )
    parser.add_argument("--max-epochs", type=positive_int, default=50, help="most epochs")
    parser.add_argument(
        "--patience",
        type=or_none(positive_int),
        default=5,
        help="epochs without a better validation score before stopping; 'none' disables "
        "early stopping",
    )
    parser.add_argument(
        "--lr-schedule",
        choices=("plateau", "cosine", "constant"),
        default="plateau",
        help="learning-rate schedule",
    )
    parser.add_argument(
        "--class-weight",
        choices=("balanced",),
        default=None,
        help="weight classes by inverse frequency (default: equal weights)",
    )
    _common(parser)
    parser.set_defaults(run=_run_classify, command_prog=parser.prog)


def _add_featurize(sub: Any) -> None:
    parser = sub.add_parser(
        "featurize",
        help="compute teacher vectors of a corpus (resumable shards)",
        description="Run a sentence-transformer teacher (folder or hub id) over a corpus and\n"
        "store its vectors as .npy shards in --work-dir; run again to resume.\n"
        "Featurizing is deterministic: there is no --seed (an old --seed is ignored, with a "
        "warning).",
        epilog=_FEATURIZE_EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--corpus", required=True, help=".txt (one text per line), .csv or .jsonl")
    parser.add_argument("--text-column", default="text", help="column of the texts (.csv/.jsonl)")
    parser.add_argument("--encoding", default="utf-8", help="file encoding")
    parser.add_argument(
        "--teacher",
        required=True,
        metavar="PATH_OR_ID",
        help="sentence-transformers / Hugging Face model: folder or hub id",
    )
    parser.add_argument("--work-dir", required=True, help="feature folder (created or resumed)")
    parser.add_argument(
        "--target",
        choices=("sentence", "tokens"),
        default="sentence",
        help="the teacher's pooled embedding, or the mean of its token vectors",
    )
    parser.add_argument("--shard-size", type=positive_int, default=4096, help="texts per shard")
    parser.add_argument(
        "--batch-size", type=positive_int, default=64, help="texts per teacher forward pass"
    )
    parser.add_argument("--max-length", type=positive_int, default=256, help="teacher token limit")
    parser.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),
        default="float32",
        help="teacher precision (bfloat16: about 2x faster on recent CPUs)",
    )
    _common(parser, seed=False)
    parser.set_defaults(run=_run_featurize, command_prog=parser.prog)


def _add_pretrain(sub: Any) -> None:
    parser = sub.add_parser(
        "pretrain",
        help="train a distilled model on teacher features (Tokenlearn-style)",
        description="Train a static model's rows and token weights to match teacher vectors\n"
        "(from `m2v train featurize`) with contrastive and cosine losses.",
        epilog=_PRETRAIN_EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--features", required=True, nargs="+", help="feature folder(s)")
    parser.add_argument(
        "--model",
        required=True,
        metavar="PATH_OR_ID",
        help="starting model, folder or hub id (e.g. from m2v distill)",
    )
    parser.add_argument(
        "--output", required=True, type=Path, metavar="DIR", help="model folder to write"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    parser.add_argument("--epochs", type=positive_int, default=3, help="epochs per generation")
    parser.add_argument("--batch-size", type=positive_int, default=256, help="texts per step")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument(
        "--contrastive-weight", type=float, default=1.0, help="weight of the InfoNCE loss"
    )
    parser.add_argument(
        "--cosine-weight", type=float, default=1.0, help="weight of the 1 - cosine loss"
    )
    parser.add_argument("--mse-weight", type=float, default=0.0, help="weight of the MSE loss")
    parser.add_argument("--temperature", type=float, default=0.07, help="InfoNCE temperature")
    parser.add_argument(
        "--no-train-weights", action="store_true", help="do not learn per-token weights"
    )
    parser.add_argument("--no-align", action="store_true", help="skip the Procrustes rotation")
    parser.add_argument(
        "--no-center-targets",
        action="store_true",
        help="keep the teachers' mean direction in the targets (better for a static teacher)",
    )
    parser.add_argument("--born-again", type=int, default=0, help="extra born-again generations")
    parser.add_argument(
        "--born-again-alpha",
        type=float,
        default=0.5,
        help="share of the teacher in a born-again generation's targets",
    )
    parser.add_argument(
        "--sif-coefficient",
        type=float,
        default=None,
        help="SIF re-weighting a / (a + p(token)) after training (default: off)",
    )
    parser.add_argument(
        "--power",
        type=float,
        default=None,
        help="sign(E)|E|^p after training (default: off)",
    )
    parser.add_argument(
        "--pca-dims", type=int, default=None, help="PCA after training (default: keep all)"
    )
    parser.add_argument(
        "--quantize-to",
        choices=("float32", "float16", "int8"),
        default="float32",
        help="stored precision",
    )
    _common(parser)
    parser.set_defaults(run=_run_pretrain, command_prog=parser.prog)


def register_train(subparsers: Any) -> None:
    """Add ``m2v train`` (classify / featurize / pretrain) to the ``m2v`` command."""
    parser = subparsers.add_parser(
        "train",
        help="train classifiers and pre-train static models",
        description="Train text classifiers on static models, and pre-train static models "
        "from a teacher (featurize, then pretrain).",
    )
    sub = parser.add_subparsers(dest="train_command", metavar="SUBCOMMAND")
    _add_classify(sub)
    add_value_commands(sub, _HelpFormatter)
    _add_featurize(sub)
    _add_pretrain(sub)

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(run=usage)
