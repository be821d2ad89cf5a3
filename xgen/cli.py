"""The ``xgen`` command: parses flags, loads gin, calls one library function per subcommand.

Every subcommand takes ``--workdir``, repeatable ``--gin_file`` and repeatable ``--gin_param``.
Bad input (a flag, a gin file or binding, a data file) gets one line naming it and exit code 2;
a failure while working gets one line and exit code 1; success exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_BUSY = 75  # another process holds the lock of the work asked for (xgen.grid.executors reads it)


class BadInput(Exception):
  """Input the user must fix; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
  def error(self, message: str):  # One line instead of argparse's usage block.
    self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _progress(message: str) -> None:
  print(f"[xgen] {message}", file=sys.stderr, flush=True)


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
  import xgen.train.sft  # noqa: F401
  import xgen.world.config  # noqa: F401
  try:
    config.load_config(args.gin_file or list(default_files), args.gin_param)
  except config.ConfigError as error:
    raise BadInput(str(error)) from None


def _build(config_class):
  """A gin-bound config dataclass; a bad value becomes one line naming the field."""
  try:
    return config_class()
  except ValueError as error:
    message = " ".join(str(error).split())
    raise BadInput(message.split(" In call to configurable")[0]) from None


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
  print(f"built the world in {time.perf_counter() - started:.1f} s: {Path(args.workdir) / 'world'}")
  print(f"seed {manifest['seed']}; domains: {titles}")
  print(f"records: {counts}")
  print(f"sha256 {manifest['world_sha256']}")
  return EXIT_OK


def cmd_world_stats(args: argparse.Namespace) -> int:
  from xgen.data.tokenizer import Tokenizer
  from xgen.world.build import read_manifest, world_dir
  from xgen.world.stats import format_stats, world_stats
  _configure(args)
  try:
    manifest = read_manifest(args.workdir)
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None
  vocab = Tokenizer.load(world_dir(args.workdir) / "tokenizer.model").vocab_size
  print(f"world {world_dir(args.workdir)} (seed {manifest['seed']}, sha256 {manifest['world_sha256'][:16]})")
  print(format_stats(world_stats(args.workdir), vocab_size=vocab))
  return EXIT_OK


def cmd_pretrain(args: argparse.Namespace) -> int:
  from xgen import config
  from xgen.models.config import ModelConfig
  from xgen.train.pretrain import pretrain
  from xgen.train.sft import SFTConfig, TrainingDiverged
  _configure(args, ["runs/pretrain.gin"])
  model_config, sft_config = _build(ModelConfig), _build(SFTConfig)
  try:
    status = pretrain(args.workdir, model_config, sft_config, operative_config=config.operative_config())
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None
  except TrainingDiverged as error:
    print(f"xgen pretrain: diverged: {error}; see {Path(args.workdir) / 'base' / 'status.json'}", file=sys.stderr)
    return EXIT_FAILED
  print(f"pretrained {Path(args.workdir) / 'base'}: {status['state']} at step {status['step']}"
        + (f" ({status['epochs']} epochs of the corpus)" if "epochs" in status else ""))
  if args.probes:
    from xgen.eval.base_report import base_behaviour
    _progress(f"probing the base model ({args.probes} probes per kind and domain)")
    print(base_behaviour(args.workdir, model_config, per_kind=args.probes))
    print(f"written to {Path(args.workdir) / 'base' / 'behaviour.json'}")
  return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
  from xgen import config
  from xgen.models.config import ModelConfig
  from xgen.rl.config import LossConfig, MixtureConfig, RLConfig
  from xgen.rl.trainer import cell_dir, train_cell
  from xgen.train.locks import Busy
  from xgen.train.sft import TrainingDiverged
  _configure(args, ["runs/rl.gin"])
  rl, mixture, loss = _build(RLConfig), _build(MixtureConfig), _build(LossConfig)
  cell = args.cell or f"{mixture.label()}.s{rl.seed}"
  if not cell.replace("-", "").replace("_", "").replace(".", "").replace("+", "").isalnum():
    raise BadInput(f"--cell {cell!r}: use letters, digits and - _ . + only")
  labels = {"condition": args.condition or mixture.label(), "seed": rl.seed}
  try:
    status = train_cell(args.workdir, cell, rl, mixture, loss, labels=labels, model_config=_build(ModelConfig),
                        operative_config=config.operative_config())
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None
  except ValueError as error:
    raise BadInput(" ".join(str(error).split())) from None
  except TrainingDiverged as error:
    print(f"xgen train: diverged: {error}; see {cell_dir(args.workdir, cell) / 'status.json'}", file=sys.stderr)
    return EXIT_FAILED
  except Busy as error:
    print(f"xgen train: {error}", file=sys.stderr)
    return EXIT_BUSY
  print(f"trained {cell_dir(args.workdir, cell)}: {status['state']} at step {status['step']}")
  return EXIT_OK


