"""``m2v train regress`` and ``m2v train pairs``: the value-head trainers from the command line.

Imported when the ``m2v`` command starts, so nothing heavy is imported here: torch and the
trainers load inside each ``run`` function.  ``--output`` is checked before anything is
loaded or trained; ``--model`` is a local folder or a hub id.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
from typing import Any

from m2v_format.cli import EXIT_OK, or_none, positive_int

from m2v_train._cli_common import (
    add_data_and_model_options,
    fit_options,
    load_trainer,
    read_data,
    refuse_existing_output,
)

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


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def _outcome(history: list[Any]) -> str:
    validated = [r for r in history if not math.isnan(r.val_loss)]
    if not validated:
        return f"trained {len(history)} epochs"
    best = min(validated, key=lambda r: r.val_loss)
    return f"trained {len(history)} epochs (best {best.epoch}: validation loss {best.val_loss:.4f})"


def _run_regress(args: argparse.Namespace) -> int:
    refuse_existing_output(args.output, args.overwrite)
    from m2v_train._data import read_targets
    from m2v_train._regression import StaticModelForRegression

    columns = args.target_column or ["target"]
    read = functools.partial(
        read_targets, text_column=args.text_column, target_columns=columns, encoding=args.encoding
    )
    texts, targets, val_texts, val_targets = read_data(read, args)
    width = len(targets[0])
    names = columns if len(columns) == width else None
    model = load_trainer(StaticModelForRegression, args)
    model.fit(
        texts, targets, X_val=val_texts, y_val=val_targets, output_names=names,
        **fit_options(args),
    )  # fmt: skip
    folder = model.save_pretrained(args.output, overwrite=args.overwrite)
    print(f"{_outcome(model.history)}; regressor written to {folder}")
    if args.test_data:
        test_texts, test_targets = read(args.test_data)
        print(json.dumps(model.evaluate(test_texts, test_targets), indent=2))
    return EXIT_OK


def _run_pairs(args: argparse.Namespace) -> int:
    refuse_existing_output(args.output, args.overwrite)
    from m2v_train._data import read_pairs
    from m2v_train._pairs import StaticModelForPairSimilarity

    read = functools.partial(
        read_pairs,
        first_column=args.first_column,
        second_column=args.second_column,
        encoding=args.encoding,
    )
    first, second, val_first, val_second = read_data(read, args)
    model = load_trainer(StaticModelForPairSimilarity, args, out_dim=args.out_dim)
    model.fit(
        first, second, text_a_val=val_first, text_b_val=val_second,
        temperature=args.temperature, **fit_options(args),
    )  # fmt: skip
    folder = model.save_pretrained(args.output, overwrite=args.overwrite)
    print(f"{_outcome(model.history)}; embedder written to {folder}")
    if args.test_data:
        test_first, test_second = read(args.test_data)
        print(json.dumps(model.evaluate(test_first, test_second), indent=2))
    return EXIT_OK


def _shared(parser: argparse.ArgumentParser, *, what: str) -> None:
    add_data_and_model_options(parser, what=what)
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
