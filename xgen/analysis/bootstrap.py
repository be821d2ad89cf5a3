"""Pure statistics for comparing a condition's eval scores with a baseline's.

Scores come as arrays of shape [seeds, items]: one row per training seed, one column per eval item,
the same items in the same column order in both arms (the arms may have different seed counts, e.g.
the pre-RL model has one seed and an RL condition three).

The statistic is the mean over items of (mean over condition seeds - mean over baseline seeds). Its
uncertainty comes from a two-level paired cluster bootstrap. Each resample:

  * draws items with replacement, the same item draw for both arms (paired: an item's difficulty
    cancels out of its difference, which makes the interval much narrower than an unpaired one);
  * independently for each arm with more than one seed, draws that arm's seeds with replacement
    (an arm with a single seed contributes no seed-to-seed variance: there is none to estimate).

The confidence interval is the percentile interval of the resampled statistics. The p-value is
two-sided, from the bootstrap distribution shifted to be centred on the null:
p = (1 + #{|delta* - delta| >= |delta|}) / (1 + n_resamples). Under an A/A comparison (both arms
drawn from one distribution) it calls about alpha of the comparisons significant at level alpha.

Two options sharpen the resampling unit (both off by default, which keeps the draws above):

  * ``clusters``: an integer label per item (items sharing a fact or scenario, e.g. twins, share a
    label). Clusters are drawn with replacement instead of items, each with all its items, and the
    statistic is the item mean over the drawn clusters. Correlated twins then count as one unit and
    the interval is as wide as their dependence makes it.
  * ``pair_seeds``: row k of both arms is one seed pair (baseline.sK and X.sK share a data stream
    and sampling key). One seed draw serves both arms, so a seed effect shared by the pair cancels
    instead of adding variance. Needs equal seed counts.
  * ``resample_seeds=False``: seeds are not drawn (each arm's seeds averaged as they are), only items
    or clusters: the interval is then conditional on the trained runs, like the sign-flip test of
    ``permutation``. Drawing seeds as well adds the between-run spread of the suite means, which also
    contains the item-level noise of each run once more, so with few seeds that interval is
    conservative (on A/A data with three seed pairs it covers 0 about 99% of the time at 95%).

``paired_bootstrap_strata`` is the stratified version: several strata (e.g. the suites making up
one transfer-matrix cell), the statistic the mean over strata of each stratum's delta, items drawn
within each stratum, and one seed draw per resample shared by all strata (row k is the same training
run in every stratum). ``benjamini_hochberg`` turns a family of p-values into q-values.

Everything is vectorized over resamples (resamples are processed in blocks only to bound memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

# At most this many floats per [resamples, items] block; bounds memory for large suites.
_BLOCK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class BootstrapResult:
  """A condition-minus-baseline difference with its percentile CI and two-sided p-value."""
  delta: float
  ci_low: float
  ci_high: float
  p_value: float
  n_items: int
  n_seeds_condition: int
  n_seeds_baseline: int


def paired_bootstrap(condition: np.ndarray, baseline: np.ndarray, *, n_resamples: int = 2000, seed: int,
                     confidence: float = 0.95, clusters: Sequence[int] | None = None,
                     pair_seeds: bool = False, resample_seeds: bool = True) -> BootstrapResult:
  """Paired cluster bootstrap of mean(condition) - mean(baseline) over arrays of shape [seeds, items].

  ``clusters``: one integer label per item column (resample whole clusters); ``pair_seeds``: row k of
  both arms is one seed pair, drawn together; ``resample_seeds=False`` draws items (clusters) only.
  """
  return paired_bootstrap_strata([(condition, baseline)], n_resamples=n_resamples, seed=seed,
                                 confidence=confidence, clusters=None if clusters is None else [clusters],
                                 pair_seeds=pair_seeds, resample_seeds=resample_seeds)


def paired_bootstrap_strata(strata: Sequence[tuple[np.ndarray, np.ndarray]], *, n_resamples: int = 2000,
                            seed: int, confidence: float = 0.95,
                            clusters: Sequence[Sequence[int] | None] | None = None,
                            pair_seeds: bool = False, resample_seeds: bool = True) -> BootstrapResult:
  """Stratified paired cluster bootstrap: the statistic is the mean over strata of each stratum's delta.

  ``strata`` is a list of (condition[seeds, items], baseline[seeds, items]) pairs. Items may differ in
  number between strata, but every stratum must have the same condition seed count and the same
  baseline seed count, with row k the same seed everywhere: one seed draw serves all strata.
  n_items in the result is the total over strata. ``clusters`` is None or one entry per stratum (None
  or one integer label per item); ``pair_seeds`` draws row k of both arms together; ``resample_seeds=False``
  keeps the seeds as they are.
  """
  pairs, n_cond, n_base = checked_strata(strata, "paired_bootstrap_strata")
  _check_settings(n_resamples, confidence)
  if pair_seeds and n_cond != n_base:
    raise ValueError(f"pair_seeds needs equal seed counts in both arms, got {n_cond} and {n_base}")
  labels = checked_clusters(clusters, [c.shape[1] for c, _ in pairs])
  delta = float(np.mean([_point_delta(c, b) for c, b in pairs]))
  resampled = _resampled_deltas(pairs, n_resamples, np.random.default_rng(seed), labels, pair_seeds,
                                resample_seeds)
  low, high = percentile_interval(resampled, confidence)
  return BootstrapResult(delta=delta, ci_low=low, ci_high=high, p_value=centred_p_value(resampled, delta),
                         n_items=sum(c.shape[1] for c, _ in pairs), n_seeds_condition=n_cond,
                         n_seeds_baseline=n_base)


def percentile_interval(resampled: np.ndarray, confidence: float) -> tuple[float, float]:
  """The central ``confidence`` percentile interval of the resampled statistics."""
  tail = (1.0 - confidence) / 2.0
  low, high = np.quantile(resampled, [tail, 1.0 - tail])
  return float(low), float(high)


def centred_p_value(resampled: np.ndarray, delta: float) -> float:
  """Two-sided p-value from the bootstrap distribution re-centred on the null of no difference."""
  extreme = np.count_nonzero(np.abs(resampled - delta) >= abs(delta))
  return float((extreme + 1) / (resampled.size + 1))


def benjamini_hochberg(p_values) -> np.ndarray:
  """Benjamini-Hochberg step-up q-values, in the input order, monotone in p and capped at 1."""
  p = np.asarray(p_values, dtype=float)
  if p.ndim != 1:
    raise ValueError(f"p_values must be one-dimensional, got shape {p.shape}")
  if np.isnan(p).any():
    raise ValueError("p_values contain NaN")
  if ((p < 0) | (p > 1)).any():
    raise ValueError("p_values must lie in [0, 1]")
  m = p.size
  order = np.argsort(p, kind="stable")
  scaled = p[order] * (m / np.arange(1, m + 1))  # factor >= 1 first, so q >= p exactly
  q_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
  q = np.empty(m)
  q[order] = q_sorted
  return q


def checked_clusters(clusters, n_items: Sequence[int]) -> list[np.ndarray | None]:
  """Per stratum, None or the item labels renumbered 0..C-1 (order of first appearance); checks lengths."""
  if clusters is None:
    return [None] * len(n_items)
  if len(clusters) != len(n_items):
    raise ValueError(f"clusters needs one entry per stratum: {len(clusters)} for {len(n_items)} strata")
  out = []
  for index, (labels, size) in enumerate(zip(clusters, n_items)):
    if labels is None:
      out.append(None)
      continue
    labels = np.asarray(labels)
    if labels.shape != (size,):
      raise ValueError(f"clusters[{index}] must hold one label per item ({size}), got shape {labels.shape}")
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    out.append(rank[inverse.reshape(-1)])
  return out


def checked_strata(strata, caller: str) -> tuple[list[tuple[np.ndarray, np.ndarray]], int, int]:
  """(checked pairs, seeds of the condition, seeds of the baseline): at least one stratum, every stratum
  with the same seed counts per arm (row k is one training run in every stratum)."""
  pairs = [checked_pair(c, b) for c, b in strata]
  if not pairs:
    raise ValueError(f"{caller} needs at least one stratum")
  n_cond, n_base = pairs[0][0].shape[0], pairs[0][1].shape[0]
  if any(c.shape[0] != n_cond or b.shape[0] != n_base for c, b in pairs):
    raise ValueError("every stratum must have the same seed counts per arm "
                     f"(got {[(c.shape[0], b.shape[0]) for c, b in pairs]})")
  return pairs, n_cond, n_base


def checked_pair(condition, baseline) -> tuple[np.ndarray, np.ndarray]:
  """Both arms as float arrays [seeds, items] with matching item counts and finite values."""
  cond, base = np.asarray(condition, dtype=float), np.asarray(baseline, dtype=float)
  for name, arm in (("condition", cond), ("baseline", base)):
    if arm.ndim != 2 or arm.shape[0] < 1 or arm.shape[1] < 1:
      raise ValueError(f"{name} scores must have shape [seeds >= 1, items >= 1], got {arm.shape}")
    if not np.isfinite(arm).all():
      raise ValueError(f"{name} scores contain NaN or inf")
  if cond.shape[1] != base.shape[1]:
    raise ValueError(f"arms must share their items: {cond.shape[1]} vs {base.shape[1]} items")
  return cond, base


def _check_settings(n_resamples: int, confidence: float) -> None:
  if n_resamples < 1:
    raise ValueError(f"n_resamples must be positive, got {n_resamples}")
  if not 0.0 < confidence < 1.0:
    raise ValueError(f"confidence must lie in (0, 1), got {confidence}")


def _point_delta(cond: np.ndarray, base: np.ndarray) -> float:
  return float(np.mean(cond.mean(axis=0) - base.mean(axis=0)))


def _seed_weights(rng: np.random.Generator, n_resamples: int, n_seeds: int) -> np.ndarray:
  """[resamples, seeds] weights of a with-replacement seed draw (each row sums to 1); fixed if one seed."""
  if n_seeds == 1:
    return np.ones((n_resamples, 1))
  draws = rng.integers(0, n_seeds, size=(n_resamples, n_seeds))
  return (draws[:, :, None] == np.arange(n_seeds)).sum(axis=1) / n_seeds


def _stratum_deltas(rng: np.random.Generator, cond: np.ndarray, base: np.ndarray, w_cond: np.ndarray,
                    w_base: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
  """Resampled deltas of one stratum given the block's seed weights; draws items (or clusters) here."""
  per_item = w_cond @ cond - w_base @ base  # [resamples, items]: seed-resampled item differences
  if labels is not None:
    return _cluster_draw(rng, per_item, labels)
  items = rng.integers(0, per_item.shape[1], size=per_item.shape)
  return np.take_along_axis(per_item, items, axis=1).mean(axis=1)