def _study_configs(args: argparse.Namespace, default_files: Sequence[str]):
  from xgen import config
  from xgen.eval.crosseval import EvalConfig
  from xgen.grid.launch import StudyConfigs
  from xgen.grid.study import StudyConfig
  from xgen.models.config import ModelConfig
  from xgen.train.sft import SFTConfig
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
  failed = sorted(cell for cell, state in result.outcomes.items() if state != "done")
  if result.report is not None:
    matrix = Path(args.workdir) / "analysis" / "matrix.md"
    if matrix.exists():
      print(matrix.read_text())
    print(f"report: {result.report}")
  if failed:
    print(f"cells not done: {', '.join(failed)} (see `xgen grid status --workdir {args.workdir}`)", file=sys.stderr)
    return EXIT_FAILED
  return EXIT_OK if result.report is not None else EXIT_FAILED


def cmd_grid_launch(args: argparse.Namespace) -> int:
  if args.parallel < 1:
    raise BadInput(f"--parallel {args.parallel}: must be at least 1")
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
  if not (Path(args.workdir) / "world" / "manifest.json").exists():
    raise BadInput(f"no world in {Path(args.workdir) / 'world'}")
  try:
    model_config = saved_model_config(Path(args.workdir) / "base") or _build(ModelConfig)
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None
  refs = cross_evaluate(args.workdir, model_config, eval_config, cells=args.cell or None, announce=_progress)
  print(f"evaluated {len(refs)} checkpoints into {Path(args.workdir) / 'eval'}")
  return EXIT_OK


def _analysis(args: argparse.Namespace):
  from xgen.grid.study import StudyConfig
  from xgen.report.study import analyse
  study_gin = Path(args.workdir) / "study.gin"
  if not args.gin_file and study_gin.exists():
    args.gin_file = [str(study_gin)]
  _configure(args)
  study = _build(StudyConfig)
  try:
    return analyse(args.workdir, baseline=study.baseline, alpha=study.alpha, n_resamples=study.bootstrap_resamples,
                   seed=study.analysis_seed), study
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None


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
  from xgen.report.study import write_analysis, write_study_report
  analysis, study = _analysis(args)
  write_analysis(args.workdir, analysis)
  print(f"report: {write_study_report(args.workdir, analysis, title=f'xgen study {study.name!r}')}")
  return EXIT_OK


def cmd_data_import(args: argparse.Namespace) -> int:
  from xgen.data.jsonl_import import import_jsonl
  _configure(args)
  path = Path(args.file)
  if not path.is_file():
    raise BadInput(f"no such file: {path}")
  name = args.name or path.stem
  out_dir = Path(args.workdir) / "imports" / name
  try:
    summary = import_jsonl(path, out_dir)
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
  pretrain.add_argument("--probes", type=int, default=20, metavar="N",
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
  grid_launch.add_argument("--parallel", type=int, default=1, metavar="N",
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


def main(argv: Sequence[str] | None = None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  run: Callable[[argparse.Namespace], int] = args.run
  from xgen.config import enable_compilation_cache
  enable_compilation_cache()
  prog = f"xgen {args.command}" + (f" {args.subcommand}" if getattr(args, "subcommand", None) else "")
  try:
    return run(args)
  except BadInput as error:
    print(f"{prog}: error: {error}", file=sys.stderr)
    return EXIT_BAD_INPUT
  except KeyboardInterrupt:
    print(f"{prog}: interrupted; nothing half-written was left behind", file=sys.stderr)
    return 130


if __name__ == "__main__":
  sys.exit(main())
