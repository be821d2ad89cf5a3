"""The nested scores ``scores[condition][seed][suite][item_id]`` (``xgen.analysis.load``) as the arrays a
comparison works on: suite names, seeds, the suites two conditions share, and the paired item arrays."""

from __future__ import annotations

from typing import Mapping

import numpy as np

Scores = Mapping[str, Mapping[int, Mapping[str, Mapping[str, float]]]]


def split_suite(suite: str) -> tuple[str, str]:
  """"<family>.<domain>" -> (family, domain)."""
  parts = suite.split(".")
  if len(parts) != 2 or not all(parts):
    raise ValueError(f"suite name must be '<family>.<domain>', got {suite!r}")
  return parts[0], parts[1]


def seeds_of(scores: Scores, condition: str) -> list[int]:
  if condition not in scores or not scores[condition]:
    raise ValueError(f"condition {condition!r} has no scores")
  return sorted(scores[condition])


def common_suites(scores: Scores, condition: str, baseline: str) -> list[str]:
  """Sorted suites present in every seed of both the condition and the baseline."""
  per_seed = [set(scores[c][s]) for c in (condition, baseline) for s in seeds_of(scores, c)]
  return sorted(set.intersection(*per_seed))


def paired_arrays(scores: Scores, condition: str, baseline: str,
                  suite: str) -> tuple[list[str], np.ndarray, np.ndarray]:
  """(item ids, condition[seeds, items], baseline[seeds, items]) on the items every seed of both arms has."""
  tables = {c: [scores[c][s][suite] for s in seeds_of(scores, c)] for c in (condition, baseline)}
  ids = sorted(set.intersection(*(set(t) for arm in tables.values() for t in arm)))
  arrays = [np.array([[t[i] for i in ids] for t in tables[c]], dtype=float).reshape(len(tables[c]), len(ids))
            for c in (condition, baseline)]
  return ids, arrays[0], arrays[1]


def seeds_paired(scores: Scores, condition: str, baseline: str) -> bool:
  """Whether the two arms have the same seed ids, so that row k of each is one seed pair."""
  return seeds_of(scores, condition) == seeds_of(scores, baseline)
