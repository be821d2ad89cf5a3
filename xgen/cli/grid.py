"""``xgen grid launch``, ``xgen grid status``, ``xgen quickstart`` and ``xgen reproduce``: a study of many
cells, end to end."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

from xgen import rundir
from xgen.cli.common import (EXIT_FAILED, EXIT_OK, BadInput, add_common_flags, add_subcommands, at_least, build_config,
                             configure, progress)


def _study_configs(args: argparse.Namespace, default_files: Sequence[str]):
  from xgen import config
  from xgen.eval.crosseval import EvalConfig
  from xgen.grid.launch import StudyConfigs
  from xgen.grid.study import StudyConfig
  from xgen.models.config import ModelConfig
  from xgen.train.attack import AttackConfig
  from xgen.train.config import SFTConfig
  from xgen.world.config import WorldConfig
  configure(args, default_files)
  built = [build_config(c) for c in (StudyConfig, WorldConfig, ModelConfig, SFTConfig, EvalConfig, AttackConfig)]
  return StudyConfigs(*built[:-1], operative_config=config.operative_config(), attack=built[-1])


def _launch(args: argparse.Namespace, configs, *, show: str = "matrix") -> int:
  """Launches the study; prints the transfer matrix (``show="matrix"``) or the claims table (``"claims"``),
  the report's path and the wall time of each stage."""
  from xgen.grid.launch import launch
  try:
    result = launch(args.workdir, configs, executor=args.executor, parallel=args.parallel,
                    retry_failed=args.retry_failed, ray_address=args.ray_address, say=progress)
  except ValueError as error:  # a study that names an unknown domain or condition
    raise BadInput(" ".join(str(error).split())) from None
  failed = sorted(cell for cell, state in result.outcomes.items() if state != rundir.DONE)
  if result.report is not None:
    from xgen.report.exports import file_name
    analysis = rundir.analysis_dir(args.workdir)
    shown = rundir.claims_path(analysis, "md") if show == "claims" else analysis / file_name("domain", "md")
    if shown.exists():
      print(shown.read_text())
    print(f"report: {result.report}")
  print("wall time per stage (s): " + ", ".join(f"{stage} {seconds:g}" for stage, seconds in result.seconds.items()))
  if failed:
    print(f"cells not done: {', '.join(failed)} (see `xgen grid status --workdir {args.workdir}`)", file=sys.stderr)
    return EXIT_FAILED
  return EXIT_OK if result.report is not None else EXIT_FAILED


def cmd_grid_launch(args: argparse.Namespace) -> int:
  if args.executor == "inprocess" and args.parallel > 1:
    args.executor = "subprocess"
  return _launch(args, _study_configs(args, ["studies/default.gin"]))


def cmd_quickstart(args: argparse.Namespace) -> int:
  args.executor, args.parallel, args.retry_failed, args.ray_address = "inprocess", 1, False, None
  started = time.perf_counter()
  code = _launch(args, _study_configs(args, ["studies/quickstart.gin"]))
  print(f"quickstart finished in {time.perf_counter() - started:.0f} s")
  return code


def cmd_reproduce(args: argparse.Namespace) -> int:
  """A study of gin/studies/ (the reference study by default) end to end; prints its claims table."""
  args.executor = "subprocess" if args.parallel > 1 else "inprocess"
  args.retry_failed, args.ray_address = False, None
  try:
    rundir.check_name(args.study, "--study")
  except ValueError as error:
    raise BadInput(str(error)) from None
  started = time.perf_counter()
  code = _launch(args, _study_configs(args, [f"studies/{args.study}.gin"]), show="claims")
  print(f"study '{args.study}' finished in {time.perf_counter() - started:.0f} s")
  return code


def cmd_grid_status(args: argparse.Namespace) -> int:
  from xgen.grid.status import status_table
  configure(args)
  print(status_table(args.workdir))
  return EXIT_OK


def add_grid(commands: argparse._SubParsersAction) -> None:
  grid = commands.add_parser("grid", help="ablation grids: a study of many cells")
  grid_commands = add_subcommands(grid)
  grid_launch = grid_commands.add_parser("launch", help="world, base, every cell, cross-evaluation and the "
                                                        "analysis of a study (defaults to studies/default.gin); "
                                                        "launching again resumes")
  add_common_flags(grid_launch)
  grid_launch.add_argument("--executor", choices=("inprocess", "subprocess", "ray"), default="inprocess")
  grid_launch.add_argument("--parallel", type=at_least(1), default=1, metavar="N",
                           help="train N cells at once in subprocesses, and evaluate in N worker processes")
  grid_launch.add_argument("--retry_failed", action="store_true", help="train failed or diverged cells again")
  grid_launch.add_argument("--ray_address", help="a Ray cluster to join (default: start a local one)")
  grid_launch.set_defaults(run=cmd_grid_launch)
  grid_status = grid_commands.add_parser("status", help="a table of the cells and their states")
  add_common_flags(grid_status)
  grid_status.set_defaults(run=cmd_grid_status)


def add_reproduce(commands: argparse._SubParsersAction) -> None:
  reproduce = commands.add_parser("reproduce", help="a study of gin/studies/ end to end, as its reproducibility "
                                                    "script runs it: prints the claims table, the report's path "
                                                    "and the wall time of each stage; running again resumes")
  add_common_flags(reproduce)
  reproduce.add_argument("--study", default="reference", help="the study's name: gin/studies/STUDY.gin "
                                                              "(default: reference)")
  reproduce.add_argument("--parallel", type=at_least(1), default=2, metavar="N",
                         help="train N cells, and evaluate N checkpoints, at once in subprocesses (default 2: on a "
                              "2-core CPU two at once run about 1.4 times as fast as one after the other; the "
                              "cells and eval files are bit-identical either way); 1 does all in this process")
  reproduce.set_defaults(run=cmd_reproduce)


def add_quickstart(commands: argparse._SubParsersAction) -> None:
  quickstart = commands.add_parser("quickstart", help="the reduced default study end to end "
                                                      "(studies/quickstart.gin): about 5 minutes on 2 CPU cores")
  add_common_flags(quickstart)
  quickstart.set_defaults(run=cmd_quickstart)
