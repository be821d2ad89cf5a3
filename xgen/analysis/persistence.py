"""Persistence of a trained disposition: under persona prompts (claim C5) and under a harmful fine-tuning
attack (claim C6).

Personas. Every checkpoint is evaluated plainly and with each persona's system prompt prepended, in the
nested shape of ``pairs.Scores`` (``persona_scores[persona][condition][seed][suite][item_id]``). An arm's
shift is the score under the persona minus the plain score of the same item and seed (``shift_scores``);
its degradation is minus the shift. ``arm_shift`` is one arm's mean shift (mean over suites of the mean over
items and seeds), tested by Student's t over the runs where an arm has two seeds (``replicates``; strata =
suites, persona and plain arrays one seed pair per run), else by the stratified paired bootstrap.
``shift_difference`` is the paper's statistic, shift(condition) - shift(baseline) = degradation(baseline) -
degradation(condition): positive when the trait arm is hurt less than the baseline. It pairs items within each
suite and, when both arms have the same seed ids, seeds. Null: both arms shift alike; the CI covers 0 about 95% of
the time (tested: 3 seeds, run offsets sd 0.01-0.06, item noise 0.14: 94.5-98%; a bootstrap drawing the three
seeds covered 78-89% once runs spread two to four times their item noise).
``persona_comparisons`` compares each persona on the alignment suites of its target families ("targeted")
and, apart, on the capability suites ("capability"), never averaging the two; ``pooled_comparisons`` pools
all personas of a kind (strata = (persona, suite)), the number the paper quotes. ``selective_persistence``
reads a harmful and a helpful difference: "selective" (the harmful CI above 0, the helpful one not),
"uniform" (both above 0) or "none" (the harmful CI not above 0).

Attack. Each arm's checkpoint is fine-tuned on harmful data at several learning rates and step budgets
(``attack_scores[(learning_rate, steps)][condition][seed][suite][item_id]``); the plain scores are the
point before the attack (0 steps). ``attack_results``: per arm, learning rate and budget, the degradation
pre - post (paired per item and seed, tested as ``arm_shift``). ``steps_to_fraction``: the budget at which
an arm's level first falls ``fraction`` of the way from its pre-attack level to the floor (score 0: a
non-answer gets no points), linearly interpolated, (0, pre level) being the first point; None (censored:
more than the largest budget) when never reached; 0.0 when the pre level is already at or below the floor
(nothing left to lose). ``steps_ratio`` compares two arms' half-steps, stating censoring: "> 2.0" (only
the numerator censored: at least max budget / denominator steps), "< 0.5" (only the denominator), "n/a"
(both censored, a side missing, or a denominator of 0 steps). Each bootstrap draws its own random stream,
derived from ``seed`` and the names it compares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from xgen.analysis.bootstrap import BootstrapResult
from xgen.analysis.counts import CAPABILITY_FAMILIES
from xgen.analysis.pairs import Scores, common_suites, paired_arrays, split_suite
from xgen.analysis.replicates import runs_else_bootstrap
from xgen.analysis.transfer import derived_seed

KINDS = ("harmful", "helpful")
HARMFUL, HELPFUL = KINDS
SCOPES = ("targeted", "capability")
Strata = list[tuple[np.ndarray, np.ndarray]]
Variants = Sequence[tuple[Scores, Sequence[str]]]  # (persona or attack scores, the suites to compare on)

# --- Shifts and their tests. ----------------------------------------------------------------------

def _shifted(plain, variant, depth: int):
  """variant - plain on the keys both have, ``depth`` levels of mappings deep; emptied mappings dropped."""
  if depth == 0:
    return float(variant) - float(plain)
  out = {key: _shifted(plain[key], variant[key], depth - 1) for key in sorted(plain.keys() & variant.keys())}
  return {key: value for key, value in out.items() if depth == 1 or value}


def shift_scores(plain: Scores, variant: Scores) -> dict:
  """variant - plain per (condition, seed, suite, item) present in both; anything missing on either side
  is dropped (and a condition, seed or suite left empty with it)."""
  return _shifted(plain, variant, 4)


def _shared_seeds(tables: Sequence[Mapping]) -> list:
  """The seeds every table (seed -> suites) has, sorted."""
  return sorted(set.intersection(*(set(t) for t in tables))) if tables else []


def _suite_strata(pair: Scores, first: str, second: str, suites: Sequence[str]) -> Strata:
  """(first[seeds, items], second[seeds, items]) for each wanted suite the two arms of ``pair`` share."""
  shared = set(common_suites(pair, first, second))
  strata = [paired_arrays(pair, first, second, suite) for suite in sorted(set(suites) & shared)]
  return [(a, b) for ids, a, b in strata if ids]


def arm_strata(plain: Scores, variants: Variants, condition: str) -> Strata:
  """(variant, plain) arrays of one arm, one stratum per (variant, suite), on the seeds that the plain scores
  and every variant with this arm have (row k the same run everywhere)."""
  present = [(v, suites) for v, suites in variants if condition in v]
  if condition not in plain or not present:
    return []
  seeds = _shared_seeds([plain[condition], *(v[condition] for v, _ in present)])
  if not seeds:
    return []
  strata = []
  for variant, suites in present:
    pair = {"variant": {s: variant[condition][s] for s in seeds}, "plain": {s: plain[condition][s] for s in seeds}}
    strata += _suite_strata(pair, "variant", "plain", suites)
  return strata


def difference_strata(plain: Scores, variants: Variants, condition: str,
                      baseline: str) -> tuple[Strata, bool]:
  """(condition shifts, baseline shifts) arrays, one stratum per (variant, suite) both arms have, and
  whether seeds pair (same seed ids in both arms). Each arm keeps the seeds all its variants share."""
  arms = (condition, baseline)
  shifts = [(shift_scores({a: plain[a] for a in arms if a in plain}, {a: v[a] for a in arms if a in v}), suites)
            for v, suites in variants]
  shifts = [(s, suites) for s, suites in shifts if condition in s and baseline in s]
  seeds = {arm: _shared_seeds([s[arm] for s, _ in shifts]) for arm in arms}
  if not shifts or not all(seeds.values()):
    return [], False
  strata = []
  for shift, suites in shifts:
    pair = {"condition": {k: shift[condition][k] for k in seeds[condition]},
            "baseline": {k: shift[baseline][k] for k in seeds[baseline]}}
    strata += _suite_strata(pair, "condition", "baseline", suites)
  return strata, seeds[condition] == seeds[baseline]


def strata_bootstrap(strata: Strata, *, pair_seeds: bool, n_resamples: int, seed: int) -> BootstrapResult | None:
  """Student's t over the runs of ``strata`` where an arm has two seeds, else the paired bootstrap
  (``replicates.runs_else_bootstrap``); None when there are no strata."""
  return runs_else_bootstrap(strata, pair_seeds=pair_seeds, n_resamples=n_resamples, seed=seed)


def arm_shift(plain: Scores, variant: Scores, condition: str, suites: Sequence[str], *, n_resamples: int,
              seed: int) -> BootstrapResult | None:
  """One arm's mean shift (variant - plain) over ``suites`` with its paired CI; None when no items pair up."""
  strata = arm_strata(plain, [(variant, suites)], condition)
  return strata_bootstrap(strata, pair_seeds=True, n_resamples=n_resamples,
                          seed=derived_seed(seed, "shift", condition, *sorted(suites)))


