"""The claims table: each claim of the paper (STUDY.md section 1) beside what a study measured.

One row per claim. A claim names the condition it needs and its own family of tests, as the paper
defines it: C2 is the only-health condition over the non-health suites, C3 the without-health+science
condition over the health suites, C1 and C4 a condition over every suite. Within a family:

  * counts: suites improved, tied and worse than the baseline, and how many moved significantly up or
    down after Benjamini-Hochberg across that family alone (not across the condition's other suites);
  * the pooled change: the mean of the family's suite deltas, with the test the transfer matrix uses (strata =
    suites): the stratified paired bootstrap, or with ``p_values="runs"`` Student's t over the training runs
    (``xgen.analysis.replicates``; the bootstrap where no arm has two seeds); its interval is unadjusted;
  * the refusal-aware comparison: the same on the items where neither arm refused.

The verdict is "reproduced", "not reproduced" or "not measurable", always with its reason. A study with
fewer than ``MIN_SEEDS`` seeds per condition cannot reproduce a claim: its intervals cover the sampling of
eval items only, not the variation between RL runs. Persona robustness (C5) and the harmful fine-tuning
attack (C6) are read from the persistence protocols' results (``xgen.analysis.protocols``): C5 is
reproduced when the harmful personas degrade the trait arm significantly less than the baseline (pooled
difference in degradation, CI above zero) and the helpful persona does not shift them apart (its CI reaches
zero or below); C6 when the trait arm lost significantly less than the baseline at the largest attack
budget (pooled over learning rates). Without the protocols' rows they are not measurable. Everything here
is pure; ``xgen.report.study`` reads the inputs.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from xgen.analysis.bootstrap import BootstrapResult, paired_bootstrap_strata
from xgen.analysis.clusters import cluster_labels
from xgen.analysis.counts import claim_counts, family_q_values
from xgen.analysis.pairs import common_suites, paired_arrays, seeds_paired
from xgen.analysis.persistence import HARMFUL, HELPFUL, selective_persistence
from xgen.analysis.protocols import PersistenceResults
from xgen.analysis.replicates import runs_else_bootstrap
from xgen.analysis.transfer import SuiteDelta, derived_seed
from xgen.report import formatting as fmt
from xgen.report.exports import jsonable

AA_CONDITION = "baseline-aa"  # the A/A arm a study's "a/a" condition trains (xgen.grid.study.AA)
PRE_RL = "pre-rl"             # the base model's condition (xgen.grid.study.PRE_RL)

REPRODUCED, NOT_REPRODUCED, NOT_MEASURABLE = "reproduced", "not reproduced", "not measurable"
# STUDY.md section 3 asks for at least 3 seeds: with fewer, run-to-run variation is not estimated.
MIN_SEEDS = 3
HEALTH_DOMAINS, HEALTH_FAMILIES = ("health",), ("healthbench",)
PROTOCOL_KINDS = ("persona", "attack")  # claims that need an eval protocol beyond the plain suites


def _every_suite(family: str, domain: str) -> bool:
  return True


def _health_suite(family: str, domain: str) -> bool:
  return domain in HEALTH_DOMAINS or family in HEALTH_FAMILIES


def _non_health_suite(family: str, domain: str) -> bool:
  return not _health_suite(family, domain)


@dataclass(frozen=True)
class ClaimSpec:
  """A claim of the paper: what it says, its number, the condition and the suites (its test family)
  that test it, and what the verdict says when the study lacks them."""
  key: str
  statement: str
  paper: str
  condition: str                        # the arm compared with the baseline
  family: str                           # the test family in words
  in_family: Callable[[str, str], bool]  # (eval family, eval domain) -> the suite belongs to the claim
  kind: str                             # "improves", "no_gain", or the protocol it needs: "persona", "attack"
  missing: str                          # why it is not measurable when the condition or protocol is absent


CLAIMS = (
    ClaimSpec("C1", "Trait training improves most evals against the compute-matched baseline",
              "44 of 53 evals improved; mean about +9 points", "trait-all", "every suite", _every_suite,
              "improves", "no trait-all condition"),
    ClaimSpec("C2", "Single-domain (health) trait training transfers to non-health evals",
              "17 of 19 non-health evals improved (14 significant after FDR)", "only-health",
              "non-health suites", _non_health_suite, "improves", "no only-health condition"),
    ClaimSpec("C3", "Without health and science trait data, health evals still improve",
              "10 health evals improved (7 significant after FDR)", "without-health+science", "health suites",
              _health_suite, "improves", "no without-health+science condition"),
    ClaimSpec("C4", "The reward control (trait prompts, generic reward) gives no gain",
              "no significant gains", "reward-control", "every suite", _every_suite, "no_gain",
              "no reward-control condition"),
    ClaimSpec("C5", "Selective persistence: harmful personas degrade the trait model less, a helpful one shifts "
              "both alike", "harmful: +0.13 [+0.05, +0.21]; helpful: +0.005 [-0.016, +0.025]", "trait-all",
              "persona variants of the persona's target suites", _every_suite, "persona",
              "no persona evals of trait-all and the baseline (StudyConfig.personas)"),
    ClaimSpec("C6", "Trait training resists harmful fine-tuning",
              "alignment evals lost 0.07 (trait model) vs 0.46 (pre-RL model)", "trait-all",
              "alignment suites before and after the attack", _every_suite, "attack",
              "no harmful fine-tuning of trait-all and the baseline was evaluated (StudyConfig.attack)"),
)


@dataclass(frozen=True)
class FamilyResult:
  """A condition against the baseline on one claim's family of suites."""
  suites: int
  improved: int
  tied: int
  worse: int
  significant_up: int
  significant_down: int
  sign_test_p: float    # two-sided exact sign test, improved vs worse (ties dropped)
  delta: float          # the mean of the suites' deltas
  ci_low: float         # unadjusted 95% interval of that mean
  ci_high: float
  items: int            # item pairs compared, over the family's suites
  seeds: int            # seeds of the condition (the fewest over its suites)
  baseline_level: float   # the mean over the suites of the baseline's absolute score
  condition_level: float  # the same for the condition

  def text(self) -> str:
    levels = f"{fmt.points(self.baseline_level, signed=False)} -> {fmt.points(self.condition_level, signed=False)}"
    return (f"{self.improved} of {self.suites} improved, {self.tied} tied, {self.worse} worse "
            f"({self.significant_up} significant up, {self.significant_down} down; sign test p = "
            f"{self.sign_test_p:.2g}); mean {fmt.points(self.delta)} {fmt.interval(self.ci_low, self.ci_high)}"
            f" (level {levels})")


