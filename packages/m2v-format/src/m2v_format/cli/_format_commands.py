"""``m2v validate`` and ``m2v info``: the subcommands m2v-format contributes to ``m2v``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from m2v_format.cli._dispatch import EXIT_FAILURE, EXIT_OK
from m2v_format.cli._sizes import folder_size

_VALIDATE_EPILOG = """\
examples:
  m2v validate ./potion-base-8M
  m2v validate ./my-model --subfolder 0_StaticEmbedding
  m2v validate ./my-model --json > report.json

Exit status: 0 when the folder follows every rule of spec/format.md, 1 when it breaks any.
Each failure names the rule (e.g. T5) and a stable error code (e.g. vocab-size-mismatch).
"""

_INFO_EPILOG = """\
examples:
  m2v info ./potion-base-8M
  m2v info minishlab/potion-base-8M          (needs the [hub] extra, or a cached copy)
  m2v info ./my-model --json
"""


def register_validate(subparsers: Any) -> None:
    """Add ``m2v validate`` to the ``m2v`` command."""
    parser = subparsers.add_parser(
        "validate",
        help="check a model folder against every rule of the format spec",
        description="Check a model folder against every rule of spec/format.md.",
        epilog=_VALIDATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="model folder (or hub id with the [hub] extra)")
    parser.add_argument("--subfolder", default=None, help="folder inside the model to check")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(run=_run_validate)


def register_info(subparsers: Any) -> None:
    """Add ``m2v info`` to the ``m2v`` command."""
    parser = subparsers.add_parser(
        "info",
        help="show a model's dimensions, vocabulary, dtype, size and layout",
        description="Show what a model folder holds, without computing anything.",
        epilog=_INFO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="model folder or hub id")
    parser.add_argument("--subfolder", default=None, help="folder inside the model")
    parser.add_argument("--json", action="store_true", help="print the facts as JSON")
    parser.set_defaults(run=_run_info)


def _run_validate(args: argparse.Namespace) -> int:
    from m2v_format import validate_model

    report = validate_model(args.model, subfolder=args.subfolder)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "violations": [
                        {
                            "rule": v.rule,
                            "code": v.code,
                            "message": v.message,
                            "path": None if v.path is None else str(v.path),
                        }
                        for v in report.violations
                    ],
                },
                indent=2,
            )
        )
    elif report.ok:
        print(f"{args.model}: valid (spec/format.md)")
    else:
        for violation in report.violations:
            where = f" ({violation.path})" if violation.path is not None else ""
            print(f"{violation.rule:>3} {violation.code}: {violation.message}{where}")
        print(f"{args.model}: {len(report.violations)} rule violation(s)")
    return EXIT_OK if report.ok else EXIT_FAILURE


def model_facts(path: str, subfolder: str | None = None) -> dict[str, Any]:
    """Describe a model folder: the facts ``m2v info`` prints."""
    from m2v_format import load_model

    model = load_model(path, subfolder=subfolder)
    folder = model.path if model.path is not None else Path(path)
    return {
        "path": str(folder),
        "layout": None if model.layout is None else model.layout.value,
        "format_version": model.config.format_version,
        "rows": model.rows,
        "dim": model.dim,
        "vocab_size": model.vocab_size,
        "dtype": str(model.dtype),
        "int8_scale": model.embeddings_scale,
        "vocabulary_quantized": model.mapping is not None,
        "token_weights": model.weights is not None,
        "normalize": model.normalize,
        "max_length": model.config.default_max_length,  # what encoding uses (rule I9)
        "max_length_in_config": model.config.has_max_length,
        "tokenizer_model": json.loads(model.tokenizer.to_str())["model"]["type"],
        "size_on_disk_bytes": folder_size(folder),
    }


def _run_info(args: argparse.Namespace) -> int:
    facts = model_facts(args.model, args.subfolder)
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    width = max(len(key) for key in facts)
    for key, value in facts.items():
        print(f"{key:<{width}}  {value}")
    return 0