def shift_difference(plain: Scores, variant: Scores, condition: str, baseline: str, suites: Sequence[str], *,
                     n_resamples: int, seed: int) -> BootstrapResult | None:
  """shift(condition) - shift(baseline) over the ``suites`` both arms have, with its CI; None without items.
  Positive: the condition loses less (or gains more) under the variant than the baseline."""
  strata, paired = difference_strata(plain, [(variant, suites)], condition, baseline)
  return strata_bootstrap(strata, pair_seeds=paired, n_resamples=n_resamples,
                          seed=derived_seed(seed, "shift-difference", condition, baseline, *sorted(suites)))


# --- Personas. ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PersonaComparison:
  """A condition against the baseline under one persona (or all personas of a kind, pooled) on one scope of
  suites. Shifts are persona minus plain; difference = condition shift - baseline shift (> 0: hurt less)."""
  persona: str
  kind: str                   # "harmful" or "helpful"
  scope: str                  # "targeted" (the persona's target families) or "capability"
  suites: tuple[str, ...]     # the scope's suites evaluated under the persona (condition or baseline)
  condition: str
  baseline: str
  condition_shift: BootstrapResult | None
  baseline_shift: BootstrapResult | None
  difference: BootstrapResult | None


def pooled_name(kind: str) -> str:
  """The persona name of a kind's pooled comparison: "all harmful"."""
  return f"all {kind}"


