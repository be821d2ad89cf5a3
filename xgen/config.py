"""Gin plumbing: load gin files and bindings, fail with one clear message, save what ran.

Gin files are looked up as given, then under the repository's ``gin/`` folder, so both
``--gin_file gin/world/default.gin`` and ``--gin_file world/default.gin`` work from anywhere.
"""

from __future__ import annotations

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


def load_config(gin_files: Sequence[str] = (), gin_params: Sequence[str] = ()) -> None:
  """Clears gin, then parses ``gin_files`` (in order) and ``gin_params`` (after them)."""
  gin.clear_config()
  files = [_resolve(path) for path in gin_files]
  gin.add_config_file_search_path(str(GIN_ROOT))
  for path in files:
    try:
      gin.parse_config_file(path)
    except (ValueError, SyntaxError, KeyError, TypeError) as error:
      raise ConfigError(f"{path}: {_one_line(error)}") from None
  for binding in gin_params:
    try:
      gin.parse_config(binding)
    except (ValueError, SyntaxError, KeyError, TypeError) as error:
      raise ConfigError(f"--gin_param {binding!r}: {_one_line(error)}") from None
  gin.finalize()


def operative_config() -> str:
  """The gin config actually used so far, to save beside an output."""
  return gin.operative_config_str()
