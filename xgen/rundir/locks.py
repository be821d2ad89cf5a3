"""Exclusive locks on run-directory work (building the world, pretraining the base, a cell, an
attack, a checkpoint's evaluation, an import, the analysis), so two processes never do the same
work at once.

A lock is ``fcntl.flock`` on ``WORKDIR/.locks/<name>.lock``: the kernel releases it when its holder
exits, however it exits (kill -9 included), so a crashed process never leaves a stale lock and the
next one resumes the work. ``held`` raises ``Busy`` at once if another process holds the lock;
``wait_for`` blocks until it is free.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from xgen.rundir.layout import lock_path

WORLD_LOCK, BASE_LOCK, ANALYSIS_LOCK = "world", "base", "analysis"


def cell_lock(cell: str) -> str:
  return f"cell-{cell}"


def eval_lock(checkpoint: str) -> str:
  return f"eval-{checkpoint}"


def attack_lock(cell: str) -> str:
  """The lock of the harmful fine-tuning of ``cell`` (or ``base``), all its learning rates."""
  return f"attack-{cell}"


def import_lock(name: str) -> str:
  """The lock of ``xgen data import``'s dataset ``name`` (``WORKDIR/imports/<name>/``)."""
  return f"import-{name}"


class Busy(RuntimeError):
  """Another process holds the lock."""


@contextlib.contextmanager
def held(workdir: str | Path, name: str) -> Iterator[None]:
  path = lock_path(workdir, name)
  path.parent.mkdir(parents=True, exist_ok=True)
  handle = open(path, "a+")
  try:
    try:
      fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      raise Busy(f"{name} is being worked on by another process (lock {path})") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    yield
  finally:
    handle.close()  # closing releases the flock


def wait_for(workdir: str | Path, name: str) -> None:
  """Blocks until no process holds the lock ``name``."""
  path = lock_path(workdir, name)
  if not path.exists():
    return
  with open(path, "a+") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    fcntl.flock(handle, fcntl.LOCK_UN)