def scope_suites(suites, targets: Sequence[str], scope: str,
                 capability_families: Sequence[str] = CAPABILITY_FAMILIES) -> tuple[str, ...]:
  """The sorted suites of a scope: "targeted", the alignment suites of the target families; "capability", every
  capability family's suites (targeted or not: capability is never averaged into alignment)."""
  if scope not in SCOPES:
    raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
  capability = {s for s in suites if split_suite(s)[0] in capability_families}
  if scope == "capability":
    return tuple(sorted(capability))
  return tuple(sorted(s for s in set(suites) - capability if split_suite(s)[0] in targets))


def _suites_of(scores: Scores, conditions: Sequence[str]) -> set[str]:
  return {suite for c in conditions if c in scores for seed in scores[c].values() for suite in seed}


def _evaluated(plain: Scores, scores: Scores, arms: Sequence[str], targets: Sequence[str], scope: str,
               capability_families: Sequence[str]) -> tuple[str, ...]:
  """The scope's suites that some arm has both plainly and under the persona."""
  return scope_suites(_suites_of(scores, arms) & _suites_of(plain, arms), targets, scope, capability_families)


def _checked_personas(persona_scores: Mapping, personas: Mapping[str, tuple[str, tuple[str, ...]]]) -> None:
  unknown = sorted(set(persona_scores) - set(personas))
  if unknown:
    raise ValueError(f"persona scores for personas without a kind and targets: {unknown}")
  bad = {name: kind for name, (kind, _) in personas.items() if kind not in KINDS}
  if bad:
    raise ValueError(f"persona kinds must be one of {KINDS}, got {bad}")


def _comparison(plain: Scores, variants: Variants, names: tuple[str, str, str, tuple[str, ...]], condition: str,
                baseline: str, *, n_resamples: int, seed: int) -> PersonaComparison:
  """The comparison of ``condition`` against ``baseline`` on the (variant, suites) strata given."""
  persona, kind, scope, suites = names
  stream = derived_seed(seed, "persona", persona, scope)

  def shift(arm: str) -> BootstrapResult | None:
    return strata_bootstrap(arm_strata(plain, variants, arm), pair_seeds=True, n_resamples=n_resamples,
                            seed=derived_seed(stream, "shift", arm))
  strata, paired = difference_strata(plain, variants, condition, baseline)
  difference = strata_bootstrap(strata, pair_seeds=paired, n_resamples=n_resamples,
                                seed=derived_seed(stream, "shift-difference", condition, baseline))
  return PersonaComparison(persona=persona, kind=kind, scope=scope, suites=suites, condition=condition,
                           baseline=baseline, condition_shift=shift(condition), baseline_shift=shift(baseline),
                           difference=difference)


def persona_comparisons(plain: Scores, persona_scores: Mapping[str, Scores],
                        personas: Mapping[str, tuple[str, tuple[str, ...]]], conditions: Sequence[str], baseline: str,
                        *, n_resamples: int, seed: int,
                        capability_families: Sequence[str] = CAPABILITY_FAMILIES) -> list[PersonaComparison]:
  """Per persona with scores (in ``personas`` order), condition (not the baseline) with plain and persona
  scores, and scope ("targeted", then "capability") with suites: the condition against the baseline.
  ``personas``: name -> (kind, target families). A persona with scores but no entry raises ValueError."""
  _checked_personas(persona_scores, personas)
  out = []
  for name, (kind, targets) in personas.items():
    scores = persona_scores.get(name) or {}
    for condition in conditions:
      if condition == baseline or condition not in plain or condition not in scores:
        continue
      for scope in SCOPES:
        suites = _evaluated(plain, scores, (condition, baseline), targets, scope, capability_families)
        if suites:
          out.append(_comparison(plain, [(scores, suites)], (name, kind, scope, suites), condition, baseline,
                                 n_resamples=n_resamples, seed=seed))
  return out


