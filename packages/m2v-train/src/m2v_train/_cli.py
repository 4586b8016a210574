"""``m2v train``: classify / featurize / pretrain subcommands.

This module is imported when the ``m2v`` command starts, so it imports nothing heavy:
torch and the training code load inside each ``run`` function.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from m2v_format.cli import EXIT_OK


def _run_classify(args: argparse.Namespace) -> int:
    from m2v_train._classifier import StaticModelForClassification
    from m2v_train._data import read_labelled

    read = {
        "text_column": args.text_column,
        "label_column": args.label_column,
        "label_separator": args.label_separator,
        "encoding": args.encoding,
    }
    texts, labels = read_labelled(args.data, **read)
    val_texts = val_labels = None
    if args.validation_data:
        val_texts, val_labels = read_labelled(args.validation_data, **read)
    classifier = StaticModelForClassification.from_pretrained(
        args.model,
        n_layers=args.layers,
        hidden_dim=args.hidden_dim,
        train_embeddings=not args.freeze_embeddings,
    )
    classifier.fit(
        texts,
        labels,
        X_val=val_texts,
        y_val=val_labels,
        validation_size=args.validation_size,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        max_epochs=args.max_epochs,
        early_stopping_patience=args.patience,
        lr_schedule=args.lr_schedule,
        class_weight=args.class_weight,
        seed=args.seed,
        device=args.device,
        show_progress=not args.quiet,
    )
    folder = classifier.save_pretrained(args.output, overwrite=args.overwrite)
    best = max(classifier.history, key=lambda r: (r.val_score, -r.val_loss))
    print(
        f"trained {len(classifier.history)} epochs (best {best.epoch}: validation score "
        f"{best.val_score:.4f}); classifier written to {folder}"
    )
    if args.test_data:
        test_texts, test_labels = read_labelled(args.test_data, **read)
        print(classifier.evaluate(test_texts, test_labels, output_dict=False))
    return EXIT_OK


def _run_featurize(args: argparse.Namespace) -> int:
    from m2v_train._data import read_corpus
    from m2v_train._featurize import featurize

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


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:N")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _add_classify(sub: Any) -> None:
    parser = sub.add_parser(
        "classify",
        help="fine-tune a classifier on a CSV/JSONL file and export it",
        description="Fine-tune a static model plus an MLP head on labelled texts; the output "
        "folder runs with numpy alone (m2v_infer.StaticClassifier).",
    )
    parser.add_argument("--data", required=True, help="training file: .csv, .tsv or .jsonl")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument(
        "--label-separator", help="split CSV label cells into several labels (multi-label)"
    )
    parser.add_argument("--encoding", default="utf-8", help="file encoding (default utf-8)")
    parser.add_argument("--validation-data", help="a validation file (else split off --data)")
    parser.add_argument("--validation-size", type=float, default=0.1)
    parser.add_argument("--test-data", help="evaluate on this file after training")
    parser.add_argument("--model", required=True, help="base static model folder or hub id")
    parser.add_argument("--output", required=True, help="folder to write the classifier to")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--layers", type=int, default=1, help="hidden layers of the head")
    parser.add_argument("--hidden-dim", type=int, default=512)
    parser.add_argument("--freeze-embeddings", action="store_true")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: from data size")
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--patience", type=int, default=5, help="early-stopping patience")
    parser.add_argument(
        "--lr-schedule", choices=("plateau", "cosine", "constant"), default="plateau"
    )
    parser.add_argument("--class-weight", choices=("balanced",), default=None)
    _common(parser)
    parser.set_defaults(run=_run_classify, command_prog=parser.prog)


def _add_featurize(sub: Any) -> None:
    parser = sub.add_parser(
        "featurize",
        help="compute teacher vectors of a corpus (resumable shards)",
        description="Run a sentence-transformer teacher (local folder) over a corpus and store "
        "its vectors as .npy shards in --work-dir; run again to resume.",
    )
    parser.add_argument("--corpus", required=True, help=".txt (one text per line), .csv or .jsonl")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--encoding", default="utf-8")
    parser.add_argument("--teacher", required=True, help="local sentence-transformers folder")
    parser.add_argument("--work-dir", required=True, help="feature folder (created or resumed)")
    parser.add_argument("--target", choices=("sentence", "tokens"), default="sentence")
    parser.add_argument("--shard-size", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=256, help="teacher token limit")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32")
    _common(parser)
    parser.set_defaults(run=_run_featurize, command_prog=parser.prog)


def _add_pretrain(sub: Any) -> None:
    parser = sub.add_parser(
        "pretrain",
        help="train a distilled model on teacher features (Tokenlearn-style)",
        description="Train a static model's rows and token weights to match teacher vectors "
        "(from `m2v train featurize`) with contrastive and cosine losses.",
    )
    parser.add_argument("--features", required=True, nargs="+", help="feature folder(s)")
    parser.add_argument("--model", required=True, help="starting model (e.g. from m2v distill)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--contrastive-weight", type=float, default=1.0)
    parser.add_argument("--cosine-weight", type=float, default=1.0)
    parser.add_argument("--mse-weight", type=float, default=0.0)
    parser.add_argument("--temperature", type=float, default=0.07)
    parser.add_argument("--no-train-weights", action="store_true", help="no per-token weights")
    parser.add_argument("--no-align", action="store_true", help="skip the Procrustes rotation")
    parser.add_argument("--born-again", type=int, default=0, help="extra generations")
    parser.add_argument("--born-again-alpha", type=float, default=0.5)
    parser.add_argument("--sif-coefficient", type=float, default=None)
    parser.add_argument("--power", type=float, default=None, help="sign(E)|E|^p after training")
    parser.add_argument("--pca-dims", type=int, default=None, help="PCA after training")
    parser.add_argument("--quantize-to", choices=("float32", "float16", "int8"), default="float32")
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
    _add_featurize(sub)
    _add_pretrain(sub)

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(run=usage)
