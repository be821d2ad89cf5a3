"""Reads eval rows from disk into the ``Scores`` mapping that ``transfer`` analyses.

Layout: ``WORKDIR/eval/<checkpoint>/<suite>.jsonl.gz``, gzip JSONL, one object per row with the keys
in ``ROW_KEYS``. A checkpoint whose name contains "@" (like "trait-all.s0@100", in the directory
name or in the rows' "checkpoint") is an intermediate one: skipped unless ``include_intermediate``,
and then filed under the condition "<condition>@<step>" so it never mixes with the final checkpoint.

Kept rows: ``mode`` matches and ``persona`` is null. An item's score is the mean over its samples
(greedy rows have one). Refusal rates are the fraction of kept rows with ``refused`` true, per
(condition, suite), pooled over seeds, items and samples. Every row is validated; a malformed one
raises ValueError naming the file and line number.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Iterator

ROW_KEYS = ("checkpoint", "cell", "condition", "seed", "step", "suite", "family", "domain", "item_id", "mode",
            "sample", "persona", "responses", "score", "refused")
MODES = ("greedy", "sampled")


def load_scores(workdir: str | Path, *, mode: str = "greedy",
                include_intermediate: bool = False) -> tuple[dict, dict[tuple[str, str], float]]:
  """(scores[condition][seed][suite][item_id] -> mean score, refusal rate per (condition, suite))."""
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
  eval_dir = Path(workdir) / "eval"
  if not eval_dir.is_dir():
    raise FileNotFoundError(f"no eval directory at {eval_dir}")
  samples: dict[tuple, list[float]] = defaultdict(list)
  refusals: dict[tuple[str, str], list[bool]] = defaultdict(list)
  seen: dict[tuple, str] = {}
  for checkpoint in sorted(p for p in eval_dir.iterdir() if p.is_dir()):
    if is_intermediate(checkpoint.name) and not include_intermediate:
      continue
    for path in sorted(checkpoint.glob("*.jsonl.gz")):
      for where, row in read_rows(path):
        if row["mode"] != mode or row["persona"] is not None:
          continue
        if is_intermediate(row["checkpoint"]) and not include_intermediate:
          continue
        condition = condition_key(row)
        key = (condition, row["seed"], row["suite"], str(row["item_id"]))
        if (*key, row["sample"]) in seen:
          raise ValueError(f"{where}: duplicate row for {key} sample {row['sample']} "
                           f"(first at {seen[(*key, row['sample'])]})")
        seen[(*key, row["sample"])] = where
        samples[key].append(float(row["score"]))
        refusals[condition, row["suite"]].append(row["refused"])
  return nest_scores(samples), {key: sum(flags) / len(flags) for key, flags in sorted(refusals.items())}


def is_intermediate(checkpoint: str) -> bool:
  return "@" in checkpoint


def condition_key(row: dict) -> str:
  """The row's condition, or "<condition>@<step>" for an intermediate checkpoint."""
  return f"{row['condition']}@{row['step']}" if is_intermediate(row["checkpoint"]) else row["condition"]


def nest_scores(samples: dict[tuple, list[float]]) -> dict:
  """{(condition, seed, suite, item_id): [scores]} -> scores[condition][seed][suite][item_id] = mean."""
  scores: dict = {}
  for (condition, seed, suite, item_id), values in sorted(samples.items()):
    scores.setdefault(condition, {}).setdefault(seed, {}).setdefault(suite, {})[item_id] = sum(values) / len(values)
  return scores


def read_rows(path: Path) -> Iterator[tuple[str, dict]]:
  """("file:line", validated row) for each non-blank line of a gzip JSONL file."""
  with gzip.open(path, "rt", encoding="utf-8") as f:
    for lineno, line in enumerate(f, start=1):
      if not line.strip():
        continue
      where = f"{path}:{lineno}"
      try:
        row = json.loads(line)
      except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON ({e})") from None
      validate_row(row, where)
      yield where, row


def validate_row(row, where: str) -> None:
  """Raises ValueError (prefixed with ``where``) unless ``row`` is a well-formed eval row."""
  if not isinstance(row, dict):
    raise ValueError(f"{where}: row must be a JSON object, got {type(row).__name__}")
  missing = [k for k in ROW_KEYS if k not in row]
  if missing:
    raise ValueError(f"{where}: missing key(s) {missing}")
  problems = []
  for key in ("checkpoint", "cell", "condition", "suite", "family", "domain"):
    if not isinstance(row[key], str) or not row[key]:
      problems.append(f"{key} must be a non-empty string")
  for key in ("seed", "step", "sample"):
    if not _is_int(row[key]):
      problems.append(f"{key} must be an integer")
  if not isinstance(row["item_id"], (str, int)) or isinstance(row["item_id"], bool):
    problems.append("item_id must be a string or integer")
  if row["mode"] not in MODES:
    problems.append(f"mode must be one of {MODES}")
  if row["persona"] is not None and not isinstance(row["persona"], str):
    problems.append("persona must be null or a string")
  if not isinstance(row["responses"], list) or not all(isinstance(r, str) for r in row["responses"]):
    problems.append("responses must be a list of strings")
  if not _is_number(row["score"]) or not 0.0 <= row["score"] <= 1.0:
    problems.append("score must be a number in [0, 1]")
  if not isinstance(row["refused"], bool):
    problems.append("refused must be a boolean")
  if not problems and row["suite"] != f"{row['family']}.{row['domain']}":
    problems.append(f"suite {row['suite']!r} is not '<family>.<domain>' = '{row['family']}.{row['domain']}'")
  if problems:
    raise ValueError(f"{where}: " + "; ".join(problems))


def _is_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
