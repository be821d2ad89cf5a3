"""Tests for the counts (improved / tied / worse, significant up / down, sign test), BH over a claim's family,
the item- and seed-level variance split, and loading greedy and sampled scores side by side."""

from __future__ import annotations

import gzip
import json
import math

import numpy as np
import pytest

from xgen.analysis.bootstrap import benjamini_hochberg
from xgen.analysis.counts import (ClaimCounts, claim_counts, counts_by_group, family_q_values,
                                  sign_test_p)
from xgen.analysis.load import load_modes, load_scores
from xgen.analysis.transfer import SuiteDelta, deltas_by_mode
from xgen.analysis.variance import delta_run_variance, variance_by_family, variance_split


def delta(condition: str, suite: str, value: float, *, significant: bool = False, p: float = 0.5) -> SuiteDelta:
  family, domain = suite.split(".")
  return SuiteDelta(condition=condition, suite=suite, family=family, domain=domain, baseline_mean=0.5,
                    condition_mean=0.5 + value, delta=value, ci_low=value - 0.1, ci_high=value + 0.1, p_value=p,
                    q_value=0.01 if significant else 0.5, n_items=10, n_seeds=3, significant=significant)


DELTAS = [delta("a", "honesty.health", 0.1, significant=True, p=0.001),
          delta("a", "honesty.law", 0.05, p=0.2),
          delta("a", "sycophancy.health", 0.0, p=1.0),
          delta("a", "sycophancy.law", -0.2, significant=True, p=0.002),
          delta("a", "capability.health", -0.03, p=0.04),
          delta("a", "capability.law", -0.01, p=0.6),
          delta("b", "honesty.health", 0.3, significant=True, p=0.0001)]


# ---------------------------------------------------------------------------------------------
# Sign test.


def test_sign_test_by_hand():
  assert sign_test_p(9, 1) == pytest.approx(2 * (1 + 10) / 1024)
  assert sign_test_p(1, 9) == sign_test_p(9, 1)
  assert sign_test_p(0, 0) == 1.0 and sign_test_p(2, 2) == 1.0
  assert sign_test_p(5, 0) == pytest.approx(2 / 32)
  assert sign_test_p(44, 9) < 1e-5  # the paper's 44 of 53
  with pytest.raises(ValueError, match="worse"):
    sign_test_p(3, -1)


# ---------------------------------------------------------------------------------------------
# Counts.


def test_claim_counts_by_hand():
  counts = claim_counts(DELTAS, "a")
  assert counts == ClaimCounts(condition="a", group="all", total=6, improved=2, tied=1, worse=3, significant_up=1,
                               significant_down=1, sign_test_p=1.0, text=counts.text)
  assert counts.text == ("2 of 6 improved, 1 tied, 3 worse (1 significantly up, 1 significantly down; "
                         "sign test p = 1)")
  assert claim_counts(DELTAS, "a", tie=0.02).tied == 2
  assert claim_counts(DELTAS, "nobody").total == 0
  health = claim_counts(DELTAS, "a", group="non-health", exclude_domains=("health",))
  assert (health.group, health.total, health.improved, health.worse) == ("non-health", 3, 1, 2)
  assert claim_counts(DELTAS, "a", domains=("law",), families=("honesty",)).total == 1


def test_counts_by_group_keep_capability_apart():
  groups = counts_by_group(DELTAS)
  assert [(c.condition, c.group, c.total) for c in groups] == [("a", "alignment", 4), ("a", "capability", 2),
                                                                ("b", "alignment", 1)]
  alignment, capability = groups[0], groups[1]
  assert (alignment.improved, alignment.tied, alignment.worse) == (2, 1, 1)
  assert (capability.improved, capability.worse, capability.significant_down) == (0, 2, 0)
  assert capability.sign_test_p == pytest.approx(0.5)


