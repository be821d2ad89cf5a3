"""What every ``xgen`` command shares: the exit codes and the two exceptions that map to them, the
one-line parser, ``--workdir``/``--gin_file``/``--gin_param`` and their checks, building gin-bound
configs, progress lines, and the one place where an exception becomes a line and an exit code."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
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


def progress(message: str) -> None:
  print(f"[xgen] {message}", file=sys.stderr, flush=True)


def at_least(minimum: int) -> Callable[[str], int]:
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


def add_subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
  """The required SUBCOMMAND level under a command group such as ``xgen world``."""
  subcommands = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", parser_class=_Parser)
  subcommands.required = True
  return subcommands


def write_problem(directory: Path) -> str | None:
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
  problem = write_problem(existing) if write else None
  if problem:
    raise BadInput(f"--workdir {workdir}: cannot write in {existing} ({problem})")


def add_common_flags(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--workdir", required=True, help="the run directory (see DESIGN: world/, base/, cells/, ...)")
  parser.add_argument("--gin_file", action="append", default=[], metavar="FILE",
                      help="a gin file (repeatable; later files override earlier ones); "
                           "looked up as given, then under the repository's gin/ folder")
  parser.add_argument("--gin_param", action="append", default=[], metavar="BINDING",
                      help="a gin binding such as 'WorldConfig.seed = 3' (repeatable; applied after the files)")


# Importing these modules registers their configurables with gin.
_CONFIGURABLES = ("xgen.models.config", "xgen.rl.config", "xgen.eval.crosseval", "xgen.eval.judges",
                  "xgen.grid.study", "xgen.train.config", "xgen.train.attack", "xgen.world.config")


def configure(args: argparse.Namespace, default_files: Sequence[str] = ()) -> None:
  from xgen import config
  for module in _CONFIGURABLES:
    importlib.import_module(module)
  try:
    config.load_config(args.gin_file or list(default_files), args.gin_param)
  except config.ConfigError as error:
    raise BadInput(str(error)) from None


def build_config(config_class):
  """A gin-bound config dataclass; a bad value becomes one line naming the field."""
  try:
    return config_class()
  except (ValueError, TypeError) as error:  # TypeError: e.g. a required field gin does not bind
    raise BadInput(config_error_line(error)) from None


# --- ending a command: one line and an exit code ----------------------------------------------------


class _NoStorageTracebacks:
  """Orbax logs each failed background write with a traceback before the failure reaches the command,
  which then reports it in one line (a read-only file system, a full disk): keep only that line."""

  def filter(self, record) -> bool:
    from_orbax = "orbax" in record.pathname or str(record.msg).startswith("[process=")
    return not (from_orbax and record.levelno >= 40)


_STORAGE_FAILED: list[OSError] = []


def run_guarded(prog: str, run: Callable[[argparse.Namespace], int], args: argparse.Namespace, *,
                 write: bool) -> int:
  """Checks ``--workdir`` and runs the command; whatever ends it becomes one line on stderr and the
  exit code: 2 bad input, 75 busy (another process holds the lock), 1 failed, 130 interrupted."""
  from xgen.rundir.locks import Busy
  try:
    _check_workdir(args.workdir, write=write)
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
