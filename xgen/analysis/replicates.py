"""A condition-minus-baseline difference tested over training runs: Student's t with the seeds as replicates. Pure.

Scores come as in ``bootstrap``: strata (suites) of arrays [seeds, items], row k the same training run in every
stratum. The statistic is the bootstrap's delta (the mean over strata of the mean over items of the difference of
the arms' seed means), written over runs: with m_k an arm's run k averaged over the strata's items, delta =
mean_k m_k(condition) - mean_k m_k(baseline).

Why not pool a run variance over suites (``permutation`` with ``run_variance``): a run that is better on one
suite of a family is better on its other suites too (in the reference study the A/A arm's three runs sit 7 to
12 points below the baseline's on 5 of 6 hallucination suites), so the suites' estimates are one estimate with
the seeds' few degrees of freedom, not many. Taken as known (a normal run term), an estimate that happens to
come out small or clipped to 0 calls run-to-run variation an effect: on simulated 3-vs-3 A/A studies with run
shifts shared by a family's suites (sd 6 points), that test called 10.7% (unpaired) and 13.3% (paired seeds) of
family cells significant at 5%, and the seed-drawing bootstrap's intervals covered 0 in 89-90%.

The test here needs no such model. Its variance has two parts:

  * runs: paired seeds (row k of both arms one seed pair, sharing a data stream): the variance of the K pair
    differences d_k (ddof 1) / K, K - 1 degrees of freedom; unpaired: s_c^2 / n_c + s_b^2 / n_b over the arms'
    run means, each arm with two or more seeds contributing its n - 1 degrees of freedom (Welch-Satterthwaite).
    An arm with one seed is taken as a fixed model (the pre-RL base is one): it adds no run variance. Each run
    mean also carries that run's item-level noise, so nothing is subtracted and nothing clipped: the estimate is
    a plain sample variance, as the t distribution assumes;
  * items: the eval items are a sample of their family too. Per stratum, the variance of its delta over a
    with-replacement draw of item clusters (twins together; every item its own cluster without labels), from
    the per-item differences of the arms' seed means, C var(cluster sums) / n^2; over strata, the sum / S^2.
    It repeats the run x item noise already in the runs part (conservative by at most that much).

se = sqrt(runs + items), degrees of freedom by Welch-Satterthwaite over the parts, two-sided p from Student's
t, and the interval delta +- t_{df, 1 - (1 - confidence) / 2} se, so that it excludes 0 exactly when p < 1 -
confidence. Without a run variance (no arm has two seeds) ``run_t_test`` returns None: nothing here can say how
much another run would differ, and the caller falls back to a test conditional on the runs.

Calibration (tests; ``python tests/test_analysis_replicates.py`` prints it, 400 family cells each): 3-vs-3 A/A
studies, 6 suites of 32 0/1 items per family, run shifts shared by a family's suites (sd 6 points): 6.2% of family
cells called significant at 5% with paired seeds, 4.5% unpaired (Welch), intervals covering 0 in 93.8% and
95.5%; without run shifts it is conservative (1.5-2.2%), the item noise counted twice weighing more when the runs
differ little.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.stats import t as t_dist

from xgen.analysis.bootstrap import BootstrapResult, checked_clusters, checked_strata, paired_bootstrap_strata


def satterthwaite(parts: Sequence[tuple[float, float]]) -> float:
  """Welch-Satterthwaite degrees of freedom of a sum of variances, given as (variance, its degrees of freedom);
  parts without variance or degrees of freedom are left out; inf when none is left."""
  kept = [(v, d) for v, d in parts if v > 0 and d > 0]
  if not kept:
    return float("inf")
  return float(sum(v for v, _ in kept) ** 2 / sum(v * v / d for v, d in kept))


@dataclass(frozen=True)
class RunsParts:
  """The variance parts of a delta and their degrees of freedom."""
  runs: float
  runs_df: float
  items: float
  items_df: float

  @property
  def se(self) -> float:
    return float(np.sqrt(self.runs + self.items))

  @property
  def df(self) -> float:
    """Welch-Satterthwaite degrees of freedom of runs + items (the runs' own where neither varies)."""
    df = satterthwaite([(self.runs, self.runs_df), (self.items, self.items_df)])
    return df if np.isfinite(df) else float(max(self.runs_df, 1.0))


def run_means(arm: Sequence[np.ndarray]) -> np.ndarray:
  """[seeds]: each run's mean over the strata of its item means (arm: one [seeds, items] array per stratum)."""
  return np.mean([a.mean(axis=1) for a in arm], axis=0)


def runs_part(cond: np.ndarray, base: np.ndarray, paired: bool) -> tuple[float, float] | None:
  """(variance the runs give the delta, its degrees of freedom) from the arms' run means; None when no arm has
  two runs (paired: fewer than two pairs)."""
  if paired:
    if cond.size != base.size:
      raise ValueError(f"paired seeds need equal seed counts, got {cond.size} and {base.size}")
    if cond.size < 2:
      return None
    diffs = cond - base
    return float(diffs.var(ddof=1)) / diffs.size, float(diffs.size - 1)
  parts = [(float(m.var(ddof=1)) / m.size, float(m.size - 1)) for m in (cond, base) if m.size >= 2]
  if not parts:
    return None
  variance = sum(v for v, _ in parts)
  return (0.0, sum(d for _, d in parts)) if variance == 0 else (variance, satterthwaite(parts))


def items_part(pairs: Sequence[tuple[np.ndarray, np.ndarray]],
               labels: Sequence[np.ndarray | None]) -> tuple[float, float]:
  """(variance a draw of the strata's item clusters gives the delta, its degrees of freedom)."""
  total, dfs = 0.0, 0.0
  for (cond, base), lab in zip(pairs, labels):
    per_item = cond.mean(axis=0) - base.mean(axis=0)
    if lab is None:
      lab = np.arange(per_item.size)
    sums = np.bincount(lab, weights=per_item)
    if sums.size >= 2:
      total += sums.size * float(sums.var(ddof=1)) / per_item.size ** 2
      dfs += sums.size - 1
  return total / len(pairs) ** 2, max(dfs, 1.0)


def run_t_test(strata: Sequence[tuple[np.ndarray, np.ndarray]], *, pair_seeds: bool, confidence: float = 0.95,
               clusters: Sequence[Sequence[int] | None] | None = None) -> BootstrapResult | None:
  """The t-test over runs of the stratified delta (module docstring), as a ``BootstrapResult`` (delta, interval,
  p-value, counts); None when no arm has two runs, so there is no run variance to test against."""
  pairs, n_cond, n_base = checked_strata(strata, "run_t_test")
  if not 0.0 < confidence < 1.0:
    raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
  paired = pair_seeds and n_cond == n_base
  cond_runs, base_runs = run_means([c for c, _ in pairs]), run_means([b for _, b in pairs])
  runs = runs_part(cond_runs, base_runs, paired)
  if runs is None:
    return None
  labels = checked_clusters(clusters, [c.shape[1] for c, _ in pairs])
  parts = RunsParts(*runs, *items_part(pairs, labels))
  delta = float(cond_runs.mean() - base_runs.mean())
  se, df = parts.se, parts.df
  if se > 0:
    p_value = float(2.0 * t_dist.sf(abs(delta) / se, df))
    half = float(t_dist.ppf(0.5 + confidence / 2.0, df)) * se
  else:
    p_value, half = (1.0 if delta == 0 else 0.0), 0.0
  return BootstrapResult(delta=delta, ci_low=delta - half, ci_high=delta + half, p_value=min(1.0, p_value),
                         n_items=sum(c.shape[1] for c, _ in pairs), n_seeds_condition=n_cond,
                         n_seeds_baseline=n_base)


def runs_else_bootstrap(strata: Sequence[tuple[np.ndarray, np.ndarray]], *, pair_seeds: bool, n_resamples: int,
                        seed: int, clusters: Sequence[Sequence[int] | None] | None = None) -> BootstrapResult | None:
  """``run_t_test`` (twins by ``clusters``) where an arm has two runs, else the stratified paired bootstrap of
  items, conditional on each arm's one run (no clusters, seed ``seed``); None without strata."""
  if not strata:
    return None
  return (run_t_test(strata, pair_seeds=pair_seeds, clusters=clusters)
          or paired_bootstrap_strata(strata, n_resamples=n_resamples, seed=seed, pair_seeds=pair_seeds))
