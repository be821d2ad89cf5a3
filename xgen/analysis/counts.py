"""Counts that hide nothing: improved / tied / worse per condition and group of suites, with a sign test,
and Benjamini-Hochberg over a claim's own family of comparisons.

``claim_counts`` counts a condition's SuiteDeltas in one group of suites: improved (delta > tie),
worse (delta < -tie), tied (the rest), significantly up or down (significant and of that sign), and
the two-sided exact sign test of improved against worse with ties dropped. Its null: each untied
suite is as likely to improve as to worsen (Binomial(improved + worse, 1/2)); suites are treated as
independent, which they are not quite (they share the trained runs), so it is a summary, not a claim
of its own. ``counts_by_group`` gives, per condition, the alignment suites (every family but the
capability ones) and the capability suites separately, so a loss of capability is never averaged
into a gain in alignment.

``family_q_values`` applies BH over a caller-given subset of (condition, suite) comparisons, one claim's
family of tests (e.g. "only-health on the 19 non-health suites"); ``claim_counts`` can count
significance by those q-values instead of the per-condition ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from xgen.analysis.bootstrap import benjamini_hochberg
from xgen.analysis.transfer import SuiteDelta

CAPABILITY_FAMILIES = ("capability",)
GROUPS = ("alignment", "capability")


@dataclass(frozen=True)
class ClaimCounts:
  """How a condition's suites in one group moved against the baseline."""
  condition: str
  group: str
  total: int
  improved: int
  tied: int
  worse: int
  significant_up: int
  significant_down: int
  sign_test_p: float   # two-sided exact sign test, improved vs worse, ties dropped
  text: str


def sign_test_p(improved: int, worse: int) -> float:
  """Two-sided exact sign test: P(|X - n/2| >= |improved - n/2|) for X ~ Binomial(n = improved + worse, 1/2)."""
  for name, value in (("improved", improved), ("worse", worse)):
    if not isinstance(value, int) or value < 0:
      raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
  n = improved + worse
  if n == 0:
    return 1.0
  low = min(improved, worse)
  tail = sum(math.comb(n, k) for k in range(low + 1)) / 2 ** n
  return float(min(1.0, 2 * tail))


def claim_counts(deltas: Sequence[SuiteDelta], condition: str, *, group: str = "all",
                 families: Iterable[str] | None = None, exclude_families: Iterable[str] = (),
                 domains: Iterable[str] | None = None, exclude_domains: Iterable[str] = (), tie: float = 0.0,
                 q_values: Mapping[tuple[str, str], float] | None = None, alpha: float = 0.05) -> ClaimCounts:
  """Counts over ``condition``'s deltas whose family is in ``families`` and domain in ``domains`` (None:
  any) and neither is excluded (e.g. the non-health suites: ``exclude_domains=("health",)``).

  ``tie``: |delta| <= tie counts as tied. ``q_values``: {(condition, suite): q} (``family_q_values``);
  when given, significance is q < alpha over exactly those suites (the others count as not significant)
  instead of each delta's own ``significant``.
  """
  if tie < 0:
    raise ValueError(f"tie must be non-negative, got {tie}")
  keep, drop = None if families is None else set(families), set(exclude_families)
  keep_domains, drop_domains = None if domains is None else set(domains), set(exclude_domains)
  mine = [d for d in deltas if d.condition == condition and (keep is None or d.family in keep)
          and d.family not in drop and (keep_domains is None or d.domain in keep_domains)
          and d.domain not in drop_domains]
  improved = sum(d.delta > tie for d in mine)
  worse = sum(d.delta < -tie for d in mine)

  def significant(d: SuiteDelta) -> bool:
    if q_values is None:
      return d.significant
    q = q_values.get((d.condition, d.suite))
    return q is not None and q < alpha

  up = sum(d.delta > tie and significant(d) for d in mine)
  down = sum(d.delta < -tie and significant(d) for d in mine)
  p = sign_test_p(improved, worse)
  text = (f"{improved} of {len(mine)} improved, {len(mine) - improved - worse} tied, {worse} worse "
          f"({up} significantly up, {down} significantly down; sign test p = {p:.2g})")
  return ClaimCounts(condition=condition, group=group, total=len(mine), improved=improved,
                     tied=len(mine) - improved - worse, worse=worse, significant_up=up, significant_down=down,
                     sign_test_p=p, text=text)


def counts_by_group(deltas: Sequence[SuiteDelta], *, capability_families: Iterable[str] = CAPABILITY_FAMILIES,
                    tie: float = 0.0) -> list[ClaimCounts]:
  """Per condition (in order of first appearance): the alignment group (families other than
  ``capability_families``), then the capability group when the condition has such suites."""
  capability = tuple(capability_families)
  out = []
  for condition in dict.fromkeys(d.condition for d in deltas):
    out.append(claim_counts(deltas, condition, group="alignment", exclude_families=capability, tie=tie))
    if any(d.condition == condition and d.family in capability for d in deltas):
      out.append(claim_counts(deltas, condition, group="capability", families=capability, tie=tie))
  return out


def family_q_values(deltas: Sequence[SuiteDelta],
                    members: Iterable[tuple[str, str]]) -> dict[tuple[str, str], float]:
  """BH q-values over the p-values of the given (condition, suite) comparisons only, as one family."""
  by_key = {(d.condition, d.suite): d for d in deltas}
  keys = list(dict.fromkeys(members))
  missing = [key for key in keys if key not in by_key]
  if missing:
    raise ValueError(f"members without a delta: {missing}")
  q_values = benjamini_hochberg([by_key[key].p_value for key in keys])
  return {key: float(q) for key, q in zip(keys, q_values)}
