"""Gin plumbing: load gin files and bindings, fail with one clear message, save what ran.

Gin files are looked up as given, then under the repository's ``gin/`` folder, so both
``--gin_file gin/world/default.gin`` and ``--gin_file world/default.gin`` work from anywhere.
"""

from __future__ import annotations

import logging
import re
import tokenize
from pathlib import Path
from typing import Sequence

import gin
from gin import resource_reader

from xgen.rundir.layout import excerpt, shorten

GIN_ROOT = Path(__file__).resolve().parent.parent / "gin"


class ConfigError(ValueError):
  """A gin file or binding that cannot be used; the message names the file or parameter."""


def _resolve(path: str) -> str:
  candidates = [Path(path), GIN_ROOT / path, GIN_ROOT.parent / path]
  for candidate in candidates:
    if candidate.is_file():
      return str(candidate)
  raise ConfigError(f"gin file not found: {path} (also looked in {GIN_ROOT})")


MAX_REASON = 300  # characters of gin's own message kept in ours (it may quote a huge value)


def _one_line(error: BaseException) -> str:
  if isinstance(error, tokenize.TokenError):  # gin's tokenizer reached the end inside brackets or a string
    return f"a bracket or quote is never closed ({error.args[0]})"
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  # gin appends "In file ..., line N" / "In bindings string line N" after the reason.
  return shorten(" ".join(lines) if lines else type(error).__name__, MAX_REASON)


def config_error_line(error: Exception, limit: int = 500) -> str:
  """A config dataclass's error as one short line, without the "In call to configurable ..." that gin
  appends when it builds the class."""
  return shorten(" ".join(str(error).split()).split(" In call to configurable")[0], limit)


_UNDEFINED_MACRO = re.compile(r"No bindings specified for '([^']+)/gin\.macro'")
_REQUIRED = re.compile(r"(\S+?)/(?:gin\.)?macro\.value set to `%gin\.REQUIRED`|(\S+) set to `%gin\.REQUIRED`")


def _declaration(files: Sequence[str], pattern: re.Pattern) -> str | None:
  """``file:line`` of the first line of ``files`` (comments aside) that ``pattern`` matches."""
  for path in files:
    for number, line in enumerate(Path(path).read_text(errors="replace").splitlines(), start=1):
      if pattern.search(line.split("#")[0]):
        return f"{path}:{number}"
  return None


def _required_problem(name: str, files: Sequence[str]) -> str:
  where = _declaration(files, re.compile(rf"^\s*{re.escape(name)}\s*=\s*%gin\.REQUIRED"))
  return (f"{where + ': ' if where else ''}{name} is required and not set (it is declared "
          f"'{name} = %gin.REQUIRED'); give it with --gin_param '{name} = ...'")


def _finalize_problem(error: ValueError, files: Sequence[str], gin_params: Sequence[str]) -> str:
  """One line for gin's check at ``finalize``: an undefined ``%MACRO`` names the binding or the file
  and line that uses it."""
  required = _REQUIRED.search(str(error))
  if required:
    return _required_problem(required.group(1) or required.group(2), files)
  match = _UNDEFINED_MACRO.search(str(error))
  if not match:
    return f"gin config: {_one_line(error)}"
  name = match.group(1)
  use = re.compile(rf"%{re.escape(name)}(?![\w.])")
  problem = f"undefined macro %{name} (no '{name} = ...' in the gin files or bindings)"
  for binding in gin_params:
    if use.search(binding):
      return f"--gin_param {excerpt(binding)}: {problem}"
  where = _declaration(files, use)
  return f"{where}: {problem}" if where else f"gin config: {problem}"


class _QuietIncludeLookup(logging.Filter):
  """gin logs an error for every search location an ``include`` is not found in before the one it
  is found in; a file that is truly missing still fails with its name."""

  def filter(self, record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Path not found:")


def _package_file_exists(config_path: str) -> bool:
  """gin's own check for an ``include`` given as a Python package path, minus its crash: a folder in the
  working directory named like the include's first part (``runs/``, which the quickstart creates) is
  importable as a namespace package without a file, and gin's check raises TypeError on it instead of
  answering "not here" and trying the next search location."""
  try:
    return resource_reader.system_path_file_exists(config_path)
  except TypeError:
    return False


def _use_safe_package_lookup() -> None:
  readers = gin.config._FILE_READERS  # noqa: SLF001  (gin registers readers but offers no way to replace one)
  for index, (reader, exists) in enumerate(readers):
    if exists is resource_reader.system_path_file_exists:
      readers[index] = (reader, _package_file_exists)


def load_config(gin_files: Sequence[str] = (), gin_params: Sequence[str] = ()) -> None:
  """Clears gin, then parses ``gin_files`` (in order) and ``gin_params`` (after them)."""
  gin.clear_config()
  files = [_resolve(path) for path in gin_files]
  if str(GIN_ROOT) not in gin.config._LOCATION_PREFIXES:  # noqa: SLF001  (gin has no public query)
    gin.add_config_file_search_path(str(GIN_ROOT))
  _use_safe_package_lookup()
  quiet = _QuietIncludeLookup()
  logging.getLogger().addFilter(quiet)
  try:
    _parse(files, gin_params)
  finally:
    logging.getLogger().removeFilter(quiet)
  try:
    gin.finalize()
  except ValueError as error:
    raise ConfigError(_finalize_problem(error, files, gin_params)) from None


# What gin raises for a file or binding it cannot use: unknown names (ValueError), bad syntax (SyntaxError,
# or TokenError for an unclosed bracket or string), an ``import`` of a missing module (ImportError), ...
_PARSE_ERRORS = (ValueError, SyntaxError, KeyError, TypeError, tokenize.TokenError, ImportError, RecursionError)


def _parse(files: Sequence[str], gin_params: Sequence[str]) -> None:
  for path in files:
    try:
      gin.parse_config_file(path)
    except _PARSE_ERRORS + (OSError,) as error:
      raise ConfigError(f"{path}: {_one_line(error)}") from None
  for binding in gin_params:
    try:
      gin.parse_config(binding)
    except _PARSE_ERRORS as error:
      raise ConfigError(f"--gin_param {excerpt(binding)}: {_one_line(error)}") from None


def bound_values(configurable: str) -> dict:
  """The values the loaded config binds for ``configurable``'s parameters (macros resolved)."""
  return dict(gin.get_bindings(configurable))


def operative_config() -> str:
  """The gin config actually used so far, to save beside an output."""
  return gin.operative_config_str()


COMPILATION_CACHE_ENV = "XGEN_COMPILATION_CACHE"


def enable_compilation_cache() -> str | None:
  """Keeps XLA's compiled programs on disk (``$XGEN_COMPILATION_CACHE``, default
  ``~/.cache/xgen/jax``; ``off`` disables it), so that every process after the first (each cell of
  a subprocess or Ray grid, a relaunch, the next command) loads them instead of compiling again.
  The programs are the same ones a fresh compile produces, so results do not change."""
  import os

  import jax
  setting = os.environ.get(COMPILATION_CACHE_ENV, str(Path.home() / ".cache" / "xgen" / "jax"))
  if setting.lower() == "off":
    return None
  jax.config.update("jax_compilation_cache_dir", setting)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return setting
