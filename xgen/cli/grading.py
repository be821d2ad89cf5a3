"""``xgen grade``: scores given replies against the rubrics of the world's (or an imported dataset's)
scenarios, with no model; see :mod:`xgen.eval.offline_grade` for the file formats."""

from __future__ import annotations

import argparse
from pathlib import Path

from xgen import rundir
from xgen.cli.common import EXIT_OK, BadInput, write_problem, add_common_flags, configure


def _check_out_file(out: str) -> Path:
  """``--out``: a file (not a folder) whose folder exists or can be made, and can be written in."""
  path = Path(out)
  if path.is_dir():
    raise BadInput(f"--out {out}: is a directory, not a file")
  existing = next(p for p in path.parents if p.exists())  # "." and "/" always exist
  if not existing.is_dir():
    raise BadInput(f"--out {out}: is inside {existing}, which is a file")
  problem = write_problem(existing)
  if problem:
    raise BadInput(f"--out {out}: cannot write in {existing} ({problem})")
  return path


def _scenario_data_dir(args: argparse.Namespace) -> tuple[Path, str]:
  """The TFDS data directory the ids are looked up in, and how to name it in messages."""
  from xgen.world.store import open_world
  if args.import_name is None:
    try:
      world = open_world(args.workdir)
    except FileNotFoundError as error:
      raise BadInput(str(error)) from None
    return rundir.tfds_dir(world.directory), f"world {world.sha256[:16]}"
  try:
    import_dir = rundir.import_dir(args.workdir, rundir.check_name(args.import_name, "--import"))
  except ValueError as error:
    raise BadInput(str(error)) from None
  if not rundir.manifest_path(import_dir).is_file():
    raise BadInput(f"--import {args.import_name}: no imported dataset at {import_dir} "
                   f"(run `xgen data import FILE --workdir {args.workdir} --name {args.import_name}` first)")
  return rundir.tfds_dir(import_dir), f"imported dataset {args.import_name}"


def cmd_grade(args: argparse.Namespace) -> int:
  from xgen.eval.offline_grade import ResponsesError, grade_file, mean_score, stored_scenarios, write_rows
  configure(args)
  responses = Path(args.responses)
  if not responses.is_file():
    raise BadInput(f"--responses {responses}: no such file")
  out = _check_out_file(args.out)
  data_dir, described = _scenario_data_dir(args)
  try:
    scenarios = stored_scenarios(data_dir)
  except (FileNotFoundError, ValueError) as error:  # a dataset without its TFDS files, an id stored twice
    raise rundir.DamagedFile(data_dir, str(error)) from None
  try:
    rows = grade_file(responses, scenarios)
  except ResponsesError as error:
    raise BadInput(str(error)) from None
  write_rows(out, rows)
  print(f"graded {len(rows)} lines of {responses} against the {described}: mean score {mean_score(rows):.4f}; "
        f"wrote {out}")
  return EXIT_OK


def add_grade(commands: argparse._SubParsersAction) -> None:
  grade = commands.add_parser("grade", help="score given replies (JSONL of {\"id\", \"responses\"}) by the rubrics "
                                            "of the world's scenarios, or of an imported dataset's; no model")
  grade.add_argument("--responses", required=True, metavar="FILE",
                     help="JSONL, one object a line: {\"id\": SCENARIO_ID, \"responses\": [one reply per stage]}")
  grade.add_argument("--out", required=True, metavar="FILE",
                     help="JSONL written at the end: each input line with score, criteria (text, points, met) "
                          "and guard added")
  grade.add_argument("--import", dest="import_name", metavar="NAME",
                     help="look the ids up in the dataset imported as NAME (`xgen data import --name NAME`) "
                          "instead of the world")
  add_common_flags(grade)
  grade.set_defaults(run=cmd_grade)