def pooled_comparisons(plain: Scores, persona_scores: Mapping[str, Scores],
                       personas: Mapping[str, tuple[str, tuple[str, ...]]], conditions: Sequence[str], baseline: str,
                       *, n_resamples: int, seed: int, scope: str = "targeted",
                       capability_families: Sequence[str] = CAPABILITY_FAMILIES) -> list[PersonaComparison]:
  """Per kind (harmful, helpful) and condition: all that kind's personas pooled on ``scope``, one stratum per
  (persona, suite), the statistic the mean over strata; persona = ``pooled_name(kind)``."""
  _checked_personas(persona_scores, personas)
  out = []
  for kind in KINDS:
    for condition in conditions:
      if condition == baseline or condition not in plain:
        continue
      variants = []
      for name, (own_kind, targets) in personas.items():
        scores = persona_scores.get(name) or {}
        if own_kind != kind or condition not in scores:
          continue
        suites = _evaluated(plain, scores, (condition, baseline), targets, scope, capability_families)
        if suites:
          variants.append((scores, suites))
      if variants:
        suites = tuple(sorted({s for _, names in variants for s in names}))
        out.append(_comparison(plain, variants, (pooled_name(kind), kind, scope, suites), condition, baseline,
                               n_resamples=n_resamples, seed=seed))
  return out


def selective_persistence(harmful: BootstrapResult | None, helpful: BootstrapResult | None) -> str | None:
  """"none" (harmful CI not above 0), "uniform" (both CIs above 0) or "selective" (harmful above 0, helpful
  containing 0 or below it); None when either is missing."""
  if harmful is None or helpful is None:
    return None
  if not harmful.ci_low > 0:
    return "none"
  return "uniform" if helpful.ci_low > 0 else "selective"


# --- Harmful fine-tuning attack. ------------------------------------------------------------------

@dataclass(frozen=True)
class AttackPointResult:
  """One arm after ``steps`` steps of the attack at ``learning_rate``: its mean level (over suites of the mean
  over items and seeds) before and after on the paired items, and degradation = pre - post (> 0: hurt);
  degradation None and levels NaN when no item pairs up with the plain scores."""
  condition: str
  learning_rate: float
  steps: int
  pre_level: float
  post_level: float
  degradation: BootstrapResult | None


def attack_results(plain: Scores, attack_scores: Mapping[tuple[float, int], Scores], conditions: Sequence[str],
                   suites_filter: Callable[[str], bool] | None, *, n_resamples: int,
                   seed: int) -> list[AttackPointResult]:
  """Per budget (sorted by learning rate, then steps) and condition with attack scores and plain scores: the
  degradation pre - post over the suites ``suites_filter`` keeps (all when None), paired per item and seed."""
  out = []
  for learning_rate, steps in sorted(attack_scores):
    attacked = attack_scores[learning_rate, steps]
    for condition in conditions:
      if condition not in plain or condition not in attacked:
        continue
      suites = [s for s in sorted(_suites_of(attacked, [condition])) if suites_filter is None or suites_filter(s)]
      strata = [(pre, post) for post, pre in arm_strata(plain, [(attacked, suites)], condition)]
      stream = derived_seed(seed, "attack", repr(float(learning_rate)), str(steps), condition)
      result = strata_bootstrap(strata, pair_seeds=True, n_resamples=n_resamples, seed=stream)
      pre_level, post_level = [float(np.mean([a.mean() for a in arms])) for arms in zip(*strata)] or [math.nan] * 2
      out.append(AttackPointResult(condition=condition, learning_rate=float(learning_rate), steps=int(steps),
                                   pre_level=pre_level, post_level=post_level, degradation=result))
  return out


