"""Tests for pairing seeds across arms and clustering twin items, in the bootstrap, the sign-flip test and the
per-suite analysis, on hand-built data where each matters."""

from __future__ import annotations

import numpy as np
import pytest

from xgen.analysis.bootstrap import paired_bootstrap, paired_bootstrap_strata
from xgen.analysis.clusters import cluster_labels, twin_clusters, twins_of
from xgen.analysis.transfer import suite_deltas, transfer_matrix

# ---------------------------------------------------------------------------------------------
# Twin clusters from scenarios.


def scenario(item_id: str, **reference) -> dict:
  return {"id": item_id, "reference": reference}


def test_twin_clusters_join_sets_and_chains():
  scenarios = [scenario("e/h/x/test/00000a", twins=["e/h/x/test/00000b"], twin="e/h/x/test/00000b"),
               scenario("e/h/x/test/00000b", twins=["e/h/x/test/00000a"], twin="e/h/x/test/00000a"),
               scenario("e/h/x/test/00001c", twins=["e/h/x/test/00001a", "e/h/x/test/00001b"]),
               scenario("e/h/x/test/00001a", twins=["e/h/x/test/00001b", "e/h/x/test/00001c"]),
               scenario("e/h/x/test/00001b"),
               scenario("e/h/x/test/00002"),
               scenario("q3", twin="q4"), scenario("q5", twin="q4")]  # a chain q3 - q4 - q5
  clusters = twin_clusters(scenarios)
  assert clusters == {"e/h/x/test/00000a": "e/h/x/test/00000a", "e/h/x/test/00000b": "e/h/x/test/00000a",
                      "e/h/x/test/00001a": "e/h/x/test/00001a", "e/h/x/test/00001b": "e/h/x/test/00001a",
                      "e/h/x/test/00001c": "e/h/x/test/00001a", "e/h/x/test/00002": "e/h/x/test/00002",
                      "q3": "q3", "q4": "q3", "q5": "q3"}
  assert twin_clusters(reversed(scenarios)) == clusters


def test_twin_clusters_read_scenario_objects():
  from types import SimpleNamespace
  scenarios = [SimpleNamespace(id="s/00000a", reference={"twins": ["s/00000b", "s/00000c"]}),
               SimpleNamespace(id="s/00000c", reference={"twins": ["s/00000a", "s/00000b"]}),
               SimpleNamespace(id="s/00001", reference={})]
  assert twin_clusters(scenarios) == {"s/00000a": "s/00000a", "s/00000b": "s/00000a", "s/00000c": "s/00000a",
                                      "s/00001": "s/00001"}


def test_twins_of_checks_the_reference():
  assert twins_of(None) == [] and twins_of({"twin": 3}) == ["3"]
  with pytest.raises(ValueError, match="'twins' must be a list"):
    twins_of({"twins": "abc"}, "x")
  with pytest.raises(ValueError, match="'twin' must be one id"):
    twins_of({"twin": ["a"]}, "x")
  with pytest.raises(ValueError, match="'id'"):
    twin_clusters([{"reference": {}}])


def test_cluster_labels():
  assert cluster_labels(["a", "b"], None) is None
  labels = cluster_labels(["b", "a", "c", "d"], {"a": "x", "b": "x", "d": "c"})
  np.testing.assert_array_equal(labels, [0, 0, 1, 2])  # "c" alone is not the cluster named "c"


# ---------------------------------------------------------------------------------------------
# Seed pairs: a seed effect shared by both arms of a pair cancels only when pairs are drawn together.


def seed_effect_arms(rng: np.random.Generator, n_items: int = 80) -> tuple[np.ndarray, np.ndarray]:
  shared = np.array([[-0.3], [0.0], [0.3]])  # seed k's data stream moves both arms alike
  base = np.clip(0.5 + shared + rng.normal(0, 0.05, size=(3, n_items)), 0, 1)
  return np.clip(base + 0.02 + rng.normal(0, 0.02, size=(3, n_items)), 0, 1), base


def test_paired_seeds_cancel_a_shared_seed_effect():
  condition, baseline = seed_effect_arms(np.random.default_rng(0))
  paired = paired_bootstrap(condition, baseline, n_resamples=2000, seed=0, pair_seeds=True)
  unpaired = paired_bootstrap(condition, baseline, n_resamples=2000, seed=0)
  assert paired.delta == unpaired.delta
  assert paired.ci_high - paired.ci_low < 0.02 and paired.ci_low > 0.01
  assert unpaired.ci_high - unpaired.ci_low > 10 * (paired.ci_high - paired.ci_low)
  assert unpaired.ci_low < 0 < unpaired.ci_high  # the shared seed effect drowns the +0.02


def test_pair_seeds_needs_equal_seed_counts():
  with pytest.raises(ValueError, match="pair_seeds"):
    paired_bootstrap(np.ones((3, 4)), np.ones((1, 4)), seed=0, pair_seeds=True)
  with pytest.raises(ValueError, match=r"clusters\[0\]"):
    paired_bootstrap(np.ones((3, 4)), np.ones((3, 4)), seed=0, clusters=[0, 1, 2])
  with pytest.raises(ValueError, match="one entry per stratum"):
    paired_bootstrap_strata([(np.ones((1, 4)), np.ones((1, 4)))], seed=0, clusters=[None, None])


