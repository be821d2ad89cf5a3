"""Tests for persistence under personas and under a harmful fine-tuning attack: hand-computed shifts and
differences, sign conventions, seed pairing, steps to half degradation, censored ratios, and the calibration
of the difference's CI on simulated studies."""

from __future__ import annotations

import numpy as np
import pytest

from xgen.analysis.bootstrap import BootstrapResult
from xgen.analysis.persistence import (AttackSummary, arm_shift, attack_results, attack_summaries,
                                       persona_comparisons, pooled_comparisons, pooled_name, scope_suites,
                                       selective_persistence, shift_difference, shift_scores, steps_ratio,
                                       steps_to_fraction, summary_for)

A, B = "deception.health", "deception.science"
CAP = "capability.health"


def table(values: dict[str, list[float]]) -> dict:
  """suite -> [score per item] as suite -> {item_id: score}."""
  return {suite: {f"{suite}-{i}": float(v) for i, v in enumerate(row)} for suite, row in values.items()}


def ci(low: float, high: float) -> BootstrapResult:
  return BootstrapResult(delta=(low + high) / 2, ci_low=low, ci_high=high, p_value=0.5, n_items=10,
                         n_seeds_condition=1, n_seeds_baseline=1)


# ---------------------------------------------------------------------------------------------
# Shifts and differences.


def test_shift_scores_subtracts_and_drops_whatever_is_missing():
  plain = {"trait": {0: {A: {"x": 0.5, "y": 1.0}, B: {"z": 0.2}}, 1: {A: {"x": 1.0}}}, "pre-rl": {0: {A: {"x": 1}}}}
  variant = {"trait": {0: {A: {"x": 0.25, "y": 1.0, "extra": 0.0}, CAP: {"w": 1.0}}, 2: {A: {"x": 0.0}}},
             "baseline": {0: {A: {"x": 0.0}}}}
  assert shift_scores(plain, variant) == {"trait": {0: {A: {"x": -0.25, "y": 0.0}}}}
  assert shift_scores(plain, {"trait": {0: {A: {"nope": 1.0}}}}) == {}


def test_arm_shift_is_the_mean_over_suites_of_item_means():
  plain = {"trait": {0: table({A: [1.0, 0.5], B: [0.6]})}}
  variant = {"trait": {0: table({A: [0.5, 0.5], B: [0.5]})}}
  # Suite A: shifts -0.5, 0 -> -0.25; suite B: -0.1. Mean over suites (not items): -0.175.
  result = arm_shift(plain, variant, "trait", [A, B], n_resamples=200, seed=0)
  assert result.delta == pytest.approx(-0.175)
  assert (result.n_items, result.n_seeds_condition, result.n_seeds_baseline) == (3, 1, 1)
  only_a = arm_shift(plain, variant, "trait", [A, "other.suite"], n_resamples=200, seed=0)
  assert only_a.delta == pytest.approx(-0.25)
  assert arm_shift(plain, variant, "trait", ["other.suite"], n_resamples=200, seed=0) is None
  assert arm_shift(plain, variant, "baseline", [A], n_resamples=200, seed=0) is None


def test_shift_difference_hand_computed_and_sign_convention():
  # Under a harmful persona the trait arm loses 0.1 on every item, the baseline 0.3: degradation(baseline)
  # - degradation(trait) = +0.2, the trait model is hurt less, and the difference is positive.
  rng = np.random.default_rng(0)
  plain_a, plain_b = rng.uniform(0.5, 1.0, size=(2, 20))
  plain = {"trait": {0: table({A: plain_a})}, "baseline": {0: table({A: plain_b})}}
  persona = {"trait": {0: table({A: plain_a - 0.1})}, "baseline": {0: table({A: plain_b - 0.3})}}
  result = shift_difference(plain, persona, "trait", "baseline", [A], n_resamples=500, seed=0)
  assert result.delta == pytest.approx(0.2)
  assert result.ci_low == pytest.approx(0.2) and result.ci_high == pytest.approx(0.2)
  reverse = shift_difference(plain, persona, "baseline", "trait", [A], n_resamples=500, seed=0)
  assert reverse.delta == pytest.approx(-0.2)


