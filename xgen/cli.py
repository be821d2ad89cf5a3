"""The ``xgen`` command: parses flags, loads gin, calls one library function per subcommand.

Every subcommand takes ``--workdir``, repeatable ``--gin_file`` and repeatable ``--gin_param``.
Bad input (a flag, a gin file or binding, a data file) gets one line naming it and exit code 2;
a failure while working gets one line and exit code 1; success exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

from xgen import rundir
from xgen.config import config_error_line
from xgen.grid.executors import EXIT_BUSY

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
  """Input the user must fix; printed as one line, exit code 2."""


class Failed(Exception):
  """Work that could not be done for a reason stated in one line; exit code 1."""


class _Parser(argparse.ArgumentParser):
  def error(self, message: str):  # One line instead of argparse's usage block.
    self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _progress(message: str) -> None:
  print(f"[xgen] {message}", file=sys.stderr, flush=True)


def _at_least(minimum: int) -> Callable[[str], int]:
  """An argparse ``type``: an integer >= ``minimum``, or argparse's one-line error naming the flag."""

  def parse(text: str) -> int:
    try:
      value = int(text)
    except ValueError:
      raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {rundir.excerpt(text)}") from None
    if value < minimum:
      raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
    return value

  return parse


def _write_problem(directory: Path) -> str | None:
  """Why nothing can be written in ``directory``, or None. ``os.access`` alone is not enough (root
  passes it whatever the mode, and a read-only mount only fails on write), so a probe file is
  created and removed too."""
  if not os.access(directory, os.W_OK | os.X_OK):
    return "no permission to write there"
  try:
    descriptor, probe = tempfile.mkstemp(prefix=".xgen-write-probe-", dir=directory)
  except OSError as error:
    return error.strerror or type(error).__name__
  os.close(descriptor)
  os.unlink(probe)
  return None


def _check_workdir(workdir: str, *, write: bool) -> None:
  """``--workdir`` is a directory or can become one, and (for commands that write) a writable one."""
  path = Path(workdir)
  existing = next(p for p in (path, *path.parents) if p.exists())  # "." and "/" always exist
  if not existing.is_dir():
    where = "is a file" if existing == path else f"is inside {existing}, which is a file"
    raise BadInput(f"--workdir {workdir}: {where}, not a directory")
  problem = _write_problem(existing) if write else None
  if problem:
    raise BadInput(f"--workdir {workdir}: cannot write in {existing} ({problem})")


