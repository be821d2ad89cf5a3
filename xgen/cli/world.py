"""``xgen world build``, ``xgen world stats`` and ``xgen world export``: the embedded scenario world."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from xgen import rundir
from xgen.cli.common import (EXIT_OK, BadInput, write_problem, add_common_flags, add_subcommands, build_config,
                             configure, progress)


def cmd_world_build(args: argparse.Namespace) -> int:
  from xgen import config
  from xgen.world.build import build_world
  from xgen.world.config import WorldConfig
  from xgen.world.domains import get_domain
  configure(args, ["world/default.gin"])
  world_config = build_config(WorldConfig)
  started = time.perf_counter()
  manifest = build_world(world_config, args.workdir, operative_config=config.operative_config(), progress=progress)
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
  configure(args)
  try:
    world = open_world(args.workdir)
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None
  print(f"world {world.directory} (seed {world.manifest['seed']}, sha256 {world.sha256[:16]})")
  print(format_stats(world_stats(args.workdir), vocab_size=world.tokenizer().vocab_size))
  return EXIT_OK


def _check_out_dir(out: str) -> Path:
  """``--out`` of ``world export``: a directory, or a path that can become one, where files can be written."""
  path = Path(out)
  existing = next(p for p in (path, *path.parents) if p.exists())  # "." and "/" always exist
  if not existing.is_dir():
    where = "is a file" if existing == path else f"is inside {existing}, which is a file"
    raise BadInput(f"--out {out}: {where}, not a directory")
  problem = write_problem(existing)
  if problem:
    raise BadInput(f"--out {out}: cannot write in {existing} ({problem})")
  return path


def cmd_world_export(args: argparse.Namespace) -> int:
  from xgen.data.jsonl_export import split_file, write_splits
  from xgen.data.tfds_store import list_splits
  from xgen.world.store import open_world
  configure(args)
  out_dir = _check_out_dir(args.out)
  try:
    world = open_world(args.workdir)
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None
  splits = list_splits(rundir.tfds_dir(world.directory))
  counts = {}
  for split in splits:
    progress(f"exporting {split} to {split_file(out_dir, split)}")
    counts.update(write_splits(out_dir, {split: world.scenarios(split)}))
  listed = ", ".join(f"{split} {n}" for split, n in counts.items())
  print(f"exported {sum(counts.values())} scenarios of world {world.sha256[:16]} to {out_dir}: {listed}")
  return EXIT_OK


def add_world(commands: argparse._SubParsersAction) -> None:
  world = commands.add_parser("world", help="the embedded scenario world")
  world_commands = add_subcommands(world)
  build = world_commands.add_parser("build", help="generate the world and write WORKDIR/world/ "
                                                  "(defaults to --gin_file world/default.gin)")
  add_common_flags(build)
  build.set_defaults(run=cmd_world_build)
  stats = world_commands.add_parser("stats", help="counts per source x split x domain x category, mean tokens")
  add_common_flags(stats)
  stats.set_defaults(run=cmd_world_stats)
  export = world_commands.add_parser("export", help="every split of the world as DIR/<split>.jsonl, one scenario "
                                                    "a line in the schema `xgen data import` reads")
  export.add_argument("--out", required=True, metavar="DIR", help="the folder to write the .jsonl files into "
                                                                  "(created if needed; same-named files replaced)")
  add_common_flags(export)
  export.set_defaults(run=cmd_world_export)