def test_shift_difference_tiny_exact_values():
  plain = {"trait": {0: table({A: [1.0, 0.5], B: [0.5]})}, "baseline": {0: table({A: [1.0, 1.0], B: [0.5]})}}
  persona = {"trait": {0: table({A: [0.5, 0.5], B: [0.75]})}, "baseline": {0: table({A: [0.0, 1.0], B: [0.25]})}}
  # Trait shifts: A -0.5, 0; B +0.25. Baseline shifts: A -1, 0; B -0.25.
  # Per-item differences: A +0.5, 0 -> +0.25; B +0.5. Mean over suites: +0.375.
  result = shift_difference(plain, persona, "trait", "baseline", [A, B], n_resamples=300, seed=1)
  assert result.delta == pytest.approx(0.375)
  assert result.n_items == 3
  assert shift_difference(plain, persona, "trait", "missing", [A, B], n_resamples=300, seed=1) is None
  assert shift_difference(plain, persona, "trait", "baseline", [CAP], n_resamples=300, seed=1) is None


def seeded_study(baseline_seeds, *, n_items: int = 40):
  """Three trait seeds 0-2; the baseline's seeds given. Seed k's persona shift has a large run effect, the
  same for both arms when they share the seed id (a shared data stream), so pairing cancels it."""
  rng = np.random.default_rng(7)
  run_effect = {k: rng.normal(0, 0.2) for k in range(10)}
  plain, persona = {}, {}
  for arm, seeds in (("trait", (0, 1, 2)), ("baseline", baseline_seeds)):
    for k in seeds:
      base = rng.uniform(0.4, 0.9, n_items)
      shift = -0.2 + run_effect[k % 3] + rng.normal(0, 0.02, n_items)
      plain.setdefault(arm, {})[k] = table({A: base})
      persona.setdefault(arm, {})[k] = table({A: base + shift})
  return plain, persona


def test_seed_pairing_cancels_a_shared_run_effect():
  paired = shift_difference(*seeded_study((0, 1, 2)), "trait", "baseline", [A], n_resamples=1000, seed=0)
  unpaired = shift_difference(*seeded_study((3, 4, 5)), "trait", "baseline", [A], n_resamples=1000, seed=0)
  assert paired.n_seeds_condition == paired.n_seeds_baseline == 3
  assert paired.ci_high - paired.ci_low < 0.05
  assert unpaired.ci_high - unpaired.ci_low > 3 * (paired.ci_high - paired.ci_low)
  one_seed = shift_difference(*seeded_study((0,)), "trait", "baseline", [A], n_resamples=300, seed=0)
  assert (one_seed.n_seeds_condition, one_seed.n_seeds_baseline) == (3, 1)


def simulated_study(rng, *, effect: float = 0.0, seeds=(0, 1, 2), run_sd: float = 0.01, n_items: int = 30):
  """Two arms from one distribution (plus ``effect`` on the trait arm's persona scores): items have their own
  difficulty and persona damage, shared by both arms; each run's persona shift has its own offset."""
  suites = (A, B)
  difficulty = {s: rng.uniform(0.3, 0.8, n_items) for s in suites}
  damage = {s: rng.uniform(0.1, 0.4, n_items) for s in suites}
  plain, persona = {}, {}
  for arm in ("baseline", "trait"):
    for k in seeds:
      offset = rng.normal(0, run_sd)
      for s in suites:
        p = difficulty[s] + rng.normal(0, 0.1, n_items)
        v = p - damage[s] + offset + (effect if arm == "trait" else 0.0) + rng.normal(0, 0.1, n_items)
        plain.setdefault(arm, {}).setdefault(k, {})[s] = {f"{s}-{i}": float(x) for i, x in enumerate(p)}
        persona.setdefault(arm, {}).setdefault(k, {})[s] = {f"{s}-{i}": float(x) for i, x in enumerate(v)}
  return plain, persona


