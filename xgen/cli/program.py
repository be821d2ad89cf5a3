"""The ``xgen`` program: the parser (one command group per module, added in the order ``--help`` lists
them), and ``main``/``console``, which run the chosen command and turn its end into an exit code."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

from xgen.cli import base, data, grading, grid, protocols, results, training, world
from xgen.cli.common import _STORAGE_FAILED, _NoStorageTracebacks, _Parser, run_guarded


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(prog="xgen", description="Cross-domain generalization experiments on RL post-training of "
                                            "language models.")
  commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
  commands.required = True
  world.add_world(commands)            # world build, world stats, world export
  base.add_base(commands)              # base import
  training.add_training(commands)      # pretrain, train
  results.add_eval(commands)           # eval
  protocols.add_attack(commands)       # attack
  grid.add_grid(commands)              # grid launch, grid status
  results.add_analysis(commands)       # matrix, claims, report
  grid.add_quickstart(commands)        # quickstart
  grid.add_reproduce(commands)         # reproduce
  data.add_data(commands)              # data import
  grading.add_grade(commands)          # grade
  return parser


def _writes(args: argparse.Namespace) -> bool:
  """Whether the command writes into --workdir (all but the ones that only read it)."""
  reads_only = (world.cmd_world_stats, world.cmd_world_export, grid.cmd_grid_status, results.cmd_matrix,
                grading.cmd_grade)
  return args.run not in reads_only or getattr(args, "format", None) == "png"


def main(argv: Sequence[str] | None = None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  run: Callable[[argparse.Namespace], int] = args.run
  from xgen.config import enable_compilation_cache
  enable_compilation_cache()
  import logging
  logging.getLogger("absl").addFilter(_NoStorageTracebacks())
  prog = f"xgen {args.command}" + (f" {args.subcommand}" if getattr(args, "subcommand", None) else "")
  return run_guarded(prog, run, args, write=_writes(args))


def console() -> None:
  """The ``xgen`` program. After a failing write the background writers (checkpoint and event-file
  threads) may wait minutes on a file system that will not take their bytes, and would then print
  their own tracebacks at exit: the one line has been said and the status recorded where possible,
  so the process ends at once."""
  code = main()
  if _STORAGE_FAILED:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
  sys.exit(code)
