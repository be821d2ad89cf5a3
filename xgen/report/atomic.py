"""Atomic file writes: content goes to a temporary name in the target's folder, then is renamed over it.

A reader never sees a half-written file, and a crash leaves at worst a stray hidden ``.NAME.*.tmp``. The
temporary file is created with ``open(..., "xb")`` so it gets the usual umask-derived permissions.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
  """Writes ``data`` to ``path`` atomically (creating its folder); returns the path."""
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
  try:
    with open(temporary, "xb") as f:
      f.write(data)
    os.replace(temporary, path)
  except BaseException:
    temporary.unlink(missing_ok=True)
    raise
  return path


def atomic_write_text(path: str | Path, text: str) -> Path:
  """Writes ``text`` as UTF-8 to ``path`` atomically; returns the path."""
  return atomic_write_bytes(path, text.encode("utf-8"))
