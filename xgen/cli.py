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
  print(f"trained {cell_dir(args.workdir, cell)}: {status['state']} at step {status['step']}")
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
