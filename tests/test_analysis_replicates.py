"""The t-test over training runs (xgen.analysis.replicates): by hand against scipy's t-tests, its interval against
its p-value, where it declines, and its false-positive rate on simulated A/A studies whose runs differ by family.

  python tests/test_analysis_replicates.py   # the calibration figures of replicates' docstring, old test beside
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy import stats

from xgen.analysis.replicates import run_t_test
from xgen.analysis.transfer import suite_deltas, transfer_matrix


def shifted(base: np.ndarray, shifts) -> np.ndarray:
  """base [seeds, items] with run k moved by shifts[k] on every item."""
  return base + np.asarray(shifts, dtype=float)[:, None]


def test_paired_runs_without_item_spread_is_the_paired_t_test():
  base = np.tile(np.linspace(0.0, 1.0, 8), (3, 1))
  cond = shifted(base, [0.10, 0.02, 0.06])
  result = run_t_test([(cond, base)], pair_seeds=True)
  expected = stats.ttest_rel(cond.mean(axis=1), base.mean(axis=1))
  assert result.delta == pytest.approx(0.06)
  assert result.p_value == pytest.approx(expected.pvalue)
  half = stats.t.ppf(0.975, 2) * np.std([0.10, 0.02, 0.06], ddof=1) / np.sqrt(3)
  assert (result.ci_low, result.ci_high) == pytest.approx((0.06 - half, 0.06 + half))
  assert (result.n_items, result.n_seeds_condition, result.n_seeds_baseline) == (8, 3, 3)


def test_unpaired_runs_is_welch_and_a_one_seed_arm_counts_as_a_fixed_model():
  items = np.tile(np.linspace(0.0, 1.0, 6), (3, 1))
  base = shifted(items, [0.0, 0.1, 0.3])
  cond = shifted(items, [0.2, 0.25, 0.4])
  result = run_t_test([(cond, base)], pair_seeds=False)
  expected = stats.ttest_ind(cond.mean(axis=1), base.mean(axis=1), equal_var=False)
  assert result.p_value == pytest.approx(expected.pvalue)
  pre_rl = items[:1] + 0.5
  one = run_t_test([(pre_rl, base)], pair_seeds=False)
  expected = stats.ttest_1samp(base.mean(axis=1), pre_rl.mean())
  assert one.delta == pytest.approx(pre_rl.mean() - base.mean()) and one.p_value == pytest.approx(expected.pvalue)


def test_no_run_spread_to_test_against_gives_none():
  base = np.random.default_rng(0).random((1, 10))
  assert run_t_test([(base + 0.1, base)], pair_seeds=False) is None
  assert run_t_test([(base + 0.1, base)], pair_seeds=True) is None


def test_the_item_sampling_widens_the_interval_and_twins_count_as_one():
  rng = np.random.default_rng(1)
  base = (rng.random((3, 40)) < 0.4).astype(float)
  cond = (rng.random((3, 40)) < 0.5).astype(float)
  plain = run_t_test([(cond, base)], pair_seeds=True)
  runs_only = stats.ttest_rel(cond.mean(axis=1), base.mean(axis=1))
  assert plain.p_value > runs_only.pvalue
  twins = run_t_test([(np.repeat(cond, 2, axis=1), np.repeat(base, 2, axis=1))], pair_seeds=True,
                     clusters=[np.repeat(np.arange(40), 2)])
  assert twins.delta == pytest.approx(plain.delta) and twins.p_value == pytest.approx(plain.p_value, rel=0.05)


def test_the_interval_excludes_zero_exactly_when_p_is_below_alpha():
  rng = np.random.default_rng(2)
  for index in range(200):
    shifts = rng.normal(0, 0.05, size=3)
    base = (rng.random((3, 32)) < 0.3).astype(float)
    cond = (rng.random((3, 32)) < np.clip(0.3 + shifts[:, None] + 0.03, 0, 1)).astype(float)
    result = run_t_test([(cond, base), (cond[:, :16], base[:, :16])], pair_seeds=index % 2 == 0)
    assert (result.ci_low > 0 or result.ci_high < 0) == (result.p_value < 0.05)


def test_strata_are_weighted_equally_like_the_bootstrap():
  base = [np.zeros((2, 4)), np.zeros((2, 40))]
  cond = [np.full((2, 4), 0.5), np.zeros((2, 40))]
  result = run_t_test(list(zip(cond, base)), pair_seeds=True)
  assert result.delta == pytest.approx(0.25)


# --- calibration on simulated studies: runs differ by a shift shared by a family's suites --------------------

FAMILIES, DOMAINS, ITEMS = 4, 6, 32


def simulated_arm(rng: np.random.Generator, difficulty: dict, seeds, family_sd: float, suite_sd: float = 0.02,
                  effect: float = 0.0) -> dict:
  """seed -> suite -> item -> 0/1 score; each run is moved by Normal(0, family_sd) on all of a family's suites and
  Normal(0, suite_sd) on each suite."""
  out = {}
  for seed in seeds:
    out[seed] = {}
    for family in range(FAMILIES):
      shift = rng.normal(0, family_sd) + effect
      for domain in range(DOMAINS):
        p = np.clip(difficulty[family, domain] + shift + rng.normal(0, suite_sd), 0.01, 0.99)
        out[seed][f"f{family}.d{domain}"] = {f"i{i}": float(rng.random() < p[i]) for i in range(ITEMS)}
  return out


def aa_family_rates(n_studies: int, *, paired: bool, family_sd: float, p_values: str = "runs",
                    data_seed: int = 0) -> tuple[float, float]:
  """(share of A/A family cells with p < 0.05, share whose 95% interval covers 0)."""
  rng = np.random.default_rng(data_seed)
  hits = covered = total = 0
  for study in range(n_studies):
    difficulty = {(f, d): rng.beta(2, 6, ITEMS) for f in range(FAMILIES) for d in range(DOMAINS)}
    scores = {"baseline": simulated_arm(rng, difficulty, [0, 1, 2], family_sd),
              "aa": simulated_arm(rng, difficulty, [0, 1, 2] if paired else [7, 8, 9], family_sd)}
    matrix = transfer_matrix(scores, "baseline", view="family", p_values=p_values, pair_seeds=paired,
                             run_variance="family", seed=study, n_resamples=500, max_resamples=20_000)
    for cell in matrix.cells.values():
      total += 1
      hits += cell.p_value < 0.05
      covered += cell.ci_low <= 0 <= cell.ci_high
  return hits / total, covered / total


def test_runs_shared_by_a_family_do_not_make_false_positives():
  rate, coverage = aa_family_rates(120, paired=True, family_sd=0.06, data_seed=3)
  assert 0.02 <= rate <= 0.085 and 0.92 <= coverage <= 0.98, (rate, coverage)
  rate, coverage = aa_family_rates(60, paired=False, family_sd=0.06, data_seed=4)
  assert rate <= 0.06 and coverage >= 0.94, (rate, coverage)


def test_a_shift_every_run_shows_is_found_and_marked_as_tested_over_runs():
  rng = np.random.default_rng(5)
  difficulty = {(f, d): rng.beta(2, 6, ITEMS) for f in range(FAMILIES) for d in range(DOMAINS)}
  scores = {"baseline": simulated_arm(rng, difficulty, [0, 1, 2], 0.01),
            "trait": simulated_arm(rng, difficulty, [0, 1, 2], 0.01, effect=0.2),
            "pre-rl": simulated_arm(rng, difficulty, [0], 0.0)}
  matrix = transfer_matrix(scores, "baseline", view="family", p_values="runs", pair_seeds=True)
  assert all(matrix.cell("trait", f"f{f}").significant for f in range(FAMILIES))
  assert {cell.p_method for cell in matrix.cells.values()} == {"runs"}
  deltas = suite_deltas(scores, "baseline", p_values="runs", pair_seeds=True)
  assert {d.p_method for d in deltas} == {"runs"} and not any(d.seeds_resampled for d in deltas)
  one_seed = {c: {0: arm[0]} for c, arm in scores.items()}
  fallback = suite_deltas(one_seed, "baseline", p_values="runs", pair_seeds=True, run_variance="family")
  assert {d.p_method for d in fallback} == {"permutation"}


def main() -> None:
  print("A/A family cells, 3 seeds per arm, 4 families x 6 suites x 32 items, p < 0.05 and 95% coverage of 0:")
  for family_sd in (0.0, 0.06):
    for paired in (True, False):
      for p_values in ("runs", "permutation"):
        rate, coverage = aa_family_rates(100, paired=paired, family_sd=family_sd, p_values=p_values, data_seed=11)
        print(f"  run shift sd {family_sd:.2f}, {'paired' if paired else 'unpaired'}, {p_values}: "
              f"{rate:.3f}, {coverage:.3f}")


if __name__ == "__main__":
  sys.exit(main())


def test_twins_told_apart_change_the_item_part_and_clustered_they_equal_one_item():
  rng = np.random.default_rng(1)
  base = (rng.random((3, 40)) < 0.4).astype(float)
  cond = (rng.random((3, 40)) < 0.5).astype(float)
  doubled = [(np.repeat(cond, 2, axis=1), np.repeat(base, 2, axis=1))]
  plain = run_t_test([(cond, base)], pair_seeds=True)
  clustered = run_t_test(doubled, pair_seeds=True, clusters=[np.repeat(np.arange(40), 2)])
  unclustered = run_t_test(doubled, pair_seeds=True)
  assert clustered.p_value == pytest.approx(plain.p_value, rel=1e-9)
  assert unclustered.p_value < plain.p_value - 0.01  # each twin counted as an item: half the item variance