def _cluster_draw(rng: np.random.Generator, per_item: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """Draws clusters with replacement; the statistic is the item mean over the drawn clusters' items."""
  n_clusters = int(labels.max()) + 1
  sums = per_item @ (labels[:, None] == np.arange(n_clusters)).astype(float)  # [resamples, clusters]
  sizes = np.bincount(labels, minlength=n_clusters).astype(float)
  draws = rng.integers(0, n_clusters, size=(per_item.shape[0], n_clusters))
  return np.take_along_axis(sums, draws, axis=1).sum(axis=1) / sizes[draws].sum(axis=1)


def _resampled_deltas(pairs: list[tuple[np.ndarray, np.ndarray]], n_resamples: int, rng: np.random.Generator,
                      labels: Sequence[np.ndarray | None] | None = None, pair_seeds: bool = False,
                      resample_seeds: bool = True) -> np.ndarray:
  """All resampled statistics, computed in blocks of resamples to bound memory."""
  block = max(1, _BLOCK_ELEMENTS // max(c.shape[1] for c, _ in pairs))
  out = []
  for start in range(0, n_resamples, block):
    size = min(block, n_resamples - start)
    n_cond, n_base = pairs[0][0].shape[0], pairs[0][1].shape[0]
    if not resample_seeds:
      w_cond, w_base = np.full((size, n_cond), 1.0 / n_cond), np.full((size, n_base), 1.0 / n_base)
    else:
      w_cond = _seed_weights(rng, size, n_cond)
      w_base = w_cond if pair_seeds else _seed_weights(rng, size, n_base)
    out.append(np.mean([_stratum_deltas(rng, c, b, w_cond, w_base, lab)
                        for (c, b), lab in zip(pairs, labels or [None] * len(pairs))], axis=0))
  return np.concatenate(out)
