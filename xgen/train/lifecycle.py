"""One training run's life, for every kind of run (pretraining the base, an RL cell, an attack).

A ``TrainingRun`` owns what surrounds the math: the run's lock, resuming from the newest intact
checkpoint with the run's fingerprint checked, periodic checkpoints, metric logging, and the final
status. The loop that uses it holds only the math::

    with TrainingRun(spec, workdir=W, lock=locks.cell_lock(cell)) as run:
      model, optimizer = build()
      start = run.resume(lambda: training_state(model, optimizer), lambda s: load_training_state(s, model, optimizer))
      for step in range(start, spec.steps):
        metrics = update(...)
        run.check_finite(step, loss=..., grad_norm=...)
        run.log(step + 1, metrics)
        run.checkpoint(step + 1, lambda: training_state(model, optimizer))
      run.finish()

Statuses: ``running`` once training starts; ``done`` at the end; ``diverged`` on a non-finite
loss (nothing of that step is saved); ``failed`` with the reason on any other error, including a
write that fails (read-only file system, disk full), which ends the run at once. An error raised
before training starts (a config that does not fit the checkpoints there, missing inputs) leaves
the run's status as it was: bad input is not a failed run.

Resuming: a checkpoint that fails verification (``rundir.DamagedFile``) is moved to the run's
``damaged/`` folder, the run says so and falls back to the previous one. Checkpoints made with
another fingerprint (another config, world or base) are refused with ``RunMismatch``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
import time
from pathlib import Path
from typing import Callable

from xgen import rundir
from xgen.rundir import locks
from xgen.train.checkpoints import Checkpoints, newest_intact
from xgen.train.metrics import MetricWriter, truncate_jsonl


class TrainingDiverged(RuntimeError):
  """The loss (or gradient norm) stopped being finite."""


class RunMismatch(ValueError):
  """The run directory holds checkpoints of another config, world or base."""


class WriteFailed(OSError):
  """A run-directory write failed (read-only file system, disk full); the run stopped."""


def _say(message: str) -> None:
  print(f"[xgen] {message}", file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunSpec:
  """What a training run is, as the lifecycle needs it."""

  directory: Path
  steps: int
  fingerprint: str                    # what a resumed run must share with the run it resumes
  checkpoint_every: int
  keep_checkpoints: int
  save_steps: tuple[int, ...] = ()    # when given, the steps saved (and the last) instead of every checkpoint_every
  meta: dict = dataclasses.field(default_factory=dict)   # saved beside each checkpoint
  description: str = ""
  show_progress: bool = True


class TrainingRun(contextlib.AbstractContextManager):
  """See the module docstring. ``lead`` is False on every process but the first under
  ``jax.distributed``: those take part in checkpoints but write no status or logs."""

  def __init__(self, spec: RunSpec, *, workdir: str | Path | None = None, lock: str | None = None,
               lead: bool = True, say: Callable[[str], None] = _say):
    self.spec, self.lead, self.say = spec, lead, say
    self.directory = Path(spec.directory)
    self._lock = locks.held(workdir, lock) if (lock and lead) else contextlib.nullcontext()
    self.checkpoints: Checkpoints | None = None
    self.writer: MetricWriter | None = None
    self.started = False      # training began: errors from here on mark the run failed
    self.start_step = 0
    self.last_step = 0

  # --- entering and resuming -------------------------------------------------------------------

  def __enter__(self) -> "TrainingRun":
    self._lock.__enter__()
    try:
      self.checkpoints = Checkpoints(rundir.checkpoints_dir(self.directory), keep=self.spec.keep_checkpoints)
      latest = self.checkpoints.latest_step()
      if latest:
        self._check_fingerprint(latest)
    except BaseException:
      self._close_checkpoints()
      self._lock.__exit__(*sys.exc_info())
      raise
    return self

  def _check_fingerprint(self, step: int) -> None:
    try:
      recorded = self.checkpoints.restore_meta(step).get("fingerprint")
    except rundir.DamagedFile:
      return  # resume() sets it aside and looks further back
    if recorded != self.spec.fingerprint:
      raise RunMismatch(f"{self.directory}: the checkpoints there come from another config, world or base; "
                        f"use another name or delete {self.checkpoints.directory}")

  def resume(self, like: Callable[[], dict], load: Callable[[dict], None]) -> int:
    """Restores the newest intact checkpoint into the live state (via ``load``); returns its step
    (0 when training starts from scratch). Marks the run ``running`` unless it is already finished."""
    step, state = newest_intact(self.checkpoints, like(), say=self.say if self.lead else (lambda _: None))
    if state is not None:
      load(state)
    self.start_step = self.last_step = step
    if not self.finished:
      self._begin()
    return step

  @property
  def finished(self) -> bool:
    return self.start_step >= self.spec.steps

  def _begin(self) -> None:
    self.started = True
    if not self.lead:
      return
    rundir.write_status(self.directory, rundir.RUNNING, step=self.start_step, steps=self.spec.steps)
    self.writer = MetricWriter(self.directory, start_step=self.start_step, total_steps=self.spec.steps,
                               description=self.spec.description, show_progress=self.spec.show_progress)
    truncate_jsonl(rundir.samples_path(self.directory), self.start_step)
    self.history("start", step=self.start_step)

  # --- during training -------------------------------------------------------------------------

  def check_finite(self, step: int, **values: float) -> None:
    """Raises TrainingDiverged (naming the 1-based step) unless every value is finite."""
    bad = {name: value for name, value in values.items() if not math.isfinite(value)}
    if bad:
      raise TrainingDiverged(f"non-finite {', '.join(f'{k} {v}' for k, v in bad.items())} at step {step + 1}")

  def log(self, step: int, metrics: dict, *, prefix: str = "") -> None:
    if self.writer is not None:
      self.writer.write(step, metrics, prefix=prefix)

  def advance(self, steps: int = 1, **postfix) -> None:
    if self.writer is not None:
      self.writer.advance(steps, **postfix)

  def append_samples(self, rows: list[dict]) -> None:
    if self.lead and rows:
      rundir.append_jsonl(rundir.samples_path(self.directory), rows)

  def history(self, event: str, **fields) -> None:
    """``history.jsonl``: one line per start and end of training, so a study can show that no step
    was trained twice."""
    if self.lead:
      rundir.append_jsonl(rundir.history_path(self.directory),
                          [{"event": event, "time": time.time(), "pid": os.getpid(), **fields}])

  def checkpoint(self, step: int, state: Callable[[], dict]) -> None:
    """Saves ``state()`` when ``step`` is due: every ``checkpoint_every`` steps (or, with ``save_steps``,
    exactly those) and the last."""
    self.last_step = step
    if self._due(step):
      self.checkpoints.save(step, state(), {"fingerprint": self.spec.fingerprint, **self.spec.meta},
                            force=step == self.spec.steps)

  def _due(self, step: int) -> bool:
    if step == self.spec.steps:
      return True
    return step in self.spec.save_steps if self.spec.save_steps else step % self.spec.checkpoint_every == 0

  def finish(self, **fields) -> dict:
    """Waits for the last checkpoint and marks the run done (``fields`` go into status.json)."""
    self.checkpoints.wait()
    self._close_writer()
    if not self.lead:
      return {"state": rundir.DONE, "step": self.spec.steps}
    if self.started:
      self.history(rundir.DONE, step=self.spec.steps)
    if self.started or rundir.state_of(self.directory) != rundir.DONE:
      rundir.write_status(self.directory, rundir.DONE, step=self.spec.steps, steps=self.spec.steps, **fields)
    self.started = False
    return rundir.read_status(self.directory) or {"state": rundir.DONE, "step": self.spec.steps}

  # --- leaving ---------------------------------------------------------------------------------

  def __exit__(self, kind, error, traceback) -> bool:
    try:
      if error is not None and self.started and self.lead:
        self._record_failure(error)
    finally:
      self._close_writer()
      self._close_checkpoints(abandon=error is not None)
      self._lock.__exit__(kind, error, traceback)
    if isinstance(error, OSError) and not isinstance(error, WriteFailed) and self.started:
      raise WriteFailed(error.errno, f"{error.strerror or error} ({getattr(error, 'filename', None) or self.directory})"
                        f"; the run stopped at step {self.last_step}") from error
    return False

  def _record_failure(self, error: BaseException) -> None:
    if isinstance(error, TrainingDiverged):
      state, step = rundir.DIVERGED, self.last_step
    else:
      state, step = rundir.FAILED, self._saved_step()
    reason = str(error) if isinstance(error, TrainingDiverged) else f"{type(error).__name__}: {error}"
    try:
      rundir.write_status(self.directory, state, step=step, steps=self.spec.steps, reason=reason[:500])
    except OSError as status_error:  # the status cannot be written either (read-only, disk full)
      self.say(f"could not record the status of {self.directory}: {status_error}")

  def _saved_step(self) -> int:
    try:
      return self.checkpoints.latest_step() or 0
    except Exception:  # noqa: BLE001  (the failure may be the checkpoint directory itself)
      return 0

  def _close_writer(self) -> None:
    if self.writer is not None:
      writer, self.writer = self.writer, None
      try:
        writer.close()
      except OSError:
        pass

  def _close_checkpoints(self, abandon: bool = False) -> None:
    if self.checkpoints is None:
      return
    checkpoints, self.checkpoints = self.checkpoints, None
    try:
      checkpoints.close()
    except Exception as error:  # noqa: BLE001  (an async save that failed; the run is already failing)
      if not abandon:
        raise
      self.say(f"a checkpoint of {self.directory} could not be finished: {type(error).__name__}: {error}")
