"""The ``m2v`` command: a thin dispatcher over subcommands that installed packages contribute.

Each package registers subcommands in the ``m2v.commands`` entry-point group.  An entry
point names a function ``register(subparsers) -> None`` that adds one parser and sets
``run=<callable(args) -> int>`` as its default (and, for nested subcommands,
``command_prog`` to name them in error lines).  Registration modules must stay light:
heavy imports (torch, grpc, ...) belong inside ``run`` so ``m2v --help`` stays fast and
a package that is not installed simply contributes nothing.

Errors are handled here, once, for every subcommand: an :class:`m2v_format.M2VError` is
printed as ``m2v COMMAND: error[CODE]: MESSAGE`` and gives exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from m2v_format._errors import M2VError

ENTRY_POINT_GROUP = "m2v.commands"

EXIT_OK = 0
"""The command did its job."""
EXIT_FAILURE = 1
"""An error (``error[CODE]: ...`` on stderr), or a check that found problems (validate)."""
EXIT_USAGE = 2
"""The command line itself is wrong (argparse's status)."""
EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C (SIGINT), as shells report it."""

_EPILOG = """\
examples:
  m2v encode "a sentence to embed"          embed with the built-in default model
  m2v info path/to/model                    dimensions, vocabulary, dtype, layout
  m2v validate path/to/model                check a folder against spec/format.md

Subcommands come from the installed m2v packages; install m2v-infer, m2v-distill,
m2v-train or m2v-grpc to get theirs.

exit status: 0 success, 1 error (printed as error[CODE]: message), 2 usage error,
130 interrupted.
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


def error_line(prog: str, error: M2VError) -> str:
    """How a command reports a typed error: ``PROG: error[CODE]: MESSAGE (PATH)``."""
    return f"{prog}: error[{error.code}]: {error.describe()}"


def run_command(
    prog: str, run: Callable[[argparse.Namespace], int], args: argparse.Namespace
) -> int:
    """Call ``run(args)`` with the project's error handling; return the exit status.

    Typed errors print one line (:func:`error_line`) and give :data:`EXIT_FAILURE`;
    Ctrl-C gives :data:`EXIT_INTERRUPTED`; a closed stdout (``m2v encode ... | head``)
    ends quietly with :data:`EXIT_OK`.
    """
    try:
        return int(run(args))
    except M2VError as error:
        print(error_line(prog, error), file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``m2v`` command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return EXIT_USAGE
    prog = getattr(args, "command_prog", None) or f"m2v {args.command}"
    return run_command(prog, run, args)


if __name__ == "__main__":
    raise SystemExit(main())
