"""The state of a training run (the base, a cell, an attack): ``status.json``, the only source of
truth, and the listing of a run directory's cells.

States: ``pending`` (not started), ``running``, ``done``, ``failed`` (with the reason) and
``diverged`` (a non-finite loss; with the step and reason). A status file that cannot be read is
reported as ``failed`` with the reason, never as a traceback: relaunching with ``--retry_failed``
resumes the run from its newest intact checkpoint.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import time
from pathlib import Path

from xgen.rundir import layout
from xgen.rundir.files import DamagedFile, atomic_write_json, read_json

PENDING, RUNNING, DONE, FAILED, DIVERGED = "pending", "running", "done", "failed", "diverged"
STATES = (PENDING, RUNNING, DONE, FAILED, DIVERGED)
STOPPED = (FAILED, DIVERGED)   # ended without finishing; retried only on request


def write_status(run: str | Path, state: str, **fields) -> dict:
  """Writes ``status.json`` atomically; returns what was written."""
  if state not in STATES:
    raise ValueError(f"unknown run state {state!r} (known: {', '.join(STATES)})")
  status = {"state": state, "updated": time.time(), **fields}
  try:
    atomic_write_json(layout.status_path(run), status)
  except OSError as error:
    if error.errno != errno.ENOSPC or not layout.status_path(run).exists():
      raise
    _overwrite_in_place(layout.status_path(run), status)  # a full disk has no room for a new file
  return status


def _overwrite_in_place(path: Path, status: dict) -> None:
  """Rewrites an existing status file in its own blocks (not atomic; only when a new file cannot be made)."""
  with open(path, "r+", encoding="utf-8") as handle:
    handle.write(json.dumps(status, sort_keys=True) + "\n")
    handle.truncate()


def read_status(run: str | Path) -> dict | None:
  """The run's status; None if it has none; ``failed`` with the reason if it cannot be read."""
  try:
    status = read_json(layout.status_path(run))
  except DamagedFile as error:
    return {"state": FAILED, "reason": f"unreadable status: {error}", "step": 0}
  if status is None:
    return None
  if status.get("state") not in STATES:
    return {"state": FAILED, "reason": f"{layout.status_path(run)}: unknown state {status.get('state')!r}",
            "step": 0}
  return status


def state_of(run: str | Path) -> str:
  return (read_status(run) or {}).get("state", PENDING)


def is_done(run: str | Path) -> bool:
  return state_of(run) == DONE


def read_cell_record(run: str | Path) -> tuple[dict, str | None]:
  """(``cell.json``, None), or ({}, why it cannot be read); ({}, None) when there is none."""
  try:
    return read_json(layout.cell_record_path(run)) or {}, None
  except DamagedFile as error:
    return {}, f"unreadable cell record: {error}"


@dataclasses.dataclass(frozen=True)
class CellEntry:
  """One cell directory: its name, status and record (condition, seed, configs), and why the record
  cannot be read (``problem``; None when it is fine or absent)."""

  name: str
  directory: Path
  status: dict
  record: dict
  problem: str | None = None

  @property
  def state(self) -> str:
    return self.status.get("state", PENDING)

  @property
  def condition(self) -> str:
    return str(self.record.get("condition", self.name))

  @property
  def seed(self) -> int:
    seed = self.record.get("seed", 0)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else 0


def list_cells(workdir: str | Path) -> list[CellEntry]:
  """Every cell directory of the run directory, sorted by name (hidden staging folders skipped)."""
  root = layout.cells_dir(workdir)
  if not root.is_dir():
    return []
  entries = []
  for directory in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
    record, problem = read_cell_record(directory)
    entries.append(CellEntry(directory.name, directory, read_status(directory) or {"state": PENDING}, record, problem))
  return entries


def cell_states(workdir: str | Path, names) -> dict[str, str]:
  """name -> state for the given cells (``pending`` for cells never started)."""
  return {name: state_of(layout.cell_dir(workdir, name)) for name in names}