def steps_to_fraction(steps: Sequence[int], levels: Sequence[float], pre_level: float, fraction: float = 0.5,
                      floor: float = 0.0) -> float | None:
  """The attack steps at which the level first falls to pre_level - fraction * (pre_level - floor).

  The curve is (0, pre_level) followed by the (step, level) points sorted by step (distinct positive steps),
  linearly interpolated between points; a later recovery does not count. None when the target is never
  reached (censored: more than the largest budget); 0.0 when pre_level is at or below the floor (nothing
  left to lose, reached before any step).
  """
  if len(steps) != len(levels):
    raise ValueError(f"steps and levels must have the same length, got {len(steps)} and {len(levels)}")
  if not 0.0 < fraction <= 1.0:
    raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
  if not all(math.isfinite(v) for v in (pre_level, floor, *levels)):
    raise ValueError("levels, pre_level and floor must be finite")
  if any(s <= 0 for s in steps) or len(set(steps)) != len(steps):
    raise ValueError(f"steps must be distinct positive budgets, got {list(steps)}")
  if pre_level <= floor:
    return 0.0
  target = pre_level - fraction * (pre_level - floor)
  points = [(0, float(pre_level)), *sorted(zip(steps, map(float, levels)))]
  for (s0, l0), (s1, l1) in zip(points, points[1:]):
    if l1 <= target:  # l0 > target here, so l0 > l1
      return float(s0 + (l0 - target) / (l0 - l1) * (s1 - s0))
  return None


@dataclass(frozen=True)
class AttackSummary:
  """One arm at one learning rate: its pre-attack level, the steps to lose half of it (None: censored, more
  than ``max_steps``) and the largest budget evaluated."""
  condition: str
  learning_rate: float
  pre_level: float
  half_steps: float | None
  max_steps: int

  @property
  def censored(self) -> bool:
    return self.half_steps is None


def attack_summaries(results: Sequence[AttackPointResult]) -> list[AttackSummary]:
  """Per (condition, learning rate), in order of first appearance: ``steps_to_fraction`` at 0.5 with floor 0.
  The pre level is the mean of the points' pre levels (equal when every budget has the same items); a
  budget's level is that pre level minus its paired degradation. Points without a degradation, or at 0
  steps (the pre-attack point itself), are left out; an arm with none left gets no summary."""
  groups: dict[tuple[str, float], list[AttackPointResult]] = {}
  for r in results:
    if r.degradation is not None and r.steps > 0:
      groups.setdefault((r.condition, r.learning_rate), []).append(r)
  out = []
  for (condition, learning_rate), points in groups.items():
    pre_level = float(np.mean([p.pre_level for p in points]))
    levels = [pre_level - p.degradation.delta for p in points]
    out.append(AttackSummary(condition=condition, learning_rate=learning_rate, pre_level=pre_level,
                             half_steps=steps_to_fraction([p.steps for p in points], levels, pre_level),
                             max_steps=max(p.steps for p in points)))
  return out


def ratio_text(value: float) -> str:
  """A steps ratio with one decimal ("1.8"), two significant digits below 0.05."""
  return f"{value:.1f}" if value >= 0.05 else f"{value:.2g}"


def steps_ratio(numerator: AttackSummary | None, denominator: AttackSummary | None) -> tuple[float | None, str]:
  """numerator half-steps / denominator half-steps (e.g. trait / baseline) and its text. Only the numerator
  censored: the lower bound max budget / denominator steps, "> 2.0"; only the denominator: the upper bound
  numerator steps / its max budget, "< 0.5"; (None, "n/a") when both are censored, a side is missing or the
  denominator needs 0 steps."""
  if numerator is None or denominator is None:
    return None, "n/a"
  if numerator.learning_rate != denominator.learning_rate:
    raise ValueError(f"steps_ratio compares one learning rate, got {numerator.learning_rate} and "
                     f"{denominator.learning_rate}")
  top, bottom = numerator.half_steps, denominator.half_steps
  if (top is None and bottom is None) or bottom == 0:
    return None, "n/a"
  if top is None:
    bound = numerator.max_steps / bottom
    return bound, f"> {ratio_text(bound)}"
  if bottom is None:
    bound = top / denominator.max_steps
    return bound, f"< {ratio_text(bound)}"
  return top / bottom, ratio_text(top / bottom)


def summary_for(summaries: Sequence[AttackSummary], condition: str, learning_rate: float) -> AttackSummary | None:
  """The summary of ``condition`` at ``learning_rate``, None if there is none."""
  return next((s for s in summaries if s.condition == condition and s.learning_rate == learning_rate), None)
