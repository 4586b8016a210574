"""``m2v train regress`` and ``m2v train pairs``: the value-head trainers from the command line.

Imported when the ``m2v`` command starts, so nothing heavy is imported here: torch and the
trainers load inside each ``run`` function.  ``--output`` is checked before anything is
loaded or trained; ``--model`` is a local folder or a hub id.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from m2v_format.cli import EXIT_OK, or_none, positive_int

_REGRESS_EPILOG = """\
examples:
  m2v train regress --data ratings.csv --target-column score --model minishlab/potion-base-8M \\
      --output regressor
  m2v train regress --data ratings.tsv --target-column valence --target-column arousal \\
      --model ./potion-base-8M --output va --test-data test.tsv

--data is .csv, .tsv or .jsonl with a text column and one or more numeric target columns
(repeat --target-column; one JSONL column may also hold arrays of numbers).  Mean squared
error, early stopping on the validation loss; without --validation-data, --validation-size
of the data is held out.  The output folder runs with numpy alone
(m2v_infer.StaticRegressor) and loads in model2vec's StaticModelPipeline; an existing one
needs --overwrite (checked before training).
Exit status: 0 on success, 1 on an error (printed with a stable code), 2 on bad usage.
"""

_PAIRS_EPILOG = """\
examples:
  m2v train pairs --data pairs.csv --model minishlab/potion-base-8M --output embedder
  m2v train pairs --data qa.jsonl --first-column question --second-column answer \\
      --model ./potion-base-8M --output qa --batch-size 256 --temperature 0.05

