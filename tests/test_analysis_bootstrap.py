"""Tests for the paired cluster bootstrap and Benjamini-Hochberg q-values, on hand-made and simulated scores."""

from __future__ import annotations

import numpy as np
import pytest

from xgen.analysis.bootstrap import (BootstrapResult, benjamini_hochberg, paired_bootstrap,
                                     paired_bootstrap_strata)

# ---------------------------------------------------------------------------------------------
# Benjamini-Hochberg.


def test_bh_hand_example():
  # Sorted: 0.005, 0.01, 0.03, 0.04 -> p*m/rank = 0.02, 0.02, 0.04, 0.04 (already monotone).
  q = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
  np.testing.assert_allclose(q, [0.02, 0.04, 0.04, 0.02])


def test_bh_step_up_takes_the_running_minimum_from_the_top():
  # p*m/rank = 0.03, 0.03, 0.021: the largest p pulls the two smaller ones down to 0.021.
  np.testing.assert_allclose(benjamini_hochberg([0.02, 0.021, 0.01]), [0.021, 0.021, 0.021])


def test_bh_caps_at_one():
  np.testing.assert_allclose(benjamini_hochberg([0.5, 0.9, 0.8, 1.0]), [1.0, 1.0, 1.0, 1.0])


def test_bh_is_monotone_and_bounded():
  p = np.random.default_rng(0).uniform(size=50) ** 3
  q = benjamini_hochberg(p)
  order = np.argsort(p)
  assert np.all(np.diff(q[order]) >= 0)
  assert np.all(q >= p) and np.all(q <= 1)


def test_bh_edge_cases():
  assert benjamini_hochberg([]).shape == (0,)
  np.testing.assert_allclose(benjamini_hochberg([0.03]), [0.03])
  with pytest.raises(ValueError, match="NaN"):
    benjamini_hochberg([0.1, float("nan")])
  with pytest.raises(ValueError):
    benjamini_hochberg([1.5])


# ---------------------------------------------------------------------------------------------
# Point estimate, interval, p-value.


def test_delta_is_the_hand_computed_mean_difference():
  condition = np.array([[1.0, 0.0, 0.5], [0.0, 0.0, 1.0]])  # seed means per item: 0.5, 0, 0.75
  baseline = np.array([[0.5, 0.5, 0.5]])  # differences: 0, -0.5, 0.25 -> mean -0.25 / 3
  result = paired_bootstrap(condition, baseline, n_resamples=500, seed=0)
  assert result.delta == pytest.approx(-0.25 / 3)
  assert result.ci_low <= result.delta <= result.ci_high
  assert (result.n_items, result.n_seeds_condition, result.n_seeds_baseline) == (3, 2, 1)
  assert 0 < result.p_value <= 1


def test_constant_shift_and_no_shift():
  base = np.random.default_rng(1).uniform(size=(1, 30))
  shifted = paired_bootstrap(base + 0.1, base, n_resamples=999, seed=0)
  assert shifted.delta == pytest.approx(0.1)
  assert shifted.p_value == pytest.approx(1 / 1000)
  assert shifted.ci_low == pytest.approx(0.1) and shifted.ci_high == pytest.approx(0.1)
  same = paired_bootstrap(base, base, n_resamples=999, seed=0)
  assert same.delta == 0 and same.p_value == 1


def test_planted_effect_is_found():
  rng = np.random.default_rng(2)
  mu = rng.uniform(0.2, 0.8, size=60)
  baseline = mu[None] + rng.normal(0, 0.3, size=(1, 60))
  condition = mu[None] + 0.2 + rng.normal(0, 0.3, size=(1, 60))
  result = paired_bootstrap(condition, baseline, n_resamples=2000, seed=0)
  assert result.p_value < 0.01
  assert 0 < result.ci_low < 0.2 < result.ci_high


def test_same_seed_same_result_other_seed_slightly_different():
  rng = np.random.default_rng(3)
  condition, baseline = rng.uniform(size=(3, 50)), rng.uniform(size=(3, 50))
  first = paired_bootstrap(condition, baseline, n_resamples=1000, seed=7)
  assert paired_bootstrap(condition, baseline, n_resamples=1000, seed=7) == first
  other = paired_bootstrap(condition, baseline, n_resamples=1000, seed=8)
  assert other.delta == first.delta
  assert (other.ci_low, other.ci_high) != (first.ci_low, first.ci_high)
  assert abs(other.ci_low - first.ci_low) < 0.02 and abs(other.ci_high - first.ci_high) < 0.02


def test_pairing_narrows_the_interval_when_items_drive_the_scores():
  rng = np.random.default_rng(4)
  mu = rng.uniform(0.0, 1.0, size=80)  # item difficulty dominates; small per-arm noise
  baseline = mu[None] + rng.normal(0, 0.05, size=(1, 80))
  condition = mu[None] + 0.03 + rng.normal(0, 0.05, size=(1, 80))
  paired = paired_bootstrap(condition, baseline, n_resamples=2000, seed=0)
  # Unpaired: each arm's items drawn independently.
  draw = np.random.default_rng(0)
  unpaired = (condition[0][draw.integers(0, 80, (2000, 80))].mean(1)
              - baseline[0][draw.integers(0, 80, (2000, 80))].mean(1))
  unpaired_width = np.subtract(*np.quantile(unpaired, [0.975, 0.025]))
  assert paired.ci_high - paired.ci_low < 0.3 * unpaired_width
  assert paired.ci_low > 0  # the small shift is detected only thanks to pairing
  assert np.quantile(unpaired, 0.025) < 0


