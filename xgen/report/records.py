"""What a run directory records beyond the per-item scores ``xgen.analysis.load`` reads: the scores of
the items no response refused, the refusal rate of each cell per family, the study's settings, the cells'
configs and the training wall time. Read here, at the edge, for the claims table and the report's header.

Eval rows are read as ``load.load_scores`` reads them (final checkpoints, one mode, plain), with
the same scores per item; an item is kept for the refusal-aware comparison when none of its rows in that
(condition, seed) refused, so pairing with the baseline keeps exactly the items neither arm refused.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from xgen import rundir
from xgen.analysis.load import is_intermediate
from xgen.rundir.evalrows import read_eval_file


@dataclass(frozen=True)
class EvalRecords:
  """``non_refusal``: scores[condition][seed][suite][item] of the items no response refused; ``samples``:
  sampled responses per item; ``refusal``: cell -> eval family -> the fraction of its rows (of ``mode``)
  that refused."""
  non_refusal: dict
  samples: int
  refusal: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StudyRecords:
  """The launched study's settings (``study.json``, None when absent or unreadable), every cell's record
  (``cell.json``) and the training wall time in seconds (pretraining, RL cells summed; None unrecorded)."""
  study: dict | None
  cells: list[dict]
  pretrain_seconds: float | None
  rl_seconds: float | None


def read_eval_records(workdir: str | Path, *, mode: str = "greedy") -> EvalRecords:
  """Reads every eval file of ``workdir`` once (``rundir.DamagedFile``/ValueError as ``load_scores``)."""
  kept: dict[tuple, list[float]] = defaultdict(list)
  refused: set[tuple] = set()
  samples = 0
  flags: dict[tuple[str, str], list[bool]] = defaultdict(list)
  eval_dir = rundir.eval_dir(workdir)
  checkpoints = sorted(p for p in eval_dir.iterdir() if p.is_dir()) if eval_dir.is_dir() else []
  for checkpoint in checkpoints:
    if is_intermediate(checkpoint.name):
      continue
    for path in rundir.eval_files(checkpoint):
      for row in read_eval_file(path):
        if is_intermediate(row.checkpoint):
          continue
        if row.mode == "sampled":
          samples = max(samples, row.sample + 1)
        if row.mode != mode:
          continue
        key = (row.condition, row.seed, row.suite, str(row.item_id))
        kept[key].append(float(row.score))
        flags[row.cell, row.family].append(row.refused)
        if row.refused:
          refused.add(key)
  scores: dict = {}
  for (condition, seed, suite, item), values in sorted(kept.items()):
    if (condition, seed, suite, item) not in refused:
      scores.setdefault(condition, {}).setdefault(seed, {}).setdefault(suite, {})[item] = sum(values) / len(values)
  refusal: dict[str, dict[str, float]] = {}
  for (cell, family), values in sorted(flags.items()):
    refusal.setdefault(cell, {})[family] = sum(values) / len(values)
  return EvalRecords(scores, samples, refusal)


def training_seconds(history: list[dict]) -> float | None:
  """Wall time of a training run from its ``history.jsonl``: each start to the next event that ends it."""
  total, start = 0.0, None
  for event in history:
    time = event.get("time")
    if not isinstance(time, (int, float)):
      continue
    if event.get("event") == "start":
      start = time
    elif start is not None:
      total, start = total + time - start, None
  return total or None


def read_study_records(workdir: str | Path) -> StudyRecords:
  """The study's settings, the cells' records and wall times; what cannot be read is left out."""
  try:
    study = rundir.read_json(rundir.study_json_path(workdir))
  except rundir.DamagedFile:
    study = None
  entries = rundir.list_cells(workdir)
  cells = [entry.record for entry in entries if entry.record]
  pretrain = training_seconds(rundir.read_jsonl(rundir.history_path(rundir.base_dir(workdir))))
  per_cell = [training_seconds(rundir.read_jsonl(rundir.history_path(entry.directory))) for entry in entries]
  recorded = [seconds for seconds in per_cell if seconds is not None]
  return StudyRecords(study if isinstance(study, dict) else None, cells, pretrain,
                      sum(recorded) if recorded else None)
