"""Gin plumbing: load gin files and bindings, fail with one clear message, save what ran.

Gin files are looked up as given, then under the repository's ``gin/`` folder, so both
``--gin_file gin/world/default.gin`` and ``--gin_file world/default.gin`` work from anywhere.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import gin

GIN_ROOT = Path(__file__).resolve().parent.parent / "gin"


class ConfigError(ValueError):
  """A gin file or binding that cannot be used; the message names the file or parameter."""


def _resolve(path: str) -> str:
  candidates = [Path(path), GIN_ROOT / path, GIN_ROOT.parent / path]
  for candidate in candidates:
    if candidate.is_file():
      return str(candidate)
  raise ConfigError(f"gin file not found: {path} (also looked in {GIN_ROOT})")


def _one_line(error: BaseException) -> str:
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  # gin appends "In file ..., line N" / "In bindings string line N" after the reason.
  return " ".join(lines) if lines else type(error).__name__


class _QuietIncludeLookup(logging.Filter):
  """gin logs an error for every search location an ``include`` is not found in before the one it
  is found in; a file that is truly missing still fails with its name."""

  def filter(self, record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Path not found:")


def load_config(gin_files: Sequence[str] = (), gin_params: Sequence[str] = ()) -> None:
  """Clears gin, then parses ``gin_files`` (in order) and ``gin_params`` (after them)."""
  gin.clear_config()
  files = [_resolve(path) for path in gin_files]
  if str(GIN_ROOT) not in gin.config._LOCATION_PREFIXES:  # noqa: SLF001  (gin has no public query)
    gin.add_config_file_search_path(str(GIN_ROOT))
  quiet = _QuietIncludeLookup()
  logging.getLogger().addFilter(quiet)
  try:
    _parse(files, gin_params)
  finally:
    logging.getLogger().removeFilter(quiet)
  gin.finalize()


def _parse(files: Sequence[str], gin_params: Sequence[str]) -> None:
  for path in files:
    try:
      gin.parse_config_file(path)
    except (ValueError, SyntaxError, KeyError, TypeError, OSError) as error:
      raise ConfigError(f"{path}: {_one_line(error)}") from None
  for binding in gin_params:
    try:
      gin.parse_config(binding)
    except (ValueError, SyntaxError, KeyError, TypeError) as error:
      raise ConfigError(f"--gin_param {binding!r}: {_one_line(error)}") from None


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
