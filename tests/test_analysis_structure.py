"""Shared structure across suites: the statistics on hand-built matrices, a calibrated permutation null,
and a planted shared factor found."""

from __future__ import annotations

import numpy as np
import pytest

from xgen.analysis.structure import mean_spearman, pc1_share, permutation_band, permuted


def test_statistics_on_hand_built_matrices():
  x = np.arange(6.0)
  assert mean_spearman(np.stack([x, x ** 2, np.exp(x)], axis=1)) == pytest.approx(1.0)  # monotone: rank-identical
  assert mean_spearman(np.stack([x, -x], axis=1)) == pytest.approx(-1.0)
  assert mean_spearman(np.stack([x, np.ones(6)], axis=1)) == 0.0  # a constant suite correlates with nothing
  assert pc1_share(np.outer(x, [1.0, 2.0, -3.0])) == pytest.approx(1.0)  # rank one: all variance on PC1
  assert pc1_share(np.eye(4)) == pytest.approx(0.25, abs=0.1)
  with pytest.raises(ValueError, match="units >= 3, suites >= 2"):
    mean_spearman(np.ones((2, 5)))
  with pytest.raises(ValueError, match="NaN"):
    pc1_share(np.array([[0.0, 1.0], [np.nan, 1.0], [1.0, 0.0]]))
  with pytest.raises(ValueError, match="statistic must be one of"):
    permutation_band(np.ones((4, 3)), "kendall", seed=0)


def test_a_permutation_keeps_each_suite_and_breaks_their_link():
  matrix = np.arange(40.0).reshape(10, 4)
  shuffled = permuted(matrix, np.random.default_rng(0))
  assert all(sorted(shuffled[:, j]) == sorted(matrix[:, j]) for j in range(4))
  assert not np.array_equal(shuffled, matrix)


@pytest.mark.parametrize("statistic", ["mean_spearman", "pc1_share"])
def test_the_null_band_is_calibrated_without_shared_structure(statistic):
  rng = np.random.default_rng(1)
  inside, below_005 = 0, 0
  studies = 200
  for study in range(studies):
    matrix = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=(20, 10))  # independent suites, tied scores
    result = permutation_band(matrix, statistic, seed=study, n_permutations=200)
    inside += result.null_low <= result.observed <= result.null_high
    below_005 += result.p_value < 0.05
  assert 0.90 <= inside / studies <= 0.99, inside / studies  # nominal 0.95
  assert 0.01 <= below_005 / studies <= 0.09, below_005 / studies  # nominal 0.05


@pytest.mark.parametrize("statistic", ["mean_spearman", "pc1_share"])
def test_a_planted_shared_factor_is_found(statistic):
  rng = np.random.default_rng(2)
  found = 0
  for study in range(40):
    ability = rng.normal(size=(20, 1))  # a checkpoint that is better on one suite is better on all
    matrix = 0.6 * ability + rng.normal(size=(20, 10))
    result = permutation_band(matrix, statistic, seed=study, n_permutations=200)
    found += result.p_value < 0.05 and result.observed > result.null_high
  assert found / 40 >= 0.9, found