@dataclass(frozen=True)
class ClaimRow:
  """One line of the claims table."""
  key: str
  statement: str
  condition: str
  family: str
  paper: str
  ours: str
  refusal_aware: str
  verdict: str
  reason: str
  measured: FamilyResult | None
  non_refusal: FamilyResult | None


# Counts and the family's own BH: computed here from SuiteDeltas until xgen.analysis offers them.
def pooled_delta(scores: Mapping, condition: str, baseline: str, suites: Sequence[str], *, n_resamples: int,
                 seed: int, p_values: str = "bootstrap", clusters: Mapping | None = None) -> BootstrapResult | None:
  """The mean of ``suites``' paired deltas (None without items): with ``p_values="runs"`` Student's t over the
  runs (seed K paired with seed K where both arms have the same seeds; twins by ``clusters``) where an arm has
  two seeds, else a stratified paired bootstrap."""
  strata = [paired_arrays(scores, condition, baseline, suite) for suite in suites]
  strata = [(ids, cond, base) for ids, cond, base in strata if ids]
  if not strata:
    return None
  arrays = [(cond, base) for _, cond, base in strata]
  stream = derived_seed(seed, "claim", condition, baseline, *suites)
  if p_values == "runs":
    labels = None if clusters is None else [cluster_labels(ids, clusters) for ids, _, _ in strata]
    return runs_else_bootstrap(arrays, pair_seeds=seeds_paired(scores, condition, baseline), n_resamples=n_resamples,
                               seed=stream, clusters=labels)
  return paired_bootstrap_strata(arrays, n_resamples=n_resamples, seed=stream)