--data is .csv, .tsv or .jsonl with two text columns: each row is a pair of related
texts.  InfoNCE with in-batch negatives (the other pairs of a batch; identical texts are
not negatives of each other), early stopping on the validation loss.  The output folder
runs with numpy alone (m2v_infer.StaticEmbedder); an existing one needs --overwrite
(checked before training).  --test-data reports retrieval of the second text given the
first (recall@1, MRR).
Exit status: 0 on success, 1 on an error (printed with a stable code), 2 on bad usage.
"""


def _size(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a fraction in (0, 1) or a count, got {text!r}"
        ) from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def _refuse_existing_output(output: Path, overwrite: bool) -> None:
    from m2v_format import OutputExistsError

    if (output.exists() or output.is_symlink()) and not overwrite:
        raise OutputExistsError(
            "output folder exists (pass --overwrite to replace it)", path=output
        )


def _outcome(history: list[Any]) -> str:
    validated = [r for r in history if not math.isnan(r.val_loss)]
    if not validated:
        return f"trained {len(history)} epochs"
    best = min(validated, key=lambda r: r.val_loss)
    return f"trained {len(history)} epochs (best {best.epoch}: validation loss {best.val_loss:.4f})"


def _fit_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "validation_size": args.validation_size,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "max_epochs": args.max_epochs,
        "early_stopping_patience": args.patience,
        "lr_schedule": args.lr_schedule,
        "seed": args.seed,
        "device": args.device,
        "show_progress": not args.quiet,
    }


def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "n_layers": args.layers,
        "hidden_dim": args.hidden_dim,
        "train_embeddings": not args.freeze_embeddings,
    }


def _run_regress(args: argparse.Namespace) -> int:
    _refuse_existing_output(args.output, args.overwrite)
    from m2v_train._data import read_targets
    from m2v_train._regression import StaticModelForRegression

    columns = args.target_column or ["target"]
    read = {"text_column": args.text_column, "target_columns": columns, "encoding": args.encoding}
    texts, targets = read_targets(args.data, **read)
    val_texts = val_targets = None
    if args.validation_data:
        val_texts, val_targets = read_targets(args.validation_data, **read)
    width = len(targets[0])
    names = columns if len(columns) == width else None
    model = StaticModelForRegression.from_pretrained(args.model, **_model_options(args))
    model.fit(
        texts, targets, X_val=val_texts, y_val=val_targets, output_names=names,
        **_fit_options(args),
    )  # fmt: skip
    folder = model.save_pretrained(args.output, overwrite=args.overwrite)
    print(f"{_outcome(model.history)}; regressor written to {folder}")
    if args.test_data:
        test_texts, test_targets = read_targets(args.test_data, **read)
        print(json.dumps(model.evaluate(test_texts, test_targets), indent=2))
    return EXIT_OK


def _run_pairs(args: argparse.Namespace) -> int:
    _refuse_existing_output(args.output, args.overwrite)
    from m2v_train._data import read_pairs
    from m2v_train._pairs import StaticModelForPairSimilarity

    read = {
        "first_column": args.first_column,
        "second_column": args.second_column,
        "encoding": args.encoding,
    }
    first, second = read_pairs(args.data, **read)
    val_first = val_second = None
    if args.validation_data:
        val_first, val_second = read_pairs(args.validation_data, **read)
    model = StaticModelForPairSimilarity.from_pretrained(
        args.model, out_dim=args.out_dim, **_model_options(args)
    )
    model.fit(
        first, second, text_a_val=val_first, text_b_val=val_second,
        temperature=args.temperature, **_fit_options(args),
    )  # fmt: skip
    folder = model.save_pretrained(args.output, overwrite=args.overwrite)
    print(f"{_outcome(model.history)}; embedder written to {folder}")
    if args.test_data:
        test_first, test_second = read_pairs(args.test_data, **read)
        print(json.dumps(model.evaluate(test_first, test_second), indent=2))
    return EXIT_OK


def _shared(parser: argparse.ArgumentParser, *, what: str) -> None:
    parser.add_argument("--encoding", default="utf-8", help="file encoding")
    parser.add_argument("--validation-data", help="a validation file (default: split off --data)")
    parser.add_argument(
        "--validation-size",
        type=_size,
        default=0.1,
        help="share of --data held out for validation (a fraction, at most 10,000 rows, "
        "or a count)",
    )
    parser.add_argument("--test-data", help="evaluate on this file after training (default: none)")
    parser.add_argument(
        "--model", required=True, metavar="PATH_OR_ID", help="base static model: folder or hub id"
    )
    parser.add_argument(
        "--output", required=True, type=Path, metavar="DIR", help=f"folder to write the {what} to"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    parser.add_argument("--layers", type=int, default=1, help="hidden layers of the head")
    parser.add_argument("--hidden-dim", type=int, default=512, help="width of the hidden layers")
    parser.add_argument(
        "--freeze-embeddings", action="store_true", help="train only the head and token weights"
    )
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="learning rate")
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="rows per step (default: 32 to 512, from the data size)",
    )
    parser.add_argument(
        "--max-epochs",
        type=or_none(positive_int),
        default=None,
        help="most epochs (default: until early stopping)",
    )
    parser.add_argument(
        "--patience",
        type=or_none(positive_int),
        default=5,
        help="epochs without a lower validation loss before stopping; 'none' disables "
        "early stopping",
    )
    parser.add_argument(
        "--lr-schedule",
        choices=("plateau", "cosine", "constant"),
        default="plateau",
        help="learning-rate schedule",
    )
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:N")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def add_value_commands(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """Add ``regress`` and ``pairs`` to ``m2v train``'s subcommands."""
    regress = sub.add_parser(
        "regress",
        help="fine-tune a regression model on a CSV/JSONL file and export it",
        description="Fine-tune a static model plus an MLP head to predict numbers from texts;\n"
        "the output folder runs with numpy alone (m2v_infer.StaticRegressor).",
        epilog=_REGRESS_EPILOG,
        formatter_class=formatter,
    )
    regress.add_argument("--data", required=True, help="training file: .csv, .tsv or .jsonl")
    regress.add_argument("--text-column", default="text", help="column of the texts")
    regress.add_argument(
        "--target-column",
        action="append",
        metavar="NAME",
        help="a numeric target column; repeat for several outputs (default: target)",
    )
    _shared(regress, what="regressor")
    regress.set_defaults(run=_run_regress, command_prog=regress.prog)

    pairs = sub.add_parser(
        "pairs",
        help="fine-tune an embedding model on pairs of related texts and export it",
        description="Fine-tune a static model plus a projection head so that paired texts\n"
        "embed close together (InfoNCE); the output runs with numpy alone\n"
        "(m2v_infer.StaticEmbedder).",
        epilog=_PAIRS_EPILOG,
        formatter_class=formatter,
    )
    pairs.add_argument("--data", required=True, help="training file: .csv, .tsv or .jsonl")
    pairs.add_argument("--first-column", default="text_a", help="column of each pair's first text")
    pairs.add_argument(
        "--second-column", default="text_b", help="column of each pair's second text"
    )
    pairs.add_argument(
        "--out-dim",
        type=positive_int,
        default=None,
        help="width of the vectors (default: the model's dimension)",
    )
    pairs.add_argument(
        "--temperature", type=_positive_float, default=0.05, help="InfoNCE temperature"
    )
    _shared(pairs, what="embedder")
    pairs.set_defaults(run=_run_pairs, command_prog=pairs.prog)