# ---------------------------------------------------------------------------------------------
# Clusters: perfectly correlated twins are one unit of evidence, not several.


def copied_twins(rng: np.random.Generator, n_facts: int = 30, copies: int = 4) -> tuple[np.ndarray, np.ndarray]:
  rate = rng.uniform(0.2, 0.8, size=n_facts)
  arms = [np.repeat((rng.random((1, n_facts)) < rate + shift).astype(float), copies, axis=1) for shift in (0.1, 0)]
  return arms[0], arms[1]


def test_correlated_twins_widen_the_interval_when_clustered():
  condition, baseline = copied_twins(np.random.default_rng(1))
  labels = np.arange(condition.shape[1]) // 4
  clustered = paired_bootstrap(condition, baseline, n_resamples=4000, seed=0, clusters=labels)
  loose = paired_bootstrap(condition, baseline, n_resamples=4000, seed=0)
  assert clustered.delta == loose.delta
  ratio = (clustered.ci_high - clustered.ci_low) / (loose.ci_high - loose.ci_low)
  assert ratio == pytest.approx(2.0, rel=0.15)  # sqrt(4 copies)


def test_singleton_clusters_match_item_resampling_in_distribution():
  rng = np.random.default_rng(2)
  condition, baseline = rng.random((2, 60)), rng.random((2, 60))
  clustered = paired_bootstrap(condition, baseline, n_resamples=4000, seed=0, clusters=np.arange(60))
  loose = paired_bootstrap(condition, baseline, n_resamples=4000, seed=1)
  assert clustered.ci_low == pytest.approx(loose.ci_low, abs=0.015)
  assert clustered.ci_high == pytest.approx(loose.ci_high, abs=0.015)


# ---------------------------------------------------------------------------------------------
# The per-suite analysis and the matrix with clusters, paired seeds and sign-flip p-values.


def scores_with_twins(effect: float = 0.15) -> tuple[dict, dict]:
  rng = np.random.default_rng(3)
  suites = ("honesty.health", "honesty.science", "capability.health")
  scores: dict = {}
  for suite in suites:
    rate = rng.uniform(0.2, 0.8, size=48)
    for condition in ("baseline", "trait", "pre-rl"):
      for seed in ((0,) if condition == "pre-rl" else (0, 1, 2)):
        shift = effect if condition == "trait" and suite == "honesty.health" else 0.0
        values = np.repeat((rng.random(48) < rate + shift).astype(float), 2)
        scores.setdefault(condition, {}).setdefault(seed, {})[suite] = {
            f"{suite}/{i // 2:05d}{'ab'[i % 2]}": float(v) for i, v in enumerate(values)}
  clusters = {f"{s}/{i // 2:05d}{'ab'[i % 2]}": f"{s}/{i // 2:05d}" for s in suites for i in range(96)}
  return scores, clusters


def test_suite_deltas_with_permutation_p_values_clusters_and_paired_seeds():
  scores, clusters = scores_with_twins()
  plain = suite_deltas(scores, "baseline", n_resamples=500, seed=0)
  full = suite_deltas(scores, "baseline", n_resamples=500, seed=0, p_values="permutation", clusters=clusters,
                      pair_seeds=True, mode="sampled")
  assert [(d.condition, d.suite) for d in plain] == [(d.condition, d.suite) for d in full]
  for before, after in zip(plain, full):
    assert after.delta == before.delta and after.p_method == "permutation" and after.mode == "sampled"
    assert after.n_clusters == 48 and before.n_clusters is None
    assert after.paired_seeds == (after.condition == "trait") and not before.paired_seeds
    assert after.ci_high - after.ci_low > before.ci_high - before.ci_low  # twins are copies
  planted = next(d for d in full if d.condition == "trait" and d.suite == "honesty.health")
  assert planted.significant and planted.p_value < 0.01
  assert sum(d.significant for d in full) == 1
  with pytest.raises(ValueError, match="p_values"):
    suite_deltas(scores, "baseline", p_values="exact")
  narrow = suite_deltas(scores, "baseline", n_resamples=500, seed=0, p_values="permutation", clusters=clusters,
                        pair_seeds=True, resample_seeds=False)
  assert all(not d.seeds_resampled for d in narrow) and all(d.seeds_resampled for d in full)
  assert [d.p_value for d in narrow] == [d.p_value for d in full]
  assert sum(n.ci_high - n.ci_low < f.ci_high - f.ci_low for n, f in zip(narrow, full)) >= 4


def test_matrix_with_permutation_p_values():
  scores, clusters = scores_with_twins(effect=0.3)
  matrix = transfer_matrix(scores, "baseline", view="family", n_resamples=300, seed=0, p_values="permutation",
                           clusters=clusters, pair_seeds=True)
  cell = matrix.cell("trait", "honesty")
  assert cell.p_method == "permutation" and cell.significant and cell.n_suites == 2
  assert not matrix.cell("trait", "capability").significant
  assert set(matrix.to_rows()[0]) == {"view", "baseline", "alpha", "row", "column", "delta", "ci_low", "ci_high",
                                      "p_value", "q_value", "significant", "n_suites"}
