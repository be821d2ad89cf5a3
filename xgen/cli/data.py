"""``xgen data import``: a user's JSONL scenarios, validated and written as a dataset of the run directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from xgen import rundir
from xgen.cli.common import EXIT_OK, BadInput, add_common_flags, add_subcommands, configure


def cmd_data_import(args: argparse.Namespace) -> int:
  from xgen.data.jsonl_import import import_jsonl
  from xgen.graders.rubric import check_rubric
  from xgen.rundir import locks
  configure(args)
  path = Path(args.file)
  if not path.is_file():
    raise BadInput(f"no such file: {path}")
  try:
    given = args.name is not None
    name = rundir.check_name(args.name if given else path.stem,
                             "--name" if given else "--name (default: the file's stem)")
    out_dir = rundir.import_dir(args.workdir, name)
  except ValueError as error:
    raise BadInput(str(error)) from None
  try:  # the name's lock: a second import of the same name at once gets Busy (exit 75), not a race
    summary = import_jsonl(path, out_dir, check=check_rubric, lock=locks.held(args.workdir, locks.import_lock(name)))
  except (ValueError, FileExistsError) as error:  # SchemaError is a ValueError and names file:line
    raise BadInput(str(error)) from None
  splits = ", ".join(f"{split} {n}" for split, n in sorted(summary.splits.items()))
  print(f"imported {summary.num_records} records from {path} into {out_dir}: {splits}")
  return EXIT_OK


def add_data(commands: argparse._SubParsersAction) -> None:
  data = commands.add_parser("data", help="user data in the scenario schema")
  data_commands = add_subcommands(data)
  imp = data_commands.add_parser("import", help="validate a JSONL file of scenarios and write it as a dataset "
                                                "under WORKDIR/imports/NAME/")
  imp.add_argument("file", help="a JSONL file, one scenario per line")
  imp.add_argument("--name", help="the dataset's name (default: the file's stem)")
  add_common_flags(imp)
  imp.set_defaults(run=cmd_data_import)
