"""The ``m2v`` command: a thin dispatcher over subcommands that installed packages contribute.

Each package registers subcommands in the ``m2v.commands`` entry-point group.  An entry
point names a function ``register(subparsers) -> None`` that adds one parser and sets
``run=<callable(args) -> int>`` as its default.  Registration modules must stay light:
heavy imports (torch, grpc, ...) belong inside ``run`` so ``m2v --help`` stays fast and
a package that is not installed simply contributes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from m2v_format._errors import FormatError

ENTRY_POINT_GROUP = "m2v.commands"

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_EPILOG = """\
examples:
  m2v encode "a sentence to embed"          embed with the built-in default model
  m2v info path/to/model                    dimensions, vocabulary, dtype, layout
  m2v validate path/to/model                check a folder against spec/format.md

Subcommands come from the installed m2v packages; install m2v-infer, m2v-distill,
m2v-train or m2v-grpc to get theirs.
"""


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every installed subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="m2v",
        description="Static embedding models: inspect, validate, encode, distil, train, serve.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        try:
            register = entry_point.load()
        except ImportError as error:  # a broken optional package must not break the others
            print(
                f"m2v: warning: subcommand {entry_point.name!r} unavailable: {error}",
                file=sys.stderr,
            )
            continue
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``m2v`` command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(run(args))
    except FormatError as error:
        print(f"m2v {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"m2v {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `m2v encode ... | head`
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
