"""Where the noise of a suite mean comes from: the sampling of eval items or the training run.

For one condition and one eval family, with suites given as arrays [seeds, items] (row k the same
run in every suite):

  item_variance   within-seed variance of item scores (ddof 1), averaged over seeds and suites: the
                  spread between items of one checkpoint;
  item_term       each suite's item variance / its item count, averaged over suites: the variance a
                  suite mean gets from which items were drawn;
  seed_variance   between-seed variance (ddof 1) of each suite's mean score, averaged over suites: the
                  variance a suite mean gets from which run was trained (the items are the same in
                  every seed, so item sampling does not enter it); NaN with one seed;
  seed_share      seed_variance / (seed_variance + item_term).

A large seed share says that run-to-run variation, not item sampling, limits a single-run comparison:
more seeds help more than more items.

``delta_run_variance`` estimates, for one comparison, the variance that the training runs add to the
delta (the ``run_variance`` of ``permutation``), by the two-way ANOVA estimator on runs x items:
sigma^2_run = (MS_runs - MS_residual) / items, where MS_runs = items x the variance (ddof 1) of the run
means and MS_residual is the run x item interaction mean square (item-level noise). With paired seeds
the runs are the seed pairs' differences (a shift shared by a pair cancels) and the delta's run
variance is sigma^2_run / pairs; unpaired, each arm with two or more seeds gives its own sigma^2_run
(an arm with one seed borrows the other's) and the delta's is sigma^2_c / seeds_c + sigma^2_b / seeds_b.
The estimate is unbiased and left unclipped (it can be negative), so that estimates pooled over suites
stay unbiased; clip the pooled value at 0. NaN when no arm has two seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from xgen.analysis.pairs import common_suites, paired_arrays, split_suite



@dataclass(frozen=True)
class VarianceSplit:
  """Item-level and seed-level variance of one condition's suite means in one group of suites."""
  condition: str
  family: str
  n_suites: int
  n_seeds: int
  item_variance: float
  item_term: float
  seed_variance: float
  seed_share: float


def variance_split(suites: Sequence[np.ndarray]) -> tuple[float, float, float]:
  """(item_variance, item_term, seed_variance) over suites given as score arrays [seeds, items]."""
  arrays = [np.asarray(a, dtype=float) for a in suites]
  if not arrays:
    raise ValueError("suites must hold at least one array")
  for index, a in enumerate(arrays):
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 2:
      raise ValueError(f"suites[{index}] must have shape [seeds >= 1, items >= 2], got {a.shape}")
    if not np.isfinite(a).all():
      raise ValueError(f"suites[{index}] contains NaN or inf")
  if len({a.shape[0] for a in arrays}) != 1:
    raise ValueError(f"suites must share their seed count, got {[a.shape[0] for a in arrays]}")
  item_variance = float(np.mean([a.var(axis=1, ddof=1).mean() for a in arrays]))
  item_term = float(np.mean([a.var(axis=1, ddof=1).mean() / a.shape[1] for a in arrays]))
  n_seeds = arrays[0].shape[0]
  seed_variance = float(np.mean([a.mean(axis=1).var(ddof=1) for a in arrays])) if n_seeds > 1 else float("nan")
  return item_variance, item_term, seed_variance


def residual_mean_square(runs: np.ndarray) -> float:
  """The run x item residual mean square of a [runs >= 2, items >= 2] array (an unbiased sigma_e^2)."""
  n_runs, n_items = runs.shape
  residual = runs - runs.mean(axis=0) - runs.mean(axis=1)[:, None] + runs.mean()
  return float((residual ** 2).sum()) / ((n_runs - 1) * (n_items - 1))


def run_component(runs: np.ndarray) -> float:
  """The ANOVA estimate of the variance between runs (rows) of a [runs, items] array; NaN with one run."""
  n_runs, n_items = runs.shape
  if n_runs < 2 or n_items < 2:
    return float("nan")
  return (n_items * float(runs.mean(axis=1).var(ddof=1)) - residual_mean_square(runs)) / n_items


def delta_run_variance(condition: np.ndarray, baseline: np.ndarray, *, pair_seeds: bool = False) -> float:
  """Unclipped estimate of the variance the training runs add to mean(condition) - mean(baseline)."""
  cond, base = np.asarray(condition, dtype=float), np.asarray(baseline, dtype=float)
  if cond.ndim != 2 or base.ndim != 2 or cond.shape[1] != base.shape[1]:
    raise ValueError(f"condition and baseline must be [seeds, items] with the same items, got {cond.shape} "
                     f"and {base.shape}")
  if pair_seeds:
    if cond.shape[0] != base.shape[0]:
      raise ValueError(f"pair_seeds needs equal seed counts in both arms, got {cond.shape[0]} and {base.shape[0]}")
    return run_component(cond - base) / cond.shape[0]
  components = [run_component(arm) for arm in (cond, base)]
  known = [c for c in components if np.isfinite(c)]
  if not known:
    return float("nan")
  filled = [c if np.isfinite(c) else float(np.mean(known)) for c in components]
  return filled[0] / cond.shape[0] + filled[1] / base.shape[0]


def variance_by_family(scores, condition: str, *, baseline: str | None = None) -> list[VarianceSplit]:
  """One VarianceSplit per eval family of ``condition`` (sorted by family), over the suites and items
  every seed has (and, with ``baseline``, those the comparison with it uses)."""
  if condition not in scores:
    raise ValueError(f"condition {condition!r} not among the conditions {sorted(scores)}")
  other = baseline if baseline is not None else condition
  families: dict[str, list[np.ndarray]] = {}
  for suite in common_suites(scores, condition, other):
    ids, cond, _ = paired_arrays(scores, condition, other, suite)
    if len(ids) >= 2:
      families.setdefault(split_suite(suite)[0], []).append(cond)
  out = []
  for family, arrays in sorted(families.items()):
    item_variance, item_term, seed_variance = variance_split(arrays)
    total = seed_variance + item_term
    share = seed_variance / total if np.isfinite(seed_variance) and total > 0 else float("nan")
    out.append(VarianceSplit(condition=condition, family=family, n_suites=len(arrays), n_seeds=arrays[0].shape[0],
                             item_variance=item_variance, item_term=item_term, seed_variance=seed_variance,
                             seed_share=float(share)))
  return out
