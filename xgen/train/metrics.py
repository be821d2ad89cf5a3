"""Where training metrics go: a JSONL file (the record), TensorBoard event files (to look at) and
a progress bar (to watch).

``metrics.jsonl`` has one object per logged step, ``{"step": N, "name": value, ...}``. On resume
the file is cut back to the restored step (a torn last line from a kill is dropped too), so that a
rerun after a kill reads as one run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping

from tqdm import tqdm

from xgen import rundir


def _plain(value) -> float | int | str:
  if hasattr(value, "item"):
    value = value.item()
  if isinstance(value, float) and not math.isfinite(value):
    return str(value)
  return value


def truncate_jsonl(path: Path, last_step: int) -> None:
  """Drops rows logged after ``last_step`` (they belong to work a kill threw away) and torn lines."""
  rundir.rewrite_jsonl(path, lambda row: isinstance(row.get("step"), int) and row["step"] <= last_step)


class MetricWriter:
  def __init__(self, directory: str | Path, *, start_step: int = 0, total_steps: int | None = None,
               description: str = "", show_progress: bool = True):
    from tensorboardX import SummaryWriter
    self.directory = Path(directory)
    self.directory.mkdir(parents=True, exist_ok=True)
    self.jsonl_path = rundir.metrics_path(self.directory)
    truncate_jsonl(self.jsonl_path, start_step)
    self.jsonl = open(self.jsonl_path, "a")
    self.tensorboard = SummaryWriter(str(rundir.tensorboard_dir(self.directory)), purge_step=start_step + 1)
    self.progress = tqdm(total=total_steps, initial=start_step, desc=description, disable=not show_progress,
                         dynamic_ncols=True, unit="step")

  def write(self, step: int, metrics: Mapping[str, object], *, prefix: str = "") -> None:
    row = {"step": step, **{f"{prefix}{k}": _plain(v) for k, v in metrics.items()}}
    self.jsonl.write(json.dumps(row) + "\n")
    self.jsonl.flush()
    for name, value in row.items():
      if name != "step" and isinstance(value, (int, float)):
        self.tensorboard.add_scalar(name, value, step)

  def advance(self, steps: int = 1, **postfix: object) -> None:
    self.progress.update(steps)
    if postfix:
      self.progress.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in postfix.items()},
                                refresh=False)

  def close(self) -> None:
    self.progress.close()
    try:
      self.jsonl.close()
    finally:
      self.tensorboard.close()
