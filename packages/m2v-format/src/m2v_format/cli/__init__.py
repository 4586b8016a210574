"""The ``m2v`` command line: the dispatcher, its exit statuses and what subcommands share.

Packages add subcommands through the ``m2v.commands`` entry-point group (see
:func:`build_parser`); every subcommand's errors are reported by :func:`run_command` as
``m2v COMMAND: error[CODE]: MESSAGE`` with exit status :data:`EXIT_FAILURE`.  Subcommands
use the argument types here (:func:`positive_int`, :func:`or_none`, ...) and
:func:`folder_size` / :func:`format_size` so that every command parses and reports alike.
"""

from m2v_format.cli._arguments import NONE_WORDS, finite_float, or_none, positive_int
from m2v_format.cli._dispatch import (
    ENTRY_POINT_GROUP,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    build_parser,
    error_line,
    main,
    run_command,
)
from m2v_format.cli._sizes import folder_size, format_size

__all__ = [  # noqa: RUF022 - grouped by topic
    # The dispatcher
    "ENTRY_POINT_GROUP",
    "build_parser",
    "main",
    "run_command",
    "error_line",
    # Exit statuses
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    # Shared argument types and reporting
    "NONE_WORDS",
    "finite_float",
    "folder_size",
    "format_size",
    "or_none",
    "positive_int",
]
