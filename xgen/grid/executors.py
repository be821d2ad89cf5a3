"""Where a study's cells train: in this process (the default), in a pool of subprocesses
(``--parallel N``), or as Ray tasks (extra ``ray``).

Every executor runs the same job, "train cell C of run directory W from these gin files and
bindings", and reports each cell's outcome as it finishes; a failed cell never stops the others.
The subprocess and Ray executors run ``python -m xgen.cli train ...`` (each cell's log goes to
``W/logs/<cell>.log``); the in-process one calls the trainer directly. The trainer holds the
cell's lock while it trains, so a cell that another launcher is training comes back ``busy``.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Sequence

from xgen import rundir
from xgen.grid.study import Cell

BUSY = "busy"  # an outcome, not a run state: another process holds the cell's lock
EXECUTORS = ("inprocess", "subprocess", "ray")
EXIT_BUSY = 75  # `xgen train` exits with this when another process holds the cell's lock


@dataclasses.dataclass(frozen=True)
class Outcome:
  cell: str
  state: str     # a run state (rundir.DONE, FAILED, DIVERGED) or BUSY
  message: str = ""


def train_argv(workdir: Path, cell: Cell) -> list[str]:
  argv = [sys.executable, "-m", "xgen.cli", "train", "--workdir", str(workdir), "--cell", cell.name,
          "--condition", cell.condition, "--seed_label", str(cell.seed)]
  for path in cell.gin_files:
    argv += ["--gin_file", path]
  for binding in cell.gin_params:
    argv += ["--gin_param", binding]
  return argv


def _log_path(workdir: Path, cell: Cell) -> Path:
  path = rundir.log_path(workdir, cell.name)
  path.parent.mkdir(parents=True, exist_ok=True)
  return path


def _outcome_of_exit(cell: Cell, code: int, log: Path) -> Outcome:
  if code == 0:
    return Outcome(cell.name, rundir.DONE)
  if code == EXIT_BUSY:
    return Outcome(cell.name, BUSY, "another process is training it")
  tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
  return Outcome(cell.name, rundir.FAILED, f"exit code {code}: {tail[0] if tail else ''} (log {log})")


def train_in_process(workdir: Path, cell: Cell, show_progress: bool = True) -> Outcome:
  from xgen.rl.config import cell_configs_from_gin
  from xgen.rl.trainer import train_cell
  from xgen.rundir.locks import Busy
  from xgen.train.lifecycle import TrainingDiverged
  try:
    configs = cell_configs_from_gin(cell.gin_files, cell.gin_params)
    status = train_cell(workdir, cell.name, configs.rl, configs.mixture, configs.loss,
                        labels={"condition": cell.condition, "seed": cell.seed}, model_config=configs.model,
                        operative_config=configs.operative_config, show_progress=show_progress)
    return Outcome(cell.name, status["state"])
  except Busy as error:
    return Outcome(cell.name, BUSY, str(error))
  except TrainingDiverged as error:
    return Outcome(cell.name, rundir.DIVERGED, str(error))
  except Exception as error:  # noqa: BLE001  (a failed cell must not stop the grid)
    log = _log_path(workdir, cell)
    log.write_text(traceback.format_exc())
    return Outcome(cell.name, rundir.FAILED, f"{type(error).__name__}: {error} (traceback in {log})")


def run_in_process(workdir: Path, cells: Sequence[Cell], on_outcome: Callable[[Outcome], None]) -> None:
  for cell in cells:
    on_outcome(train_in_process(workdir, cell))


def run_subprocesses(workdir: Path, cells: Sequence[Cell], on_outcome: Callable[[Outcome], None], *,
                     parallel: int) -> None:
  """At most ``parallel`` cells at once, each an ``xgen train`` process."""
  queue, running = list(cells), {}
  try:
    while queue or running:
      while queue and len(running) < parallel:
        cell = queue.pop(0)
        log = _log_path(workdir, cell)
        with open(log, "w") as handle:
          running[cell] = (subprocess.Popen(train_argv(workdir, cell), stdout=handle, stderr=subprocess.STDOUT), log)
      for cell, (process, log) in list(running.items()):
        code = process.poll()
        if code is not None:
          del running[cell]
          on_outcome(_outcome_of_exit(cell, code, log))
      time.sleep(0.2)
  finally:
    for process, _ in running.values():  # interrupted: stop the children (they resume next launch)
      process.terminate()
    for process, _ in running.values():
      process.wait()


def run_ray(workdir: Path, cells: Sequence[Cell], on_outcome: Callable[[Outcome], None], *,
            address: str | None = None, cpus_per_cell: float = 1.0) -> None:
  """One Ray task per cell, each running ``xgen train`` in a subprocess on whichever node Ray picks
  (the run directory must be on a filesystem every node sees)."""
  import ray
  started_here = not ray.is_initialized()
  if started_here:
    ray.init(address=address, include_dashboard=False, log_to_driver=False)

  @ray.remote(num_cpus=cpus_per_cell)
  def train(argv: list[str], log: str) -> int:
    with open(log, "w") as handle:
      return subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT).returncode

  try:
    pending = {train.remote(train_argv(workdir, cell), str(_log_path(workdir, cell))): cell for cell in cells}
    while pending:
      ready, _ = ray.wait(list(pending), num_returns=1)
      for ref in ready:
        cell = pending.pop(ref)
        try:
          code = ray.get(ref)
        except Exception as error:  # noqa: BLE001  (a lost worker fails its cell, not the grid)
          on_outcome(Outcome(cell.name, rundir.FAILED, f"ray: {type(error).__name__}: {error}"))
          continue
        on_outcome(_outcome_of_exit(cell, code, _log_path(workdir, cell)))
  finally:
    if started_here:
      ray.shutdown()


def run_cells(executor: str, workdir: Path, cells: Sequence[Cell], on_outcome: Callable[[Outcome], None], *,
              parallel: int = 1, ray_address: str | None = None) -> None:
  if executor not in EXECUTORS:
    raise ValueError(f"unknown executor '{executor}' (known: {', '.join(EXECUTORS)})")
  if executor == "inprocess":
    run_in_process(workdir, cells, on_outcome)
  elif executor == "subprocess":
    run_subprocesses(workdir, cells, on_outcome, parallel=parallel)
  else:
    run_ray(workdir, cells, on_outcome, address=ray_address)
