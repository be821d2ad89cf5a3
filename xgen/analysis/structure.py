"""Shared structure across eval suites: do the checkpoints that do well on one alignment suite do well on
the others, more than chance allows? (STUDY.md section 1: mean Spearman 0.107 against a null of
[-0.019, 0.029]; the first principal component 28.2% of the variance against [15.3%, 20.8%].)

The input is a matrix ``[units, suites]``: one row per checkpoint (or per cell and seed), one column per
suite, each entry the unit's score on that suite (or its improvement over the baseline). Two statistics:

* ``mean_spearman``: the mean over all pairs of columns of their Spearman rank correlation across rows;
* ``pc1_share``: the share of the total variance of the column-standardised matrix on its first principal
  component.

The null (``permutation_band``) permutes every column independently across rows: each suite keeps its own
distribution of scores, and any association between suites is destroyed. The band is the central 95% of
the statistic over the permutations; the p-value is one-sided (shared structure makes both statistics
larger), ``(1 + #{null >= observed}) / (1 + n)``.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
from scipy.stats import rankdata

Statistic = Callable[[np.ndarray], float]


@dataclasses.dataclass(frozen=True)
class StructureResult:
  """One statistic against its permutation null."""
  statistic: str
  observed: float
  null_low: float      # 2.5th percentile of the null
  null_high: float     # 97.5th percentile of the null
  p_value: float       # one-sided: the chance of a value at least this large without shared structure
  n_permutations: int


def _checked(matrix) -> np.ndarray:
  matrix = np.asarray(matrix, dtype=float)
  if matrix.ndim != 2 or matrix.shape[0] < 3 or matrix.shape[1] < 2:
    raise ValueError(f"matrix must be [units >= 3, suites >= 2], got shape {matrix.shape}")
  if not np.isfinite(matrix).all():
    raise ValueError("matrix contains NaN or inf")
  return matrix


def _standardised(columns: np.ndarray) -> np.ndarray:
  """Columns centred and scaled to unit variance; a constant column becomes zeros."""
  centred = columns - columns.mean(axis=0)
  scale = np.sqrt((centred ** 2).mean(axis=0))
  return np.divide(centred, scale, out=np.zeros_like(centred), where=scale > 0)


def mean_spearman(matrix) -> float:
  """Mean over all pairs of suites of the Spearman correlation of their scores across units (ties share
  their average rank; a pair with a constant column counts as 0)."""
  ranks = _standardised(rankdata(_checked(matrix), axis=0))
  correlation = ranks.T @ ranks / ranks.shape[0]
  upper = np.triu_indices(correlation.shape[0], k=1)
  return float(correlation[upper].mean())


def pc1_share(matrix) -> float:
  """Share of the variance of the column-standardised matrix on its first principal component."""
  singular = np.linalg.svd(_standardised(_checked(matrix)), compute_uv=False)
  total = float((singular ** 2).sum())
  return float(singular[0] ** 2 / total) if total > 0 else 0.0


STATISTICS: dict[str, Statistic] = {"mean_spearman": mean_spearman, "pc1_share": pc1_share}


def permuted(matrix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Every column shuffled across rows on its own."""
  order = np.argsort(rng.random(matrix.shape), axis=0)
  return np.take_along_axis(matrix, order, axis=0)


def permutation_band(matrix, statistic: str, *, seed: int, n_permutations: int = 2000) -> StructureResult:
  """``statistic`` (a name of ``STATISTICS``) of ``matrix`` against its null from ``n_permutations``
  column-wise permutations drawn from ``seed``."""
  if statistic not in STATISTICS:
    raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}")
  if not isinstance(n_permutations, int) or isinstance(n_permutations, bool) or n_permutations < 100:
    raise ValueError(f"n_permutations must be an integer >= 100, got {n_permutations!r}")
  matrix = _checked(matrix)
  fn = STATISTICS[statistic]
  rng = np.random.default_rng(seed)
  observed = fn(matrix)
  null = np.array([fn(permuted(matrix, rng)) for _ in range(n_permutations)])
  low, high = np.percentile(null, [2.5, 97.5])
  p_value = (1 + int((null >= observed - 1e-12).sum())) / (1 + n_permutations)
  return StructureResult(statistic, observed, float(low), float(high), p_value, n_permutations)