def test_seed_resampling_widens_the_interval_when_runs_differ():
  rng = np.random.default_rng(5)
  mu = rng.uniform(0.2, 0.8, size=60)
  runs = mu[None] + rng.normal(0, 0.1, size=(3, 1)) + rng.normal(0, 0.05, size=(3, 60))
  baseline = mu[None] + rng.normal(0, 0.05, size=(1, 60))
  three = paired_bootstrap(runs, baseline, n_resamples=1000, seed=0)
  one = paired_bootstrap(runs[:1], baseline, n_resamples=1000, seed=0)
  assert three.ci_high - three.ci_low > 2 * (one.ci_high - one.ci_low)


def test_input_validation():
  with pytest.raises(ValueError, match="share their items"):
    paired_bootstrap(np.zeros((1, 3)), np.zeros((1, 4)), seed=0)
  with pytest.raises(ValueError, match="NaN"):
    paired_bootstrap(np.array([[0.1, np.nan]]), np.zeros((1, 2)), seed=0)
  with pytest.raises(ValueError, match="shape"):
    paired_bootstrap(np.zeros(3), np.zeros(3), seed=0)
  with pytest.raises(ValueError, match="same seed counts"):
    paired_bootstrap_strata([(np.zeros((3, 2)), np.zeros((1, 2))), (np.zeros((2, 2)), np.zeros((1, 2)))], seed=0)
  with pytest.raises(ValueError):
    paired_bootstrap_strata([], seed=0)


# ---------------------------------------------------------------------------------------------
# Stratified version.


def test_strata_delta_is_the_mean_of_stratum_deltas():
  strata = [(np.array([[1.0, 1.0]]), np.array([[0.0, 0.0]])),  # delta 1 on 2 items
            (np.array([[0.0, 0.0, 0.0, 0.0]]), np.array([[0.5, 0.5, 0.5, 0.5]]))]  # delta -0.5 on 4 items
  result = paired_bootstrap_strata(strata, n_resamples=200, seed=0)
  assert result.delta == pytest.approx(0.25)  # not the item-weighted (2 - 2) / 6 = 0
  assert result.n_items == 6
  assert result.ci_low == pytest.approx(0.25) and result.ci_high == pytest.approx(0.25)


def test_one_stratum_equals_the_plain_bootstrap():
  rng = np.random.default_rng(6)
  condition, baseline = rng.uniform(size=(3, 40)), rng.uniform(size=(2, 40))
  assert (paired_bootstrap_strata([(condition, baseline)], n_resamples=500, seed=3)
          == paired_bootstrap(condition, baseline, n_resamples=500, seed=3))


def test_large_suites_are_resampled_in_blocks():
  rng = np.random.default_rng(7)
  condition, baseline = rng.uniform(size=(2, 5000)), rng.uniform(size=(2, 5000))
  result = paired_bootstrap(condition, baseline, n_resamples=1000, seed=0)  # 5M floats: two blocks
  assert isinstance(result, BootstrapResult) and result.ci_low < result.delta < result.ci_high


# ---------------------------------------------------------------------------------------------
# Calibration: A/A comparisons (both arms from one distribution) are significant about 5% of the time.

REPS = 400


def aa_rate(make_strata, *, n_resamples: int = 600) -> float:
  """Fraction of REPS simulated A/A comparisons with p < 0.05."""
  hits = 0
  for rep in range(REPS):
    strata = make_strata(np.random.default_rng(10_000 + rep))
    hits += paired_bootstrap_strata(strata, n_resamples=n_resamples, seed=rep).p_value < 0.05
  return hits / REPS


def runs(rng, mu, n_seeds, run_sd, noise_sd, run_effects=None):
  """Scores [seeds, items] = item difficulty + a per-run offset + item-by-run noise."""
  offsets = rng.normal(0, run_sd, size=(n_seeds, 1)) if run_effects is None else run_effects
  return mu[None] + offsets + rng.normal(0, noise_sd, size=(n_seeds, mu.size))


def test_aa_one_seed_each():
  def make(rng):
    mu = rng.uniform(0.2, 0.8, size=60)
    return [(runs(rng, mu, 1, 0, 0.2), runs(rng, mu, 1, 0, 0.2))]
  assert 0.02 <= aa_rate(make) <= 0.08


def test_aa_binary_scores():
  def make(rng):
    p = rng.uniform(0.1, 0.9, size=80)
    return [((rng.uniform(size=(1, 80)) < p).astype(float), (rng.uniform(size=(1, 80)) < p).astype(float))]
  assert 0.02 <= aa_rate(make) <= 0.08


def test_aa_three_seeds_each():
  def make(rng):
    mu = rng.uniform(0.2, 0.8, size=60)
    return [(runs(rng, mu, 3, 0.03, 0.2), runs(rng, mu, 3, 0.03, 0.2))]
  assert 0.02 <= aa_rate(make) <= 0.08


def test_aa_stratified():
  def make(rng):
    return [(runs(rng, mu, 1, 0, 0.2), runs(rng, mu, 1, 0, 0.2)) for mu in rng.uniform(0.2, 0.8, size=(4, 30))]
  assert 0.02 <= aa_rate(make) <= 0.08


def test_aa_stratified_three_seeds_each():
  def make(rng):
    offsets = [rng.normal(0, 0.03, size=(3, 1)) for _ in range(2)]  # a run is better or worse everywhere
    return [(runs(rng, mu, 3, 0, 0.2, offsets[0]), runs(rng, mu, 3, 0, 0.2, offsets[1]))
            for mu in rng.uniform(0.2, 0.8, size=(3, 40))]
  assert 0.02 <= aa_rate(make) <= 0.08