def test_family_q_values_and_counts_by_them():
  members = [("a", "honesty.health"), ("a", "honesty.law"), ("a", "capability.health")]
  q = family_q_values(DELTAS, members)
  assert list(q) == members
  np.testing.assert_allclose(list(q.values()), benjamini_hochberg([0.001, 0.2, 0.04]))
  counts = claim_counts(DELTAS, "a", q_values=q, alpha=0.05)
  assert (counts.significant_up, counts.significant_down) == (1, 0)  # sycophancy.law is outside the family
  with pytest.raises(ValueError, match="without a delta"):
    family_q_values(DELTAS, [("a", "honesty.moon")])
  with pytest.raises(ValueError, match="tie"):
    claim_counts(DELTAS, "a", tie=-1)


# ---------------------------------------------------------------------------------------------
# Variance split.


def test_variance_split_by_hand():
  items = np.array([0.0, 1.0, 0.0, 1.0])  # item variance (ddof 1) = 1/3
  suite = np.stack([items + shift for shift in (-0.1, 0.0, 0.1)])  # seed means -> variance 0.01
  item_variance, item_term, seed_variance = variance_split([suite])
  assert item_variance == pytest.approx(1 / 3) and item_term == pytest.approx(1 / 12)
  assert seed_variance == pytest.approx(0.01)
  assert math.isnan(variance_split([suite[:1]])[2])
  with pytest.raises(ValueError, match=r"suites\[1\]"):
    variance_split([suite, suite[:, :1]])
  with pytest.raises(ValueError, match="seed count"):
    variance_split([suite, suite[:2]])


def test_delta_run_variance_by_hand():
  rng = np.random.default_rng(1)
  items = rng.random(20)
  base = items + np.array([[0.0], [0.1], [0.2]])  # no run x item interaction: MS_residual = 0
  cond = base + np.array([[-0.1], [0.0], [0.1]])  # pair differences -0.1, 0, 0.1: variance 0.01
  assert delta_run_variance(cond, base, pair_seeds=True) == pytest.approx(0.01 / 3)
  # Unpaired: run variance 0.01 in each arm -> 0.01 / 3 + 0.01 / 3; a one-seed arm borrows the other's.
  assert delta_run_variance(base, base, pair_seeds=False) == pytest.approx(0.02 / 3)
  assert delta_run_variance(items[None], base) == pytest.approx(0.01 / 1 + 0.01 / 3)
  assert math.isnan(delta_run_variance(items[None], items[None]))
  noise = rng.normal(0, 0.2, size=(3, 20))  # interaction only: the estimate is about 0, either sign
  assert abs(delta_run_variance(base + noise, base, pair_seeds=True)) < 0.005
  with pytest.raises(ValueError, match="pair_seeds"):
    delta_run_variance(base, base[:1], pair_seeds=True)


def test_variance_by_family():
  rng = np.random.default_rng(0)
  scores: dict = {}
  for seed, shift in enumerate((-0.2, 0.0, 0.2)):
    for suite in ("honesty.health", "honesty.law", "capability.law"):
      values = np.clip(rng.uniform(0.3, 0.7, size=50) + (shift if suite.startswith("honesty") else 0.0), 0, 1)
      scores.setdefault("c", {}).setdefault(seed, {})[suite] = {f"i{i}": float(v) for i, v in enumerate(values)}
  splits = {s.family: s for s in variance_by_family(scores, "c")}
  assert list(splits) == ["capability", "honesty"]
  assert (splits["honesty"].n_suites, splits["honesty"].n_seeds) == (2, 3)
  assert splits["honesty"].seed_share > 0.9 > 0.5 > splits["capability"].seed_share
  with pytest.raises(ValueError, match="condition"):
    variance_by_family(scores, "d")


# ---------------------------------------------------------------------------------------------
# Greedy and sampled scores side by side.


def row(condition: str, seed: int, item_id: str, score: float, *, mode="greedy", sample=0) -> dict:
  suite = "honesty.health"
  return {"checkpoint": f"{condition}.s{seed}", "cell": f"{condition}.s{seed}", "condition": condition, "seed": seed,
          "step": 200, "suite": suite, "family": "honesty", "domain": "health", "item_id": item_id, "mode": mode,
          "sample": sample, "persona": None, "responses": ["..."], "score": score, "refused": score == 0.0}


