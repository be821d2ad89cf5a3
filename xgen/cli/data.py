"""``xgen data import``: a user's scenarios (xgen JSONL, or a public benchmark's format), validated and written
as a dataset of the run directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from xgen import rundir
from xgen.cli.common import EXIT_OK, BadInput, add_common_flags, add_subcommands, configure

FORMATS = ("xgen", "healthbench", "mc", "mask")  # xgen.data.formats.FORMATS, spelled here so --help imports nothing


def _name_and_domain(args: argparse.Namespace, path: Path) -> tuple[str, str]:
  """The dataset's name (``--name``, default the file's stem) and its suites' domain (``--domain``, default the
  name; only for the adapted formats)."""
  from xgen.data.formats import check_domain
  given = args.name is not None
  name = rundir.check_name(args.name if given else path.stem,
                           "--name" if given else "--name (default: the file's stem)")
  if args.format == "xgen":
    if args.domain is not None:
      raise ValueError(f"--domain: applies to --format {', '.join(FORMATS[1:])} (an xgen record names its own domain)")
    return name, ""
  return name, check_domain(args.domain if args.domain is not None else name,
                            "--domain" if args.domain is not None else "--domain (default: the dataset's name)")


def cmd_data_import(args: argparse.Namespace) -> int:
  from xgen.data.formats import import_file, suite_names
  from xgen.graders.rubric import check_rubric
  from xgen.rundir import locks
  configure(args)
  path = Path(args.file)
  if not path.is_file():
    raise BadInput(f"no such file: {path}")
  try:
    name, domain = _name_and_domain(args, path)
    out_dir = rundir.import_dir(args.workdir, name)
  except ValueError as error:
    raise BadInput(str(error)) from None
  earlier = _earlier_import(args.workdir, name)
  try:  # the name's lock: a second import of the same name at once gets Busy (exit 75), not a race
    summary = import_file(path, out_dir, format=args.format, name=name, domain=domain, check=check_rubric,
                          lock=locks.held(args.workdir, locks.import_lock(name)))
  except (ValueError, FileExistsError) as error:  # SchemaError is a ValueError and names file:line
    raise BadInput(str(error)) from None
  splits = ", ".join(f"{split} {n}" for split, n in sorted(summary.splits.items()))
  suites = f"; eval suites {', '.join(suite_names(args.format, domain))}" if domain else ""
  print(f"imported {summary.num_records} records from {path} into {out_dir}: {splits}{suites}")
  if earlier is not None and earlier[0] != summary.sha256:
    stale = [f for suite in earlier[1] for f in rundir.suite_eval_files(args.workdir, suite)]
    for file in stale:
      file.unlink(missing_ok=True)
    if stale:
      print(f"removed {len(stale)} eval files of the earlier {name} ({', '.join(earlier[1])}): they were graded "
            f"against its items, and the next `xgen eval` grades the new ones")
  return EXIT_OK


def _earlier_import(workdir: str, name: str) -> tuple[str, list[str]] | None:
  """(input sha256, eval suite names) of an import already under ``name``, or None."""
  from xgen.eval.suites import SuiteError, import_suites
  try:
    manifest = rundir.read_json(rundir.manifest_path(rundir.import_dir(workdir, name)))
  except rundir.DamagedFile:
    return None
  source = manifest.get("input") if isinstance(manifest, dict) else None
  if not isinstance(source, dict) or not isinstance(source.get("sha256"), str):
    return None
  try:
    suites = sorted(import_suites(workdir, name))
  except SuiteError:  # an import without eval records
    suites = []
  return source["sha256"], suites


def add_data(commands: argparse._SubParsersAction) -> None:
  data = commands.add_parser("data", help="user data in the scenario schema")
  data_commands = add_subcommands(data)
  imp = data_commands.add_parser("import", help="validate a JSONL file of scenarios and write it as a dataset "
                                                "under WORKDIR/imports/NAME/")
  imp.add_argument("file", help="a JSONL file, one scenario (or one benchmark item) per line")
  imp.add_argument("--format", choices=FORMATS, default="xgen",
                   help="xgen: the scenario schema (default); healthbench: HealthBench's rubric JSONL (criteria "
                        "graded by a judge model); mc: multiple choice in Anthropic's model-written-evals shape")
  imp.add_argument("--name", help="the dataset's name (default: the file's stem)")
  imp.add_argument("--domain", help="healthbench and mc only: the domain of the imported eval suite "
                                    "<format>.<domain> (default: the dataset's name)")
  add_common_flags(imp)
  imp.set_defaults(run=cmd_data_import)