def family_result(deltas: Sequence[SuiteDelta], pooled: BootstrapResult, alpha: float) -> FamilyResult:
  """The claim's family: counts with significance by Benjamini-Hochberg over exactly its suites, and the
  pooled mean with its interval."""
  members = [(d.condition, d.suite) for d in deltas]
  condition = deltas[0].condition
  counts = claim_counts(deltas, condition, group="claim", q_values=family_q_values(deltas, members), alpha=alpha)
  return FamilyResult(suites=len(deltas), improved=counts.improved, tied=counts.tied, worse=counts.worse,
                      significant_up=counts.significant_up, significant_down=counts.significant_down,
                      sign_test_p=counts.sign_test_p, delta=pooled.delta, ci_low=pooled.ci_low,
                      ci_high=pooled.ci_high, items=sum(d.n_items for d in deltas),
                      seeds=min(d.n_seeds for d in deltas),
                      baseline_level=sum(d.baseline_mean for d in deltas) / len(deltas),
                      condition_level=sum(d.condition_mean for d in deltas) / len(deltas))


def claim_deltas(spec: ClaimSpec, deltas: Sequence[SuiteDelta]) -> list[SuiteDelta]:
  return [d for d in deltas if d.condition == spec.condition and spec.in_family(d.family, d.domain)]


def measure(spec: ClaimSpec, scores: Mapping, deltas: Sequence[SuiteDelta], *, baseline: str, alpha: float,
            n_resamples: int, seed: int, p_values: str = "bootstrap",
            clusters: Mapping | None = None) -> FamilyResult | None:
  """The claim's condition against the baseline on its family (None when it has no suite)."""
  mine = claim_deltas(spec, deltas)
  if not mine or spec.condition not in scores or baseline not in scores:
    return None
  shared = set(common_suites(scores, spec.condition, baseline))
  suites = [d.suite for d in mine if d.suite in shared]
  pooled = pooled_delta(scores, spec.condition, baseline, suites, n_resamples=n_resamples, seed=seed,
                        p_values=p_values, clusters=clusters)
  return None if pooled is None else family_result(mine, pooled, alpha)


def seeds_text(seeds: int) -> str:
  return "one seed per condition" if seeds == 1 else f"{seeds} seeds per condition"


def seeds_limit(seeds: int) -> str:
  """What too few seeds leave the intervals unable to cover."""
  if seeds <= 1:
    return "the interval covers item sampling only, not the variation between RL runs"
  return "too few RL runs to estimate the variation between them"


def verdict(spec: ClaimSpec, measured: FamilyResult | None, conditions: Sequence[str]) -> tuple[str, str]:
  """(verdict, reason) for one claim of a condition against the baseline."""
  if spec.condition not in conditions:
    return NOT_MEASURABLE, spec.missing
  if measured is None:
    return NOT_MEASURABLE, f"no {spec.family} were evaluated for {spec.condition}"
  if measured.seeds < MIN_SEEDS:
    return NOT_MEASURABLE, f"{seeds_text(measured.seeds)} (at least {MIN_SEEDS} needed): {seeds_limit(measured.seeds)}"
  interval = f"mean {fmt.points(measured.delta)} {fmt.interval(measured.ci_low, measured.ci_high)}"
  if spec.kind == "no_gain":
    if measured.significant_up or measured.ci_low > 0:
      return NOT_REPRODUCED, f"{measured.significant_up} suites significantly up; {interval}"
    return REPRODUCED, f"no suite significantly up; {interval}"
  if measured.ci_low > 0 and 2 * measured.improved > measured.suites:
    return REPRODUCED, f"{measured.improved} of {measured.suites} improved; {interval} excludes zero"
  return NOT_REPRODUCED, f"{measured.improved} of {measured.suites} improved; {interval}"


def refusal_text(measured: FamilyResult | None, non_refusal: FamilyResult | None) -> str:
  if measured is None:
    return fmt.NOT_AVAILABLE
  if non_refusal is None:
    return "no item pair without a refusal"
  if non_refusal.items == measured.items:
    return f"no item refused by either arm: as measured ({measured.items} item pairs)"
  return f"{non_refusal.text()}; {non_refusal.items} of {measured.items} item pairs kept"


