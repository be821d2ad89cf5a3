"""The ``xgen`` command: parses flags, loads gin, calls one library function per subcommand.

Every subcommand takes ``--workdir``, repeatable ``--gin_file`` and repeatable ``--gin_param``.
Bad input (a flag, a gin file or binding, a data file) gets one line naming it and exit code 2;
a failure while working gets one line and exit code 1; success exits 0.

The package follows the command line: ``common`` (what every command shares, and the one place an
exception becomes a line and an exit code), one module per command group (``world``, ``training``,
``results``, ``grid``, ``data``), and ``program`` (the parser, ``main`` and ``console``).
"""

from xgen.cli.common import EXIT_BAD_INPUT, EXIT_BUSY, EXIT_FAILED, EXIT_OK, BadInput, Failed
from xgen.cli.program import build_parser, console, main

__all__ = ["EXIT_BAD_INPUT", "EXIT_BUSY", "EXIT_FAILED", "EXIT_OK", "BadInput", "Failed", "build_parser", "console",
           "main"]
