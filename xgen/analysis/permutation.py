"""Sign-flip (paired permutation) tests of a condition-minus-baseline difference, with p-values that can be small.

Scores come as in ``bootstrap``: arrays [seeds, items], the same items in the same columns in both arms.

Estimator. The statistic is the bootstrap's delta, the mean over items of (mean over condition seeds
- mean over baseline seeds); stratified, the mean over strata of each stratum's delta.

Null. Swapping the arm labels changes nothing: within each flip unit, the condition's and the
baseline's scores are exchangeable, so the unit's paired difference is as likely to be negated. The
flip units are

  * item clusters: all items of a cluster (twins sharing a fact or scenario) flip together; without
    ``clusters`` every item is its own cluster;
  * seed pairs, with ``pair_seeds``: row k of both arms is one seed pair (baseline.sK and X.sK share
    a data stream and sampling key), the differences are taken within each pair, and a flip negates
    a whole pair; a cluster's flip negates it in every pair at once. Without ``pair_seeds`` the seeds
    of each arm are averaged first and only clusters flip.

The flips are applied as the product of a cluster sign and a seed-pair sign. With the default
``run_variance=0`` the test is conditional on the trained runs: it asks whether these checkpoints
differ on the population the items are drawn from, and variation between training runs is not in its
null (three seed pairs alone allow no p-value below 1/4). When runs vary (a run better or worse on a
whole suite), that test calls too much significant about the training condition. ``run_variance`` adds
it: the null statistic is T* + Z, Z ~ Normal(0, run_variance) independent of the flips, where
run_variance is the variance of the delta's run-level part (``variance.delta_run_variance``, pooled over
suites). That part of the null is a model (a normal run effect of known variance), not a randomization,
so its p-value is as good as the pooled variance estimate. Giving every item one cluster label with
``pair_seeds`` leaves only whole seed pairs to flip: the exact seed-level test, whose p-value cannot go
below 2^(1 - seed pairs).

The p-value is two-sided, p = P(|T*| >= |T|) over the flips:

  * exact, over all 2^units sign patterns, when there are at most ``max_exact_units`` units (with a run
    variance, the mean over patterns of P(|T* + Z| >= |T|));
  * otherwise sequential Monte Carlo (Besag and Clifford, 1991): random sign patterns are drawn until
    ``min_hits`` of them reach |T|, giving p = min_hits / draws, or until ``max_resamples`` draws, giving
    p = (hits + 1) / (max_resamples + 1). Both are valid p-values. A small p costs about min_hits / p
    draws, so it is resolved to a relative standard error of about 1 / sqrt(min_hits) down to the
    floor 1 / (max_resamples + 1), far below alpha / (number of tests) for usual families; a large
    p stops after a few hundred draws.

With discrete scores ({0, 0.5, 1}) many patterns tie with |T|; ties count as reaching it, so the test
is conservative there (on simulated A/A suites it calls 3.5-4.5% significant at 5%).

Sign patterns are drawn and summed in blocks of bounded size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from xgen.analysis.bootstrap import checked_clusters, checked_strata

# At most this many sign draws per [patterns, units] block.
_BLOCK_ELEMENTS = 1 << 22
_FIRST_BLOCK = 512
_ERFC = np.frompyfunc(math.erfc, 1, 1)


def normal_cdf(x: np.ndarray) -> np.ndarray:
  """The standard normal distribution function, elementwise."""
  return 0.5 * _ERFC(-np.asarray(x, dtype=float) / math.sqrt(2.0)).astype(float)


@dataclass(frozen=True)
class PermutationResult:
  """A sign-flip test: the statistic, its two-sided p-value and how it was computed."""
  delta: float
  p_value: float
  n_resamples: int     # sign patterns evaluated (2^units when exact)
  hits: int            # patterns with |T*| >= |T|
  exact: bool
  n_units: int         # clusters plus, with paired seeds, seed pairs
  n_clusters: int
  n_seed_pairs: int    # 0 when the arms' seeds are averaged instead of paired


def sign_flip_test(condition: np.ndarray, baseline: np.ndarray, *, seed: int,
                   clusters: Sequence[int] | None = None, pair_seeds: bool = False, min_hits: int = 100,
                   max_resamples: int = 100_000, max_exact_units: int = 16,
                   run_variance: float = 0.0) -> PermutationResult:
  """Two-sided sign-flip test of mean(condition) - mean(baseline) over arrays [seeds, items].

  ``clusters``: one label per item (twins share one); ``pair_seeds``: row k of both arms is one seed pair;
  ``run_variance``: variance of the delta's run-level part under the null (0: conditional on the runs).
  """
  return sign_flip_test_strata([(condition, baseline)], seed=seed,
                               clusters=None if clusters is None else [clusters], pair_seeds=pair_seeds,
                               min_hits=min_hits, max_resamples=max_resamples, max_exact_units=max_exact_units,
                               run_variance=run_variance)


def sign_flip_test_strata(strata: Sequence[tuple[np.ndarray, np.ndarray]], *, seed: int,
                          clusters: Sequence[Sequence[int] | None] | None = None, pair_seeds: bool = False,
                          min_hits: int = 100, max_resamples: int = 100_000,
                          max_exact_units: int = 16, run_variance: float = 0.0) -> PermutationResult:
  """Stratified sign-flip test: the statistic is the mean over strata of each stratum's delta.

  Clusters flip within their stratum; a seed pair flips in every stratum at once (row k is the same
  training run everywhere), so every stratum needs the same seed counts.
  """
  pairs, n_cond, n_base = checked_strata(strata, "sign_flip_test_strata")
  if pair_seeds and n_cond != n_base:
    raise ValueError(f"pair_seeds needs equal seed counts in both arms, got {n_cond} and {n_base}")
  _check_settings(min_hits, max_resamples, max_exact_units)
  if not (np.isfinite(run_variance) and run_variance >= 0):
    raise ValueError(f"run_variance must be finite and non-negative, got {run_variance}")
  labels = checked_clusters(clusters, [c.shape[1] for c, _ in pairs])
  weights = unit_weights(pairs, labels, pair_seeds)
  rng = np.random.default_rng(seed)
  return flip_p_value(weights, rng, min_hits=min_hits, max_resamples=max_resamples,
                      max_exact_units=max_exact_units, n_seed_pairs=n_cond if pair_seeds else 0,
                      run_sd=float(np.sqrt(run_variance)))


def unit_weights(pairs: Sequence[tuple[np.ndarray, np.ndarray]], labels: Sequence[np.ndarray | None],
                 pair_seeds: bool) -> np.ndarray:
  """[seed pairs (or 1), clusters] contributions to the statistic: W.sum() is the delta and a sign
  pattern (s per row, t per column) gives T* = s @ W @ t."""
  columns = []
  for (cond, base), lab in zip(pairs, labels):
    diffs = cond - base if pair_seeds else (cond.mean(axis=0) - base.mean(axis=0))[None, :]
    if lab is None:
      lab = np.arange(diffs.shape[1])
    members = (lab[:, None] == np.arange(int(lab.max()) + 1)).astype(float)
    columns.append(diffs @ members / (diffs.shape[0] * diffs.shape[1] * len(pairs)))
  return np.concatenate(columns, axis=1)


def flip_p_value(weights: np.ndarray, rng: np.random.Generator, *, min_hits: int, max_resamples: int,
                 max_exact_units: int, n_seed_pairs: int = 0, run_sd: float = 0.0) -> PermutationResult:
  """Two-sided sign-flip p-value of T = W.sum() under T* = s @ W @ t (s flips rows when there are several),
  plus Z ~ Normal(0, run_sd^2) when run_sd > 0."""
  flip_rows = weights.shape[0] > 1
  n_units = weights.shape[1] + (weights.shape[0] if flip_rows else 0)
  observed = float(weights.sum())
  threshold = abs(observed) - 1e-12 * max(1.0, float(np.abs(weights).sum()))
  common = dict(delta=observed, n_units=n_units, n_clusters=weights.shape[1], n_seed_pairs=n_seed_pairs)
  if n_units <= max_exact_units:
    hits, mass = _exact_hits(weights, flip_rows, threshold, run_sd)
    # The run-variance mass is a sum of normal tail probabilities: rounding can take it a hair past 1.
    return PermutationResult(p_value=min(1.0, float(mass / 2 ** n_units)), n_resamples=2 ** n_units, hits=hits,
                             exact=True, **common)
  hits, drawn, stopped = _sequential_hits(weights, flip_rows, threshold, rng, min_hits, max_resamples, run_sd)
  p_value = hits / drawn if stopped else (hits + 1) / (max_resamples + 1)
  return PermutationResult(p_value=float(p_value), n_resamples=drawn, hits=hits, exact=False, **common)


def _flipped(weights: np.ndarray, bits: np.ndarray, flip_rows: bool) -> np.ndarray:
  """T* for each row of ``bits`` [patterns, units] (bit 1 = negate): columns first, then rows."""
  n_cols = weights.shape[1]
  bits = bits.astype(float)
  per_row = weights.sum(axis=1) - 2.0 * (bits[:, :n_cols] @ weights.T)  # [patterns, rows]
  if flip_rows:
    per_row = per_row * (1.0 - 2.0 * bits[:, n_cols:])
  return per_row.sum(axis=1)


def _exact_hits(weights: np.ndarray, flip_rows: bool, threshold: float, run_sd: float) -> tuple[int, float]:
  """(patterns with |T*| >= |T|, summed P(|T* + Z| >= |T|) over all patterns; the count when run_sd is 0)."""
  n_units = weights.shape[1] + (weights.shape[0] if flip_rows else 0)
  block = max(1, _BLOCK_ELEMENTS // n_units)
  hits, mass = 0, 0.0
  for start in range(0, 2 ** n_units, block):
    codes = np.arange(start, min(start + block, 2 ** n_units), dtype=np.int64)
    flipped = _flipped(weights, (codes[:, None] >> np.arange(n_units)) & 1, flip_rows)
    hits += int(np.count_nonzero(np.abs(flipped) >= threshold))
    if run_sd > 0:
      mass += float(np.sum(normal_cdf((flipped - threshold) / run_sd) + normal_cdf((-threshold - flipped) / run_sd)))
  return hits, (mass if run_sd > 0 else float(hits))


def _sequential_hits(weights: np.ndarray, flip_rows: bool, threshold: float, rng: np.random.Generator,
                     min_hits: int, max_resamples: int, run_sd: float = 0.0) -> tuple[int, int, bool]:
  """(hits, draws, stopped at min_hits): random sign patterns in growing blocks until min_hits hits or
  max_resamples draws; when stopping at the min_hits-th hit, draws counts up to that pattern only."""
  n_units = weights.shape[1] + (weights.shape[0] if flip_rows else 0)
  cap = max(1, _BLOCK_ELEMENTS // n_units)
  hits, drawn, block = 0, 0, _FIRST_BLOCK
  while drawn < max_resamples:
    size = min(block, cap, max_resamples - drawn)
    packed = rng.integers(0, 256, size=(size, -(-n_units // 8)), dtype=np.uint8)
    bits = np.unpackbits(packed, axis=1, count=n_units)
    flipped = _flipped(weights, bits, flip_rows)
    if run_sd > 0:
      flipped = flipped + rng.normal(0.0, run_sd, size=size)
    reached = np.abs(flipped) >= threshold
    count = int(np.count_nonzero(reached))
    if hits + count >= min_hits:
      position = int(np.flatnonzero(reached)[min_hits - hits - 1])
      return min_hits, drawn + position + 1, True
    hits, drawn, block = hits + count, drawn + size, block * 2
  return hits, drawn, False


def _check_settings(min_hits: int, max_resamples: int, max_exact_units: int) -> None:
  if min_hits < 1:
    raise ValueError(f"min_hits must be positive, got {min_hits}")
  if max_resamples < min_hits:
    raise ValueError(f"max_resamples must be at least min_hits ({min_hits}), got {max_resamples}")
  if not 0 <= max_exact_units <= 24:
    raise ValueError(f"max_exact_units must lie in [0, 24], got {max_exact_units}")