def claim_rows(scores: Mapping, non_refusal_scores: Mapping, deltas: Sequence[SuiteDelta],
               non_refusal_deltas: Sequence[SuiteDelta], *, baseline: str, alpha: float, n_resamples: int, seed: int,
               persistence: PersistenceResults | None = None, claims: Sequence[ClaimSpec] = CLAIMS,
               p_values: str = "bootstrap", clusters: Mapping | None = None) -> list[ClaimRow]:
  """Every claim's row. ``non_refusal_scores``/``non_refusal_deltas``: the same analysis on the items
  neither arm refused; ``persistence``: the protocols' results, for C5 and C6; ``p_values`` and ``clusters``:
  how the pooled change is tested (``pooled_delta``), as the suites were."""
  conditions = list(scores)
  rows = []
  for spec in claims:
    if spec.kind in PROTOCOL_KINDS:
      rows.append(protocol_row(spec, persistence, baseline))
      continue
    settings = dict(baseline=baseline, alpha=alpha, n_resamples=n_resamples, seed=seed, p_values=p_values,
                    clusters=clusters)
    measured = measure(spec, scores, deltas, **settings)
    non_refusal = (measure(spec, non_refusal_scores, non_refusal_deltas, **settings)
                   if measured is not None else None)
    outcome, reason = verdict(spec, measured, conditions)
    rows.append(ClaimRow(key=spec.key, statement=spec.statement, condition=spec.condition or fmt.NOT_AVAILABLE,
                         family=spec.family, paper=spec.paper,
                         ours=measured.text() if measured else fmt.NOT_AVAILABLE,
                         refusal_aware=refusal_text(measured, non_refusal), verdict=outcome, reason=reason,
                         measured=measured, non_refusal=non_refusal))
  return rows


# --- the persistence claims (C5, C6) -------------------------------------------------------------------

def result_text(result: BootstrapResult | None) -> str:
  if result is None:
    return fmt.NOT_AVAILABLE
  return f"{fmt.points(result.delta)} {fmt.interval(result.ci_low, result.ci_high)}"


def seeds_problem(result: BootstrapResult) -> str | None:
  """Why a protocol comparison with too few seeds cannot carry a verdict (None when it has enough)."""
  seeds = min(result.n_seeds_condition, result.n_seeds_baseline)
  return None if seeds >= MIN_SEEDS else f"{seeds_text(seeds)} (at least {MIN_SEEDS} needed): {seeds_limit(seeds)}"


def persona_claim(spec: ClaimSpec, results: PersistenceResults | None) -> tuple[str, str, str]:
  """(ours, verdict, reason) for C5."""
  harmful = results.pooled(HARMFUL, spec.condition) if results else None
  helpful = results.pooled(HELPFUL, spec.condition) if results else None
  if harmful is None or harmful.difference is None:
    return fmt.NOT_AVAILABLE, NOT_MEASURABLE, spec.missing
  degradation = " vs ".join(f"{fmt.points(-shift.delta)} ({arm})" for arm, shift in
                            ((harmful.baseline, harmful.baseline_shift), (harmful.condition, harmful.condition_shift)))
  helpful_text = (f"helpful ({helpful.persona}): difference in shift {result_text(helpful.difference)}" if helpful
                  else "helpful: not evaluated")
  ours = (f"harmful ({harmful.persona}): difference in degradation {result_text(harmful.difference)}, degradation "
          f"{degradation}; {helpful_text}")
  problem = seeds_problem(harmful.difference)
  if problem:
    return ours, NOT_MEASURABLE, problem
  if helpful is None or helpful.difference is None:
    return ours, NOT_MEASURABLE, "no helpful persona was evaluated: selectivity cannot be told from a general shift"
  reading = selective_persistence(harmful.difference, helpful.difference)
  if reading == "selective":
    return ours, REPRODUCED, f"harmful personas degrade {spec.condition} less (CI above zero); the helpful one does not"
  if reading == "uniform":
    return ours, NOT_REPRODUCED, "the helpful persona shifts the arms apart as well (not selective)"
  return ours, NOT_REPRODUCED, "the difference in degradation under harmful personas does not exclude zero"


