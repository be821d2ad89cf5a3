"""Where training metrics go: a JSONL file (the record), TensorBoard event files (to look at) and
a progress bar (to watch).

``metrics.jsonl`` has one object per logged step, ``{"step": N, "name": value, ...}``. On resume
the file is cut back to the restored step so that a rerun after a kill reads as one run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping

from tqdm import tqdm


def _plain(value) -> float | int | str:
  if hasattr(value, "item"):
    value = value.item()
  if isinstance(value, float) and not math.isfinite(value):
    return str(value)
  return value


def truncate_jsonl(path: Path, last_step: int) -> None:
  """Drops rows logged after ``last_step`` (they belong to work a kill threw away)."""
  if not path.exists():
    return
  kept = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= last_step]
  path.write_text("".join(line + "\n" for line in kept))


class MetricWriter:
  def __init__(self, directory: str | Path, *, start_step: int = 0, total_steps: int | None = None,
               description: str = "", show_progress: bool = True):
    from tensorboardX import SummaryWriter
    self.directory = Path(directory)
    self.directory.mkdir(parents=True, exist_ok=True)
    self.jsonl_path = self.directory / "metrics.jsonl"
    truncate_jsonl(self.jsonl_path, start_step)
    self.jsonl = open(self.jsonl_path, "a")
    self.tensorboard = SummaryWriter(str(self.directory / "tensorboard"), purge_step=start_step + 1)
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
    self.jsonl.close()
    self.tensorboard.close()
