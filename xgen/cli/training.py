"""``xgen pretrain`` and ``xgen train``: the base model, and one RL cell on top of it."""

from __future__ import annotations

import argparse
import sys

from xgen import rundir
from xgen.cli.common import (EXIT_FAILED, EXIT_OK, BadInput, add_common_flags, at_least, build_config, configure,
                             progress)


def cmd_pretrain(args: argparse.Namespace) -> int:
  from xgen import config
  from xgen.models.config import ModelConfig
  from xgen.train.pretrain import pretrain
  from xgen.train.config import SFTConfig
  from xgen.train.lifecycle import TrainingDiverged
  configure(args, ["runs/pretrain.gin"])
  model_config, sft_config = build_config(ModelConfig), build_config(SFTConfig)
  try:
    status = pretrain(args.workdir, model_config, sft_config, operative_config=config.operative_config())
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None
  except TrainingDiverged as error:
    print(f"xgen pretrain: diverged: {error}; see {rundir.status_path(rundir.base_dir(args.workdir))}", file=sys.stderr)
    return EXIT_FAILED
  print(f"pretrained {rundir.base_dir(args.workdir)}: {status['state']} at step {status['step']}"
        + (f" ({status['epochs']} epochs of the corpus)" if "epochs" in status else ""))
  if args.probes:
    from xgen.eval.base_report import base_behaviour
    progress(f"probing the base model ({args.probes} probes per kind and domain)")
    print(base_behaviour(args.workdir, model_config, per_kind=args.probes))
    print(f"written to {rundir.behaviour_path(args.workdir)}")
  return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
  from xgen import config
  from xgen.grid.study import condition_name
  from xgen.models.config import ModelConfig
  from xgen.rl.config import LossConfig, MixtureConfig, RLConfig
  from xgen.rl.trainer import train_cell
  from xgen.rundir import cell_dir
  from xgen.train.lifecycle import TrainingDiverged
  try:
    if args.cell is not None:
      rundir.check_name(args.cell, "--cell")
  except ValueError as error:
    raise BadInput(str(error)) from None
  configure(args, ["runs/rl.gin"])
  rl, mixture, loss = build_config(RLConfig), build_config(MixtureConfig), build_config(LossConfig)
  condition = args.condition or condition_name(mixture)
  try:
    cell = rundir.check_name(args.cell or f"{condition}.s{rl.seed}", "--cell")
  except ValueError as error:
    raise BadInput(str(error)) from None
  labels = {"condition": condition, "seed": rl.seed if args.seed_label is None else args.seed_label}
  try:
    status = train_cell(args.workdir, cell, rl, mixture, loss, labels=labels, model_config=build_config(ModelConfig),
                        operative_config=config.operative_config())
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None
  except ValueError as error:
    raise BadInput(" ".join(str(error).split())) from None
  except TrainingDiverged as error:
    print(f"xgen train: diverged: {error}; see {rundir.status_path(cell_dir(args.workdir, cell))}", file=sys.stderr)
    return EXIT_FAILED
  print(f"trained {cell_dir(args.workdir, cell)}: {status['state']} at step {status['step']}")
  return EXIT_OK


def add_training(commands: argparse._SubParsersAction) -> None:
  pretrain = commands.add_parser("pretrain", help="train the base model on WORKDIR/world's pretraining corpus "
                                                   "into WORKDIR/base/ (defaults to --gin_file runs/pretrain.gin); "
                                                   "resumes from the newest checkpoint")
  add_common_flags(pretrain)
  pretrain.add_argument("--probes", type=at_least(0), default=20, metavar="N",
                        help="after training, probe fact recall and each bad habit with N conversations per domain "
                             "(0 to skip); written to WORKDIR/base/behaviour.json")
  pretrain.set_defaults(run=cmd_pretrain)

  train = commands.add_parser("train", help="train one RL cell from WORKDIR/base into WORKDIR/cells/CELL/ "
                                             "(defaults to --gin_file runs/rl.gin); resumes from the newest checkpoint")
  add_common_flags(train)
  train.add_argument("--cell", help="the cell's name (default: CONDITION.sSEED, e.g. dose-5.s0, only-health-dose-5.s0)")
  train.add_argument("--condition", help="the study condition the cell belongs to (default: named from the "
                                         "mixture as a study names it, with the dose: dose-5, only-health-dose-5)")
  train.add_argument("--seed_label", type=at_least(0), metavar="K",
                     help="the study seed the cell is paired by in the analysis (default: its training seed; "
                          "the A/A arm trains with another seed)")
  train.set_defaults(run=cmd_train)