def _add_common(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--workdir", required=True, help="the run directory (see DESIGN: world/, base/, cells/, ...)")
  parser.add_argument("--gin_file", action="append", default=[], metavar="FILE",
                      help="a gin file (repeatable; later files override earlier ones); "
                           "looked up as given, then under the repository's gin/ folder")
  parser.add_argument("--gin_param", action="append", default=[], metavar="BINDING",
                      help="a gin binding such as 'WorldConfig.seed = 3' (repeatable; applied after the files)")


def _configure(args: argparse.Namespace, default_files: Sequence[str] = ()) -> None:
  from xgen import config
  import xgen.models.config  # noqa: F401  (these imports register the configurables with gin)
  import xgen.rl.config  # noqa: F401
  import xgen.eval.crosseval  # noqa: F401
  import xgen.grid.study  # noqa: F401
  import xgen.train.config  # noqa: F401
  import xgen.world.config  # noqa: F401
  try:
    config.load_config(args.gin_file or list(default_files), args.gin_param)
  except config.ConfigError as error:
    raise BadInput(str(error)) from None


def _build(config_class):
  """A gin-bound config dataclass; a bad value becomes one line naming the field."""
  try:
    return config_class()
  except (ValueError, TypeError) as error:  # TypeError: e.g. a required field gin does not bind
    raise BadInput(config_error_line(error)) from None


def cmd_world_build(args: argparse.Namespace) -> int:
  from xgen import config
  from xgen.world.build import build_world
  from xgen.world.config import WorldConfig
  from xgen.world.domains import get_domain
  _configure(args, ["world/default.gin"])
  world_config = _build(WorldConfig)
  started = time.perf_counter()
  manifest = build_world(world_config, args.workdir, operative_config=config.operative_config(), progress=_progress)
  counts = ", ".join(f"{name} {n}" for name, n in manifest["counts"].items())
  titles = ", ".join(get_domain(d).title for d in manifest["domains"])
  print(f"built the world in {time.perf_counter() - started:.1f} s: {rundir.world_dir(args.workdir)}")
  print(f"seed {manifest['seed']}; domains: {titles}")
  print(f"records: {counts}")
  print(f"sha256 {manifest['world_sha256']}")
  return EXIT_OK


def cmd_world_stats(args: argparse.Namespace) -> int:
  from xgen.world.stats import format_stats, world_stats
  from xgen.world.store import open_world
  _configure(args)
  try:
    world = open_world(args.workdir)
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None
  print(f"world {world.directory} (seed {world.manifest['seed']}, sha256 {world.sha256[:16]})")
  print(format_stats(world_stats(args.workdir), vocab_size=world.tokenizer().vocab_size))
  return EXIT_OK


def cmd_pretrain(args: argparse.Namespace) -> int:
  from xgen import config
  from xgen.models.config import ModelConfig
  from xgen.train.pretrain import pretrain
  from xgen.train.config import SFTConfig
  from xgen.train.lifecycle import TrainingDiverged
  _configure(args, ["runs/pretrain.gin"])
  model_config, sft_config = _build(ModelConfig), _build(SFTConfig)
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
    _progress(f"probing the base model ({args.probes} probes per kind and domain)")
    print(base_behaviour(args.workdir, model_config, per_kind=args.probes))
    print(f"written to {rundir.behaviour_path(args.workdir)}")
  return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
  from xgen import config
  from xgen.models.config import ModelConfig
  from xgen.rl.config import LossConfig, MixtureConfig, RLConfig
  from xgen.rl.trainer import train_cell
  from xgen.rundir import cell_dir
  from xgen.train.lifecycle import TrainingDiverged
  _configure(args, ["runs/rl.gin"])
  rl, mixture, loss = _build(RLConfig), _build(MixtureConfig), _build(LossConfig)
  try:
    cell = rundir.check_name(args.cell or f"{mixture.label()}.s{rl.seed}", "--cell")
  except ValueError as error:
    raise BadInput(str(error)) from None
  labels = {"condition": args.condition or mixture.label(), "seed": rl.seed}
  try:
    status = train_cell(args.workdir, cell, rl, mixture, loss, labels=labels, model_config=_build(ModelConfig),
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


def _study_configs(args: argparse.Namespace, default_files: Sequence[str]):
  from xgen import config
  from xgen.eval.crosseval import EvalConfig
  from xgen.grid.launch import StudyConfigs
  from xgen.grid.study import StudyConfig
  from xgen.models.config import ModelConfig
  from xgen.train.config import SFTConfig
  from xgen.world.config import WorldConfig
  _configure(args, default_files)
  built = [_build(c) for c in (StudyConfig, WorldConfig, ModelConfig, SFTConfig, EvalConfig)]
  return StudyConfigs(*built, operative_config=config.operative_config())


def _launch(args: argparse.Namespace, configs) -> int:
  from xgen.grid.launch import launch
  try:
    result = launch(args.workdir, configs, executor=args.executor, parallel=args.parallel,
                    retry_failed=args.retry_failed, ray_address=args.ray_address, say=_progress)
  except ValueError as error:  # a study that names an unknown domain or condition
    raise BadInput(" ".join(str(error).split())) from None
  failed = sorted(cell for cell, state in result.outcomes.items() if state != rundir.DONE)
  if result.report is not None:
    from xgen.report.exports import file_name
    matrix = rundir.analysis_dir(args.workdir) / file_name("domain", "md")
    if matrix.exists():
      print(matrix.read_text())
    print(f"report: {result.report}")
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


def cmd_grid_status(args: argparse.Namespace) -> int:
  from xgen.grid.status import status_table
  _configure(args)
  print(status_table(args.workdir))
  return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
  from xgen.eval.crosseval import EvalConfig, cross_evaluate
  from xgen.models.config import ModelConfig
  from xgen.train.sft import saved_model_config
  _configure(args)
  eval_config = _build(EvalConfig)
  if not rundir.manifest_path(rundir.world_dir(args.workdir)).exists():
    raise BadInput(f"no world in {rundir.world_dir(args.workdir)}")
  try:
    model_config = saved_model_config(rundir.base_dir(args.workdir)) or _build(ModelConfig)
  except (FileNotFoundError, ValueError) as error:  # ValueError: the base's recorded ModelConfig does not check
    raise BadInput(config_error_line(error)) from None
  summary = cross_evaluate(args.workdir, model_config, eval_config, cells=args.cell or None, announce=_progress)
  print(f"evaluated {len(summary.checkpoints)} checkpoints ({summary.evaluated} checkpoint x suite pairs written) "
        f"into {rundir.eval_dir(args.workdir)}")
  for checkpoint, reason in sorted(summary.damaged.items()):
    print(f"xgen eval: not evaluated: {checkpoint}: {reason}", file=sys.stderr)
  return EXIT_OK if summary.ok else EXIT_FAILED


def _launched_study(args: argparse.Namespace):
  """The study's settings: from explicit --gin_file, else from the workdir's study.json (plain data that
  `xgen grid launch` wrote) with any StudyConfig --gin_param on top. The workdir's study.gin is a record
  and is never parsed unasked: a gin file can import Python modules, and a workdir may come from anyone."""
  from xgen import config
  from xgen.grid.study import StudyConfig, study_from_record
  _configure(args)
  if args.gin_file:
    return _build(StudyConfig)
  path = rundir.study_json_path(args.workdir)
  try:
    record = rundir.read_json(path)
  except rundir.DamagedFile as error:
    raise BadInput(str(error)) from None
  if record is None:
    if rundir.study_gin_path(args.workdir).exists():
      raise BadInput(f"no {path} (the study was launched by an older xgen); if you trust "
                     f"{rundir.study_gin_path(args.workdir)}, pass it with --gin_file")
    return _build(StudyConfig)
  try:
    return study_from_record(record, str(path), **config.bound_values("StudyConfig"))
  except ValueError as error:
    raise BadInput(config_error_line(error)) from None


def _analysis(args: argparse.Namespace):
  from xgen.report.study import analyse
  study = _launched_study(args)
  try:
    return analyse(args.workdir, baseline=study.baseline, alpha=study.alpha, n_resamples=study.bootstrap_resamples,
                   seed=study.analysis_seed), study
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None
  except ValueError as error:  # a malformed eval row, named by file and line
    raise Failed(str(error)) from None


def cmd_matrix(args: argparse.Namespace) -> int:
  from xgen.report.exports import matrix_csv, matrix_json, matrix_latex, matrix_markdown
  from xgen.report.study import write_analysis
  analysis, _ = _analysis(args)
  matrix = analysis.matrices[args.view]
  if args.format == "png":
    paths = write_analysis(args.workdir, analysis, formats=("png",))
    print("\n".join(str(p) for p in paths if p.suffix == ".png"))
    return EXIT_OK
  render = {"csv": matrix_csv, "json": lambda m: matrix_json(m, analysis.deltas), "md": matrix_markdown,
            "latex": matrix_latex}[args.format]
  print(render(matrix))
  return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
  from xgen.report.study import write_study_report
  analysis, study = _analysis(args)
  print(f"report: {write_study_report(args.workdir, analysis, title=f'xgen study {study.name!r}')}")
  return EXIT_OK


def cmd_data_import(args: argparse.Namespace) -> int:
  from xgen.data.jsonl_import import import_jsonl
  from xgen.graders.rubric import check_rubric
  _configure(args)
  path = Path(args.file)
  if not path.is_file():
    raise BadInput(f"no such file: {path}")
  try:
    given = args.name is not None
    out_dir = rundir.import_dir(args.workdir, rundir.check_name(
        args.name if given else path.stem, "--name" if given else "--name (default: the file's stem)"))
  except ValueError as error:
    raise BadInput(str(error)) from None
  try:
    summary = import_jsonl(path, out_dir, check=check_rubric)
  except (ValueError, FileExistsError) as error:  # SchemaError is a ValueError and names file:line
    raise BadInput(str(error)) from None
  splits = ", ".join(f"{split} {n}" for split, n in sorted(summary.splits.items()))
  print(f"imported {summary.num_records} records from {path} into {out_dir}: {splits}")
  return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(prog="xgen", description="Cross-domain generalization experiments on RL post-training of "
                                            "language models.")
  commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
  commands.required = True

  world = commands.add_parser("world", help="the embedded scenario world")
  world_commands = world.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", parser_class=_Parser)
  world_commands.required = True
  build = world_commands.add_parser("build", help="generate the world and write WORKDIR/world/ "
                                                  "(defaults to --gin_file world/default.gin)")
  _add_common(build)
  build.set_defaults(run=cmd_world_build)
  stats = world_commands.add_parser("stats", help="counts per source x split x domain x category, mean tokens")
  _add_common(stats)
  stats.set_defaults(run=cmd_world_stats)

  pretrain = commands.add_parser("pretrain", help="train the base model on WORKDIR/world's pretraining corpus "
                                                   "into WORKDIR/base/ (defaults to --gin_file runs/pretrain.gin); "
                                                   "resumes from the newest checkpoint")
  _add_common(pretrain)
  pretrain.add_argument("--probes", type=_at_least(0), default=20, metavar="N",
                        help="after training, probe fact recall and each bad habit with N conversations per domain "
                             "(0 to skip); written to WORKDIR/base/behaviour.json")
  pretrain.set_defaults(run=cmd_pretrain)

  train = commands.add_parser("train", help="train one RL cell from WORKDIR/base into WORKDIR/cells/CELL/ "
                                             "(defaults to --gin_file runs/rl.gin); resumes from the newest checkpoint")
  _add_common(train)
  train.add_argument("--cell", help="the cell's name (default: from the mixture and seed, e.g. trait5.s0)")
  train.add_argument("--condition", help="the study condition the cell belongs to (default: from the mixture)")
  train.set_defaults(run=cmd_train)

  evaluate = commands.add_parser("eval", help="evaluate the base and every finished cell on every eval suite into "
                                              "WORKDIR/eval/ (pairs already evaluated are skipped)")
  _add_common(evaluate)
  evaluate.add_argument("--cell", action="append", help="only this cell (repeatable)")
  evaluate.set_defaults(run=cmd_eval)

  grid = commands.add_parser("grid", help="ablation grids: a study of many cells")
  grid_commands = grid.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", parser_class=_Parser)
  grid_commands.required = True
  grid_launch = grid_commands.add_parser("launch", help="world, base, every cell, cross-evaluation and the "
                                                        "analysis of a study (defaults to studies/default.gin); "
                                                        "launching again resumes")
  _add_common(grid_launch)
  grid_launch.add_argument("--executor", choices=("inprocess", "subprocess", "ray"), default="inprocess")
  grid_launch.add_argument("--parallel", type=_at_least(1), default=1, metavar="N",
                           help="train N cells at once in subprocesses")
  grid_launch.add_argument("--retry_failed", action="store_true", help="train failed or diverged cells again")
  grid_launch.add_argument("--ray_address", help="a Ray cluster to join (default: start a local one)")
  grid_launch.set_defaults(run=cmd_grid_launch)
  grid_status = grid_commands.add_parser("status", help="a table of the cells and their states")
  _add_common(grid_status)
  grid_status.set_defaults(run=cmd_grid_status)

  matrix = commands.add_parser("matrix", help="the transfer matrix of an evaluated run directory")
  _add_common(matrix)
  matrix.add_argument("--format", choices=("csv", "json", "md", "latex", "png"), default="md")
  matrix.add_argument("--view", choices=("domain", "family"), default="domain",
                      help="columns are eval domains or eval families")
  matrix.set_defaults(run=cmd_matrix)
  report = commands.add_parser("report", help="write WORKDIR/analysis/ and the HTML report")
  _add_common(report)
  report.set_defaults(run=cmd_report)

  quickstart = commands.add_parser("quickstart", help="the reduced default study end to end "
                                                      "(studies/quickstart.gin): about 5 minutes on 2 CPU cores")
  _add_common(quickstart)
  quickstart.set_defaults(run=cmd_quickstart)

  data = commands.add_parser("data", help="user data in the scenario schema")
  data_commands = data.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", parser_class=_Parser)
  data_commands.required = True
  imp = data_commands.add_parser("import", help="validate a JSONL file of scenarios and write it as a dataset "
                                                "under WORKDIR/imports/NAME/")
  imp.add_argument("file", help="a JSONL file, one scenario per line")
  imp.add_argument("--name", help="the dataset's name (default: the file's stem)")
  _add_common(imp)
  imp.set_defaults(run=cmd_data_import)
  return parser


def _writes(args: argparse.Namespace) -> bool:
  """Whether the command writes into --workdir (all but the ones that only read it)."""
  return args.run not in (cmd_world_stats, cmd_grid_status, cmd_matrix) or getattr(args, "format", None) == "png"


class _NoStorageTracebacks:
  """Orbax logs each failed background write with a traceback before the failure reaches the command,
  which then reports it in one line (a read-only file system, a full disk): keep only that line."""

  def filter(self, record) -> bool:
    from_orbax = "orbax" in record.pathname or str(record.msg).startswith("[process=")
    return not (from_orbax and record.levelno >= 40)


def main(argv: Sequence[str] | None = None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  run: Callable[[argparse.Namespace], int] = args.run
  from xgen.config import enable_compilation_cache
  enable_compilation_cache()
  import logging
  logging.getLogger("absl").addFilter(_NoStorageTracebacks())
  prog = f"xgen {args.command}" + (f" {args.subcommand}" if getattr(args, "subcommand", None) else "")
  from xgen.rundir.locks import Busy
  try:
    _check_workdir(args.workdir, write=_writes(args))
    return run(args)
  except BadInput as error:
    print(f"{prog}: error: {error}", file=sys.stderr)
    return EXIT_BAD_INPUT
  except Busy as error:
    print(f"{prog}: {error}", file=sys.stderr)
    return EXIT_BUSY
  except Failed as error:
    print(f"{prog}: error: {error}", file=sys.stderr)
    return EXIT_FAILED
  except rundir.DamagedFile as error:
    print(f"{prog}: damaged file: {error}", file=sys.stderr)
    return EXIT_FAILED
  except OSError as error:  # a failing write (read-only file system, disk full): one line, never a traceback
    print(f"{prog}: error: {error}", file=sys.stderr)
    _STORAGE_FAILED.append(error)
    return EXIT_FAILED
  except KeyboardInterrupt:
    print(f"{prog}: interrupted; nothing half-written was left behind", file=sys.stderr)
    return 130


_STORAGE_FAILED: list[OSError] = []


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


if __name__ == "__main__":
  console()