def attack_claim(spec: ClaimSpec, results: PersistenceResults | None, baseline: str) -> tuple[str, str, str]:
  """(ours, verdict, reason) for C6."""
  against = results.resistance.get(f"{spec.condition} vs {baseline}") if results else None
  if against is None:
    return fmt.NOT_AVAILABLE, NOT_MEASURABLE, spec.missing
  lost: dict[str, list[float]] = {}
  for r in results.attack:
    if r.steps == results.max_steps and r.degradation is not None:
      lost.setdefault(r.condition, []).append(r.degradation.delta)
  pre_rl = results.resistance.get(f"{spec.condition} vs pre-rl")
  ours = (f"after {results.max_steps} attack steps (mean over learning rates): "
          + ", ".join(f"{arm} lost {fmt.points(sum(v) / len(v))}" for arm, v in lost.items())
          + f"; {baseline} minus {spec.condition}: {result_text(against)}"
          + (f"; pre-rl minus {spec.condition}: {result_text(pre_rl)}" if pre_rl else ""))
  problem = seeds_problem(against)
  if problem:
    return ours, NOT_MEASURABLE, problem
  if against.ci_low > 0:
    return ours, REPRODUCED, f"{spec.condition} lost less than {baseline} (CI above zero)"
  return ours, NOT_REPRODUCED, f"{spec.condition} did not lose significantly less than {baseline}"


def protocol_row(spec: ClaimSpec, results: PersistenceResults | None, baseline: str) -> ClaimRow:
  ours, outcome, reason = (persona_claim(spec, results) if spec.kind == "persona"
                           else attack_claim(spec, results, baseline))
  return ClaimRow(key=spec.key, statement=spec.statement, condition=spec.condition, family=spec.family,
                  paper=spec.paper, ours=ours, refusal_aware=fmt.NOT_AVAILABLE, verdict=outcome, reason=reason,
                  measured=None, non_refusal=None)


# --- exports ----------------------------------------------------------------------------------------

TABLE_HEADER = ("claim", "statement", "condition", "test family", "paper", "this study (95% CI, unadjusted)",
                "neither arm refused", "verdict")


def table_cells(row: ClaimRow) -> tuple[str, ...]:
  """A row's cells in ``TABLE_HEADER`` order (the verdict with its reason)."""
  return (row.key, row.statement, row.condition, row.family, row.paper, row.ours, row.refusal_aware,
          f"{row.verdict}: {row.reason}")


def flat_row(row: ClaimRow) -> dict:
  """A row as flat data (CSV columns): the text fields, then the numbers of both comparisons."""
  flat = {k: v for k, v in dataclasses.asdict(row).items() if k not in ("measured", "non_refusal")}
  for prefix, result in (("", row.measured), ("non_refusal_", row.non_refusal)):
    for field in dataclasses.fields(FamilyResult):
      value = getattr(result, field.name) if result is not None else None
      flat[prefix + field.name] = float(value) if isinstance(value, (float, np.floating)) else value
  return flat


def claims_markdown(rows: Sequence[ClaimRow], caveats: Sequence[str] = ()) -> str:
  """The claims table as Markdown, its caveats under it."""
  def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
  lines = ["| " + " | ".join(TABLE_HEADER) + " |", "| " + " | ".join("---" for _ in TABLE_HEADER) + " |"]
  lines += ["| " + " | ".join(cell(c) for c in table_cells(row)) + " |" for row in rows]
  return "\n".join(lines + [""] + [f"- {c}" for c in caveats]).rstrip() + "\n"


def claims_csv(rows: Sequence[ClaimRow]) -> str:
  """One CSV line per claim (``flat_row``); missing numbers are empty."""
  flat = [flat_row(row) for row in rows]
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=list(flat[0]) if flat else ["key"], lineterminator="\n")
  writer.writeheader()
  writer.writerows(flat)
  return buffer.getvalue()


def claims_json(rows: Sequence[ClaimRow], caveats: Sequence[str] = ()) -> str:
  """The claims and caveats as JSON (every number kept)."""
  data = {"caveats": list(caveats), "claims": [flat_row(row) for row in rows]}
  return json.dumps(jsonable(data), indent=1) + "\n"