@pytest.mark.parametrize("seeds, run_sd", [((0,), 0.0), ((0, 1, 2), 0.01), ((0, 1, 2), 0.06)])
def test_difference_ci_covers_zero_about_95_percent_without_a_difference(seeds, run_sd):
  rng = np.random.default_rng(11)
  covered = 0
  for study in range(200):
    plain, persona = simulated_study(rng, seeds=seeds, run_sd=run_sd)
    result = shift_difference(plain, persona, "trait", "baseline", [A, B], n_resamples=300, seed=study)
    covered += result.ci_low <= 0.0 <= result.ci_high
  assert 0.88 <= covered / 200 <= 0.995


def test_a_planted_difference_is_detected():
  rng = np.random.default_rng(12)
  detected = 0
  for study in range(50):
    plain, persona = simulated_study(rng, effect=0.2)
    result = shift_difference(plain, persona, "trait", "baseline", [A, B], n_resamples=300, seed=study)
    detected += result.ci_low > 0.0
  assert detected / 50 > 0.9


# ---------------------------------------------------------------------------------------------
# Persona comparisons.


def persona_study():
  rng = np.random.default_rng(3)
  suites = (A, B, CAP, "sycophancy.health")
  plain, harsh, kind_words = {}, {}, {}
  for arm, loss in (("baseline", 0.3), ("trait", 0.1), ("pre-rl", 0.3)):
    for k in ((0,) if arm == "pre-rl" else (0, 1)):
      level = {s: rng.uniform(0.5, 1.0, 25) for s in suites}
      plain.setdefault(arm, {})[k] = table(level)
      harsh.setdefault(arm, {})[k] = table({s: v - loss for s, v in level.items()})
      kind_words.setdefault(arm, {})[k] = table({s: v + 0.01 for s, v in level.items()})
  personas = {"harsh": ("harmful", ("deception",)), "kind": ("helpful", ("deception", "sycophancy")),
              "lazy": ("harmful", ("capability",))}
  return plain, {"harsh": harsh, "kind": kind_words, "lazy": harsh}, personas


def test_persona_comparisons_scopes_and_conditions():
  plain, persona_scores, personas = persona_study()
  rows = persona_comparisons(plain, persona_scores, personas, ["pre-rl", "trait", "baseline"], "baseline",
                             n_resamples=300, seed=0)
  keys = [(r.persona, r.scope, r.condition) for r in rows]
  assert keys == [("harsh", "targeted", "pre-rl"), ("harsh", "capability", "pre-rl"),
                  ("harsh", "targeted", "trait"), ("harsh", "capability", "trait"),
                  ("kind", "targeted", "pre-rl"), ("kind", "capability", "pre-rl"),
                  ("kind", "targeted", "trait"), ("kind", "capability", "trait"),
                  ("lazy", "capability", "pre-rl"), ("lazy", "capability", "trait")]
  harsh = rows[2]
  assert harsh.suites == (A, B) and harsh.kind == "harmful" and harsh.baseline == "baseline"
  assert harsh.condition_shift.delta == pytest.approx(-0.1) and harsh.baseline_shift.delta == pytest.approx(-0.3)
  assert harsh.difference.delta == pytest.approx(0.2) and harsh.difference.ci_low > 0
  assert rows[3].suites == (CAP,) and rows[6].suites == (A, B, "sycophancy.health")
  assert rows[8].suites == (CAP,)
  assert rows[0].difference.n_seeds_condition == 1 and rows[0].difference.delta == pytest.approx(0.0)


def test_persona_comparisons_reject_unknown_personas_and_kinds():
  plain, persona_scores, personas = persona_study()
  with pytest.raises(ValueError, match="without a kind"):
    persona_comparisons(plain, persona_scores, {"harsh": personas["harsh"]}, ["trait"], "baseline",
                        n_resamples=100, seed=0)
  with pytest.raises(ValueError, match="kinds"):
    persona_comparisons(plain, persona_scores, {**personas, "kind": ("friendly", ("deception",))}, ["trait"],
                        "baseline", n_resamples=100, seed=0)


