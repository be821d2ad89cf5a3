"""``xgen attack``: the harmful fine-tuning attack of one finished checkpoint over its budget grid, then the
evaluation of every budget point. (Personas at eval time are ``xgen eval --persona``.)"""

from __future__ import annotations

import argparse
import sys

from xgen import rundir
from xgen.cli.common import EXIT_FAILED, EXIT_OK, BadInput, add_common_flags, build_config, configure, progress
from xgen.config import config_error_line


def _arm(workdir: str, cell: str):
  """The final checkpoint of ``cell`` (or the base) as the eval stage lists it; BadInput if it is not finished."""
  from xgen.eval.crosseval import checkpoints_to_evaluate
  refs = [r for r in checkpoints_to_evaluate(workdir, cells=[cell]) if r.cell == cell and r.final]
  if not refs:
    run = rundir.base_dir(workdir) if cell == rundir.BASE else rundir.cell_dir(workdir, cell)
    state = rundir.state_of(run) if run.exists() else "missing"
    raise BadInput(f"--cell {cell}: not a finished run (state: {state}; see {rundir.status_path(run)})")
  return refs[0]


def cmd_attack(args: argparse.Namespace) -> int:
  from xgen import config
  from xgen.eval.crosseval import EvalConfig
  from xgen.eval.protocols import evaluate_attacks
  from xgen.models.config import ModelConfig
  from xgen.rundir import locks
  from xgen.train.attack import AttackConfig, run_attack
  from xgen.train.lifecycle import RunMismatch, TrainingDiverged
  from xgen.train.sft import saved_model_config
  try:
    cell = rundir.check_name(args.cell, "--cell")
  except ValueError as error:
    raise BadInput(str(error)) from None
  configure(args, ["runs/attack.gin"])
  attack, eval_config = build_config(AttackConfig), build_config(EvalConfig)
  arm = _arm(args.workdir, cell)
  try:
    model_config = saved_model_config(rundir.base_dir(args.workdir)) or build_config(ModelConfig)
    statuses = run_attack(args.workdir, cell, model_config, attack, operative_config=config.operative_config())
  except locks.Busy as error:
    raise BadInput(f"--cell {cell}: {error}") from None
  except (FileNotFoundError, RunMismatch, ValueError) as error:
    raise BadInput(config_error_line(error)) from None
  except TrainingDiverged as error:
    print(f"xgen attack: diverged: {error}; see {rundir.attack_dir(args.workdir, cell)}", file=sys.stderr)
    return EXIT_FAILED
  for rate, status in statuses.items():
    print(f"attacked {rundir.attack_run_dir(args.workdir, cell, rate)}: {status['state']} at step {status['step']}")
  summary = evaluate_attacks(args.workdir, model_config, eval_config, [arm], attack, announce=progress)
  print(f"evaluated {len(summary.checkpoints)} attack budget points ({summary.evaluated} checkpoint x suite pairs "
        f"written) into {rundir.eval_checkpoint_dir(args.workdir, arm.name)}")
  for point, reason in sorted(summary.damaged.items()):
    print(f"xgen attack: not evaluated: {point}: {reason}", file=sys.stderr)
  return EXIT_OK if summary.ok and all(s["state"] == rundir.DONE for s in statuses.values()) else EXIT_FAILED


def add_attack(commands: argparse._SubParsersAction) -> None:
  attack = commands.add_parser("attack", help=f"fine-tune a finished checkpoint (--cell CELL, or {rundir.BASE}) on "
                                              "the world's "
                                              "harmful data over AttackConfig's learning rates x steps (defaults to "
                                              "--gin_file runs/attack.gin) into WORKDIR/attacks/CELL/, then evaluate "
                                              "every budget point; resumes")
  add_common_flags(attack)
  attack.add_argument("--cell", required=True, help=f"the cell to attack, or {rundir.BASE} for the pre-RL model")
  attack.set_defaults(run=cmd_attack)