def write_rows(workdir, checkpoint: str, rows: list) -> None:
  path = workdir / "eval" / checkpoint / "honesty.health.jsonl.gz"
  path.parent.mkdir(parents=True, exist_ok=True)
  with gzip.open(path, "wt", encoding="utf-8") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)


def test_load_modes_reads_greedy_and_sampled_means_in_one_pass(tmp_path):
  for condition, greedy, samples in (("baseline", (1.0, 0.0), ((1.0, 0.0, 0.0), (0.0, 0.5, 1.0))),
                                     ("trait", (1.0, 1.0), ((1.0, 1.0, 0.5), (0.5, 0.5, 1.0)))):
    rows = [row(condition, 0, f"q{i}", g) for i, g in enumerate(greedy)]
    rows += [row(condition, 0, f"q{i}", s, mode="sampled", sample=k)
             for i, values in enumerate(samples) for k, s in enumerate(values)]
    write_rows(tmp_path, f"{condition}.s0", rows)
  loaded = load_modes(tmp_path)
  assert list(loaded) == ["greedy", "sampled"]
  assert loaded["greedy"] == load_scores(tmp_path)
  assert loaded["sampled"] == load_scores(tmp_path, mode="sampled")
  assert loaded["sampled"][0]["baseline"][0]["honesty.health"] == {"q0": pytest.approx(1 / 3), "q1": 0.5}
  assert loaded["sampled"][1]["baseline", "honesty.health"] == pytest.approx(3 / 6)
  assert list(load_modes(tmp_path, modes=("sampled",))) == ["sampled"]
  with pytest.raises(ValueError, match="modes"):
    load_modes(tmp_path, modes=("beam",))
  by_mode = deltas_by_mode({mode: scores for mode, (scores, _) in loaded.items()}, "baseline", n_resamples=50)
  (greedy,), (sampled,) = by_mode["greedy"], by_mode["sampled"]
  assert (greedy.mode, sampled.mode) == ("greedy", "sampled")
  assert greedy.delta == pytest.approx(0.5) and sampled.delta == pytest.approx((5 / 6 - 1 / 3 + 2 / 3 - 0.5) / 2)
  with pytest.raises(ValueError, match="mode"):
    deltas_by_mode({}, "baseline", mode="greedy")


def test_load_modes_skips_a_mode_without_rows(tmp_path):
  write_rows(tmp_path, "baseline.s0", [row("baseline", 0, "q0", 1.0)])
  assert list(load_modes(tmp_path)) == ["greedy"]


def test_an_aa_arm_sets_the_run_variance_floor_of_the_other_conditions():
  from xgen.analysis.transfer import aa_run_variance, suite_deltas
  rng = np.random.default_rng(0)
  suites = [f"honesty.d{k}" for k in range(8)]
  shifts = {"aa": 0.12, "x": 0.12}  # every run lands about 12 points from the baseline's: run noise, no effect

  def arm(shift_sign):
    return {0: {s: {str(i): float(np.clip(0.5 + shift_sign[s] + rng.normal(0, 0.2), 0, 1)) for i in range(150)}
                for s in suites}}
  signs = {c: {s: shifts[c] * rng.choice([-1, 1]) for s in suites} for c in shifts}
  scores = {"baseline": arm({s: 0.0 for s in suites}), "aa": arm(signs["aa"]), "x": arm(signs["x"])}
  assert aa_run_variance(scores, "baseline", "aa")["honesty"] > 0.01
  assert aa_run_variance(scores, "baseline", None) == {}
  options = dict(p_values="permutation", seed=0, max_resamples=20_000)
  alone = [d for d in suite_deltas(scores, "baseline", **options) if d.condition == "x"]
  floored = [d for d in suite_deltas(scores, "baseline", aa_condition="aa", **options) if d.condition == "x"]
  aa_row = [d for d in suite_deltas(scores, "baseline", aa_condition="aa", **options) if d.condition == "aa"]
  assert sum(d.significant for d in alone) >= 6  # item sampling alone calls run noise an effect
  assert sum(d.significant for d in floored) == 0  # the A/A arm's run variance absorbs it
  assert sum(d.significant for d in aa_row) >= 6  # the A/A arm itself is tested raw: its count is the warning
