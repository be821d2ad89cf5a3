"""The training-reward rise (late half minus early half, pooled over seeds, a batch-means t interval over steps):
hand-computed values, the split at the middle of the run, seeds without enough values left out, and
calibration: flat noisy rewards cover 0 about 95% of the time, a planted rise is detected."""

from __future__ import annotations

import numpy as np
import pytest

from xgen.analysis.training import halves, reward_rise


def test_the_rise_is_the_mean_over_seeds_of_late_minus_early():
  series = {0: [(1, 0.1), (2, 0.3), (3, 0.5), (4, 0.7)], 1: [(1, 0.2), (2, 0.2), (3, 0.2), (4, 0.4)]}
  rise = reward_rise(series, metric="m", condition="c")
  # seed 0: 0.6 - 0.2 = 0.4; seed 1: 0.3 - 0.2 = 0.1. Each half is 2 batches of one value: variances of the half
  # means (batch variance / 2) 0.01, 0.01, 0, 0.01 -> total 0.03, over K^2 = 4; df = 0.03^2 / (3 x 0.01^2) = 3.
  assert rise.rise == pytest.approx(0.25) and rise.per_seed == ((0, pytest.approx(0.4)), (1, pytest.approx(0.1)))
  half_width = 3.18244631 * np.sqrt(0.03) / 2  # t(3) at 0.975
  assert (rise.ci_low, rise.ci_high) == (pytest.approx(0.25 - half_width), pytest.approx(0.25 + half_width))
  assert rise.steps == 4 and rise.seeds == 2
  assert rise.text().startswith("+0.250 [") and rise.text().endswith("(2 seeds, 4 steps)")


def test_constant_halves_have_a_point_interval_and_the_split_is_at_the_middle_of_the_steps_run():
  # logged at steps 2, 3 and 9 of a 10-step run: early = steps <= 5 (2, 3), late = 9 and the value at 10
  early, late = halves([(9, 1.0), (2, 0.0), (3, 0.0), (10, 1.0)], 10)
  assert list(early) == [0.0, 0.0] and list(late) == [1.0, 1.0]
  rise = reward_rise({7: [(9, 1.0), (2, 0.0), (3, 0.0), (10, 1.0)]}, metric="m", condition="c")
  assert (rise.rise, rise.ci_low, rise.ci_high) == (1.0, 1.0, 1.0) and rise.rose


def test_seeds_without_two_values_in_each_half_are_left_out_and_none_left_is_none():
  series = {0: [(1, 0.0), (2, 0.0), (3, 1.0), (4, 1.0)], 1: [(1, 5.0), (4, 9.0)]}
  rise = reward_rise(series, metric="m", condition="c")
  assert [s for s, _ in rise.per_seed] == [0] and rise.rise == 1.0
  assert reward_rise({1: [(1, 5.0), (4, 9.0)]}, metric="m", condition="c") is None
  with pytest.raises(ValueError):
    reward_rise(series, metric="m", condition="c", batch=0)


def _noisy_runs(rng: np.random.Generator, slope: float, steps: int = 120, seeds: int = 3) -> dict:
  """Per-step rewards: a run's level, a slow AR(1) drift, batch noise, and ``slope`` per step."""
  out = {}
  for k in range(seeds):
    drift, values = 0.0, []
    for step in range(1, steps + 1):
      drift = 0.8 * drift + rng.normal(0, 0.01)
      values.append((step, 0.3 + drift + slope * step + rng.normal(0, 0.08)))
    out[k] = values
  return out


def test_flat_rewards_cover_zero_about_95_percent_and_a_planted_rise_is_detected():
  rng = np.random.default_rng(5)
  flat = [reward_rise(_noisy_runs(rng, 0.0), metric="m", condition="c") for _ in range(400)]
  coverage = np.mean([r.ci_low <= 0 <= r.ci_high for r in flat])
  assert 0.9 <= coverage <= 0.98, coverage
  planted = [reward_rise(_noisy_runs(rng, 0.0005), metric="m", condition="c") for _ in range(100)]
  assert np.mean([r.rose for r in planted]) >= 0.75  # +0.03 between the halves' centres