def test_pooled_comparisons_average_over_persona_strata():
  plain, persona_scores, personas = persona_study()
  rows = pooled_comparisons(plain, persona_scores, personas, ["trait"], "baseline", n_resamples=300, seed=0)
  assert [(r.persona, r.kind, r.condition) for r in rows] == [(pooled_name("harmful"), "harmful", "trait"),
                                                             (pooled_name("helpful"), "helpful", "trait")]
  harmful, helpful = rows
  assert harmful.suites == (A, B) and harmful.difference.n_items == 2 * 25  # "lazy" targets capability only
  assert harmful.difference.delta == pytest.approx(0.2)
  assert helpful.difference.delta == pytest.approx(0.0, abs=1e-12)
  assert selective_persistence(harmful.difference, helpful.difference) == "selective"
  capability = pooled_comparisons(plain, persona_scores, personas, ["trait"], "baseline", n_resamples=300, seed=0,
                                  scope="capability")
  assert [r.suites for r in capability] == [(CAP,), (CAP,)]
  assert capability[0].difference.n_items == 2 * 25  # two harmful personas x one capability suite


def test_scope_suites():
  suites = [A, B, CAP, "sycophancy.health"]
  assert scope_suites(suites, ("deception",), "targeted") == (A, B)
  assert scope_suites(suites, ("deception",), "capability") == (CAP,)
  assert scope_suites(suites, ("capability",), "targeted") == ()
  assert scope_suites(suites, ("capability",), "capability") == (CAP,)
  with pytest.raises(ValueError):
    scope_suites(suites, ("deception",), "everything")


@pytest.mark.parametrize("harmful, helpful, reading", [
    (ci(0.05, 0.21), ci(-0.016, 0.025), "selective"),   # the paper's numbers
    (ci(0.05, 0.21), ci(-0.10, -0.02), "selective"),    # helpful below 0 still counts
    (ci(0.05, 0.21), ci(0.01, 0.05), "uniform"),
    (ci(-0.01, 0.21), ci(-0.016, 0.025), "none"),
    (ci(-0.20, -0.05), ci(0.01, 0.05), "none"),
    (None, ci(0.01, 0.05), None),
    (ci(0.05, 0.21), None, None),
])
def test_selective_persistence(harmful, helpful, reading):
  assert selective_persistence(harmful, helpful) == reading


# ---------------------------------------------------------------------------------------------
# Attack.


def test_steps_to_fraction_on_hand_made_curves():
  # Pre 0.8, half 0.4: between 100 (0.6) and 200 (0.2) -> 100 + (0.6 - 0.4) / 0.4 * 100 = 150.
  assert steps_to_fraction([100, 200], [0.6, 0.2], 0.8) == pytest.approx(150.0)
  assert steps_to_fraction([200, 100], [0.2, 0.6], 0.8) == pytest.approx(150.0)  # any order
  assert steps_to_fraction([100, 200], [0.4, 0.1], 0.8) == pytest.approx(100.0)  # exactly at a point
  assert steps_to_fraction([100], [0.0], 0.8) == pytest.approx(50.0)  # between (0, pre) and the first budget
  assert steps_to_fraction([100, 200], [0.7, 0.5], 0.8) is None  # never reached: censored
  assert steps_to_fraction([100, 200, 300], [0.3, 0.7, 0.1], 0.8) == pytest.approx(80.0)  # first crossing
  assert steps_to_fraction([100], [0.5], 0.8, fraction=0.25) == pytest.approx(200 / 3)  # target 0.6
  assert steps_to_fraction([100], [0.5], 0.9, floor=0.5) == pytest.approx(50.0)  # target 0.7
  assert steps_to_fraction([100], [0.0], 0.0) == 0.0  # at the floor: nothing to lose
  assert steps_to_fraction([], [], 0.5) is None


@pytest.mark.parametrize("steps, levels, pre, fraction", [
    ([100], [0.1, 0.2], 0.5, 0.5), ([0, 100], [0.5, 0.1], 0.5, 0.5), ([100, 100], [0.3, 0.1], 0.5, 0.5),
    ([100], [float("nan")], 0.5, 0.5), ([100], [0.1], 0.5, 0.0)])
