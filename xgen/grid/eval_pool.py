"""A study's evaluation spread over worker processes (``xgen grid launch --parallel N``, ``xgen reproduce``).

The work is cut into units that never share a checkpoint's name, so no two workers want one evaluation lock
(``xgen.rundir.locks.eval_lock``): the plain evaluation is one unit per checkpoint, the protocols one unit per
arm (its personas, then its attack budget points, which carry the arm's name). A unit is what the in-process
evaluation does for that checkpoint (``cross_evaluate``, ``evaluate_protocols``), so its rows do not depend on
which process wrote them. Workers are fresh (spawned) Python processes that keep their compiled programs for
every unit they take and read the persistent compilation cache (``xgen.config.enable_compilation_cache``).
Workers have no judge model: a study that needs one (imported suites with judge criteria) evaluates in
process.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from pathlib import Path
from typing import Callable, Iterator, Sequence

from xgen.eval.crosseval import CheckpointRef, EvalConfig, cross_evaluate
from xgen.grid.persistence import Protocols, evaluate_protocols
from xgen.models.config import ModelConfig

PLAIN, PROTOCOLS = "plain", "protocols"


@dataclasses.dataclass(frozen=True)
class Unit:
  """One checkpoint's plain evaluation, or one arm's protocol evaluations."""

  kind: str            # PLAIN or PROTOCOLS
  ref: CheckpointRef


@dataclasses.dataclass(frozen=True)
class UnitResult:
  unit: Unit
  written: int                 # eval files this unit wrote
  damaged: dict[str, str]      # checkpoint -> why it could not be evaluated


def units(kind: str, refs: Sequence[CheckpointRef]) -> list[Unit]:
  """One unit per checkpoint (damaged ones stay in process: the caller reports them)."""
  return [Unit(kind, ref) for ref in refs if ref.problem is None]


def run_unit(workdir: Path, model_config: ModelConfig, config: EvalConfig, protocols: Protocols,
             unit: Unit) -> UnitResult:
  """Evaluates ``unit`` here; the same call a worker makes."""
  written: list[int] = []
  if unit.kind == PLAIN:
    summary = cross_evaluate(workdir, model_config, config, refs=[unit.ref], progress=written.append)
    return UnitResult(unit, sum(written), dict(summary.damaged))
  damaged = evaluate_protocols(workdir, [unit.ref], model_config, config, protocols, progress=written.append,
                               say=lambda line: None)
  return UnitResult(unit, sum(written), damaged)


def _start_worker() -> None:
  from xgen.config import enable_compilation_cache
  enable_compilation_cache()


def _run_in_worker(job: tuple[Path, ModelConfig, EvalConfig, Protocols, Unit]) -> UnitResult:
  return run_unit(*job)


def run_units(workdir: Path, model_config: ModelConfig, config: EvalConfig, protocols: Protocols,
              todo: Sequence[Unit], workers: int) -> Iterator[UnitResult]:
  """Each unit's result as it finishes, ``workers`` at a time (in process, in order, for one worker)."""
  if workers <= 1 or len(todo) <= 1:
    for unit in todo:
      yield run_unit(workdir, model_config, config, protocols, unit)
    return
  jobs = [(workdir, model_config, config, protocols, unit) for unit in todo]
  context = multiprocessing.get_context("spawn")  # never fork a process that has started JAX's threads
  with context.Pool(min(workers, len(todo)), initializer=_start_worker) as pool:
    yield from pool.imap_unordered(_run_in_worker, jobs)


def evaluate_units(workdir: Path, model_config: ModelConfig, config: EvalConfig, protocols: Protocols, kind: str,
                   refs: Sequence[CheckpointRef], workers: int, progress: Callable[[int], None],
                   say: Callable[[str], None]) -> tuple[int, dict[str, str]]:
  """The ``kind`` units of ``refs``' readable checkpoints, ``workers`` at a time, each unit's files reported to
  ``progress`` as it finishes; (eval files written, damaged checkpoint -> why)."""
  todo = units(kind, refs)
  what = "checkpoints on every suite" if kind == PLAIN else "arms' protocols"
  say(f"evaluating {len(todo)} {what} " + (f"in {workers} processes" if workers > 1 and len(todo) > 1
                                             else "in this process"))
  written, damaged = 0, {}
  for result in run_units(workdir, model_config, config, protocols, todo, workers):
    progress(result.written)
    written += result.written
    for name, problem in result.damaged.items():
      say(f"skipping {name}: {problem}")
    damaged.update(result.damaged)
  return written, damaged
