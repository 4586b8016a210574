"""What the ``m2v train`` trainer subcommands share: options, the output check, loading.

``classify``, ``regress`` and ``pairs`` take the same data, model and output options, check
``--output`` before anything is loaded or trained, read a training file and an optional
validation file, and start from ``--model`` with the head options.  Imported when the
``m2v`` command starts, so nothing heavy is imported here (the trainer class is passed in).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from m2v_train._trainer import StaticTrainer

First = TypeVar("First")
Second = TypeVar("Second")
Trainer = TypeVar("Trainer", bound="StaticTrainer")


def size(text: str) -> float | int:
    """A fraction in (0, 1) or a row count."""
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


def refuse_existing_output(output: Path, overwrite: bool) -> None:
    """Fail before loading or training anything when ``output`` exists (no ``--overwrite``)."""
    from m2v_format import OutputExistsError

    if (output.exists() or output.is_symlink()) and not overwrite:
        raise OutputExistsError(
            "output folder exists (pass --overwrite to replace it)", path=output
        )


def add_data_and_model_options(parser: argparse.ArgumentParser, *, what: str) -> None:
    """``--encoding`` to ``--freeze-embeddings``: the files, the base model, the output
    folder (``what`` is written there) and the head's shape."""
    parser.add_argument("--encoding", default="utf-8", help="file encoding")
    parser.add_argument("--validation-data", help="a validation file (default: split off --data)")
    parser.add_argument(
        "--validation-size",
        type=size,
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


def read_data(
    read: Callable[[str], tuple[First, Second]], args: argparse.Namespace
) -> tuple[First, Second, First | None, Second | None]:
    """``--data`` and ``--validation-data`` (``None, None`` without it) read with ``read``."""
    first, second = read(args.data)
    if not args.validation_data:
        return first, second, None, None
    val_first, val_second = read(args.validation_data)
    return first, second, val_first, val_second


def fit_options(args: argparse.Namespace) -> dict[str, Any]:
    """``fit``'s options from the training options every trainer subcommand has."""
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


def load_trainer(trainer: type[Trainer], args: argparse.Namespace, **options: Any) -> Trainer:
    """``trainer.from_pretrained(--model)`` with the head options (and ``options``)."""
    return trainer.from_pretrained(
        args.model,
        n_layers=args.layers,
        hidden_dim=args.hidden_dim,
        train_embeddings=not args.freeze_embeddings,
        **options,
    )