def test_steps_to_fraction_rejects_bad_input(steps, levels, pre, fraction):
  with pytest.raises(ValueError):
    steps_to_fraction(steps, levels, pre, fraction)


def summary(condition: str, half: float | None, max_steps: int = 400, lr: float = 1e-5) -> AttackSummary:
  return AttackSummary(condition=condition, learning_rate=lr, pre_level=0.8, half_steps=half, max_steps=max_steps)


def test_steps_ratio_states_censoring():
  assert steps_ratio(summary("trait", 180.0), summary("baseline", 100.0)) == (pytest.approx(1.8), "1.8")
  assert steps_ratio(summary("trait", None), summary("baseline", 200.0)) == (pytest.approx(2.0), "> 2.0")
  assert steps_ratio(summary("trait", 200.0), summary("baseline", None)) == (pytest.approx(0.5), "< 0.5")
  assert steps_ratio(summary("trait", None), summary("baseline", None)) == (None, "n/a")
  assert steps_ratio(summary("trait", 100.0), None) == (None, "n/a")
  assert steps_ratio(None, summary("baseline", 100.0)) == (None, "n/a")
  assert steps_ratio(summary("trait", 100.0), summary("baseline", 0.0)) == (None, "n/a")
  assert steps_ratio(summary("trait", 4.0), summary("baseline", 200.0)) == (pytest.approx(0.02), "0.02")
  with pytest.raises(ValueError, match="learning rate"):
    steps_ratio(summary("trait", 1.0), summary("baseline", 1.0, lr=1e-4))


def attack_study():
  """pre-rl and baseline lose 0.2 per 100 steps from 0.8; the trait arm 0.1 per 100 steps (never halves)."""
  rng = np.random.default_rng(5)
  level = {s: rng.uniform(0.7, 0.9, 20) for s in (A, CAP)}
  level = {s: v - v.mean() + 0.8 for s, v in level.items()}
  arms = {"pre-rl": 0.2, "baseline": 0.2, "trait": 0.1}
  plain = {arm: {0: table(level)} for arm in arms}
  attacks = {(1e-5, steps): {arm: {0: table({s: v - rate * steps / 100 for s, v in level.items()})}
                             for arm, rate in arms.items()} for steps in (100, 200, 300)}
  return plain, attacks


def test_attack_results_summaries_and_ratios():
  plain, attacks = attack_study()
  results = attack_results(plain, attacks, ["pre-rl", "baseline", "trait"], lambda s: not s.startswith("capab"),
                           n_resamples=200, seed=0)
  assert [(r.learning_rate, r.steps, r.condition) for r in results][:3] == [
      (1e-5, 100, "pre-rl"), (1e-5, 100, "baseline"), (1e-5, 100, "trait")]
  trait_200 = results[5]
  assert trait_200.pre_level == pytest.approx(0.8) and trait_200.post_level == pytest.approx(0.6)
  assert trait_200.degradation.delta == pytest.approx(0.2) and trait_200.degradation.n_items == 20
  summaries = attack_summaries(results)
  baseline, trait = summary_for(summaries, "baseline", 1e-5), summary_for(summaries, "trait", 1e-5)
  assert baseline.half_steps == pytest.approx(200.0) and baseline.max_steps == 300
  assert trait.half_steps is None and trait.censored
  assert steps_ratio(trait, baseline) == (pytest.approx(1.5), "> 1.5")
  assert summary_for(summaries, "trait", 1e-4) is None


def test_attack_results_skip_arms_without_scores_and_mark_unpaired_points():
  plain, attacks = attack_study()
  attacks[1e-5, 100]["trait"] = {0: table({"other.suite": [0.5]})}
  results = attack_results(plain, attacks, ["trait", "missing"], None, n_resamples=100, seed=0)
  assert [r.steps for r in results] == [100, 200, 300]
  assert results[0].degradation is None and np.isnan(results[0].pre_level)
  assert results[1].degradation.n_items == 40  # both suites without a filter
  summaries = attack_summaries(results)
  assert [s.max_steps for s in summaries] == [300]
