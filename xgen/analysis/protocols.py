"""The persistence protocols of a study, analysed: every persona comparison (per persona and pooled per kind),
every attack budget point per arm, the steps each arm takes to lose half its level, and the two statistics
the claims table tests (C5 and C6).

* C5, selective persistence: the harmful personas pooled (one stratum per persona and target suite), the
  condition's shift minus the baseline's (= the baseline's degradation minus the condition's: positive means
  the condition is hurt less), and the same for the helpful personas, which should not differ.
* C6, resisting harmful fine-tuning: at the largest step budget, pooled over the learning rates (one stratum
  per learning rate and alignment suite), the baseline's degradation minus the condition's, paired over items
  and seeds; positive means the condition lost less. The same against the pre-RL model is given beside it,
  which is what the paper compared with.

Capability suites are compared apart from the alignment suites everywhere. Pure: the caller loads the scores.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from xgen.analysis.bootstrap import BootstrapResult
from xgen.analysis.pairs import Scores, split_suite
from xgen.analysis.persistence import (AttackPointResult, AttackSummary, PersonaComparison, strata_bootstrap,
                                       attack_results, attack_summaries, difference_strata, persona_comparisons,
                                       pooled_comparisons, pooled_name)
from xgen.analysis.transfer import derived_seed

CAPABILITY_FAMILIES = ("capability",)


def is_capability(suite: str) -> bool:
  return split_suite(suite)[0] in CAPABILITY_FAMILIES


def is_alignment(suite: str) -> bool:
  return not is_capability(suite)


@dataclasses.dataclass(frozen=True)
class PersistenceResults:
  """Everything the report's persistence section and the claims C5/C6 show."""
  comparisons: list[PersonaComparison]          # per persona and scope, then pooled per kind (targeted)
  attack: list[AttackPointResult]               # alignment suites
  attack_capability: list[AttackPointResult]    # capability suites
  summaries: list[AttackSummary]                # steps to half the alignment level, per arm and learning rate
  resistance: dict[str, BootstrapResult | None]  # "<condition> vs <other>" -> C6's pooled difference
  max_steps: int | None

  @property
  def empty(self) -> bool:
    return not self.comparisons and not self.attack and not self.attack_capability

  def pooled(self, kind: str, condition: str) -> PersonaComparison | None:
    """``kind``'s personas pooled for ``condition`` on their target suites (the one persona of that kind,
    when it has one); None when the kind was not evaluated."""
    rows = [c for c in self.comparisons if c.kind == kind and c.condition == condition and c.scope == "targeted"]
    return next((c for c in rows if c.persona == pooled_name(kind)), rows[0] if len(rows) == 1 else None)


def attack_resistance(plain: Scores, attacks: Mapping[tuple[float, int], Scores], condition: str, other: str, *,
                      n_resamples: int, seed: int) -> BootstrapResult | None:
  """``other``'s degradation minus ``condition``'s at the largest step budget, pooled over learning rates and
  alignment suites (None without paired items)."""
  if not attacks:
    return None
  largest = max(steps for _, steps in attacks)
  variants = []
  for (rate, steps), scores in sorted(attacks.items()):
    if steps == largest and condition in scores and other in scores:
      suites = sorted(s for s in set(scores[condition][min(scores[condition])]) if is_alignment(s))
      variants.append((scores, suites))
  if not variants:
    return None
  strata, paired = difference_strata(plain, variants, condition, other)
  return strata_bootstrap(strata, pair_seeds=paired, n_resamples=n_resamples,
                          seed=derived_seed(seed, "attack-resistance", condition, other))


def persistence_results(plain: Scores, personas: Mapping[str, Scores], attacks: Mapping[tuple[float, int], Scores],
                        persona_kinds: Mapping[str, tuple[str, tuple[str, ...]]], conditions: Sequence[str],
                        baseline: str, *, comparisons: Sequence[tuple[str, str]] = (), n_resamples: int,
                        seed: int) -> PersistenceResults:
  """The protocols' results for ``conditions`` against ``baseline``; ``comparisons``: the (condition, other)
  pairs C6 compares (e.g. trait-all against the baseline and against pre-rl). ``persona_kinds``: persona ->
  (kind, target families), for the personas of the run directory's world."""
  settings = dict(n_resamples=n_resamples, seed=seed)
  known = {name: persona_kinds[name] for name in personas if name in persona_kinds}
  unknown = sorted(set(personas) - set(known))
  if unknown:
    raise ValueError(f"persona rows of {', '.join(map(repr, unknown))}, which the world's personas.json lacks")
  rows = persona_comparisons(plain, personas, known, conditions, baseline, **settings)
  kinds = [kind for kind, _ in known.values()]
  rows += [row for row in pooled_comparisons(plain, personas, known, conditions, baseline, **settings)
           if kinds.count(row.kind) > 1]  # a kind with one persona is its own pooled row
  attack = attack_results(plain, attacks, conditions, is_alignment, **settings)
  capability = attack_results(plain, attacks, conditions, is_capability, **settings)
  resistance = {f"{c} vs {o}": attack_resistance(plain, attacks, c, o, **settings) for c, o in comparisons
                if c in plain and o in plain}
  return PersistenceResults(rows, attack, [r for r in capability if r.degradation is not None],
                            attack_summaries(attack), resistance,
                            max((steps for _, steps in attacks), default=None))
