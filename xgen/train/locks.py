"""Exclusive locks on run-directory work (a cell's training, a checkpoint's evaluation), so that two
launchers on one run directory never do the same work twice.

A lock is ``fcntl.flock`` on a file under ``WORKDIR/.locks/``: the kernel releases it when its
holder exits, however it exits (kill -9 included), so a crashed launcher never leaves a stale lock
and the next launcher resumes the work. ``held`` raises ``Busy`` at once if another process holds
the lock; ``wait_for`` blocks until it is free.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

LOCKS_DIR = ".locks"


class Busy(RuntimeError):
  """Another process holds the lock."""


def lock_path(workdir: str | Path, name: str) -> Path:
  return Path(workdir) / LOCKS_DIR / f"{name}.lock"


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
