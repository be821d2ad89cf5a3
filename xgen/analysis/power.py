"""How large an effect a study can see: the minimum detectable effect (MDE) of a family delta, from the study's
own variance. Pure.

The comparison is the one the transfer matrix makes per eval family: a condition against the baseline, the
mean over the family's S suites of the per-suite deltas (mean over items of the per-item difference of the
arms' seed means), items paired, seeds paired K with K. Its MDE at level alpha (two-sided) and the given power
is (z_{1-alpha/2} + z_{power}) x SE (the normal approximation; the far tail is ignored), where SE is the
standard error of that delta under the null, for a condition with the baseline's K seeds and its item and
run variances. For a study tested by Student's t over its runs (``replicates``) the factor is the noncentrality
at which that t-test has the given power (noncentral t), with the test's Welch-Satterthwaite degrees of freedom
(the runs' part V_run + V_item with K - 1, the items' part V_item with the items' count less the suites'), and
SE^2 = V_run + 2 V_item, since that test counts the item noise once in the runs' spread and once in the item
sampling: with 3 seeds and the run term dominating the factor approaches 5.65 instead of 2.80, what estimating
the run variance from 3 runs costs.

Model of a score: baseline run k on item i of suite s scores mu_i + r_k,s + e_k,i: mu_i the item's difficulty
(cancels in the paired difference), r_k,s the run's shift on suite s (the runs of one family share much of
it: suites are NOT independent), e_k,i the run x item noise (independent over runs and items). Then

  SE^2 = V_item + V_run

  V_item = (1 / S^2) sum_s v_s / n_s   (the variance of a mean of S suite means, items independent across
           suites), v_s the variance of a per-item difference between two arms of K seeds, 2 sigma_e^2 / K:
           - with an A/A arm (the baseline trained again on K' other seeds) on suite s: the sample variance
             (ddof 1) of its per-item differences d_i = mean over A/A seeds - mean over baseline seeds,
             rescaled from K' vs K seeds to K vs K by c = (2 / K) / (1 / K' + 1 / K) (c = 1 when K' = K);
           - else with K >= 2: 2 MS_res,s / K, MS_res,s the run x item residual mean square of the baseline's
             [K, n_s] scores (the two-way ANOVA of ``variance.run_component``), an unbiased sigma_e^2;
           - else (one seed, no A/A arm): 2 x the baseline's variance over items (ddof 1), which also holds the
             difficulty spread that pairing cancels: an upper bound on the item term.
  V_run  = the run variance of the family mean delta (not of each suite: it is not divided by S), the larger of
           the two estimates below where both exist (each has few degrees of freedom and is clipped at 0, so
           either alone can come out 0 while the other sees the runs differ; ``run_variance``):
           - with an A/A arm: ``transfer.aa_run_variance``'s value for the family (the mean over its suites of
             A/A delta^2 - the delta's item variance, clipped at 0) x c. It is a suite delta's run variance taken
             as the family mean's, i.e. the run shift is assumed shared by all the family's suites; a shift
             that differs between suites averages down, so this is an upper bound (var of a mean <= mean of the
             variances). The A/A arm is unpaired with the baseline, so any run component a seed pair shares
             (data stream, sampling key) is not cancelled either: conservative again for paired seeds;
           - else with K >= 2: 2 sigma_R^2 / K, sigma_R^2 = var_k(m_k) (ddof 1) - (1 / S^2) sum_s MS_res,s / n_s,
             clipped at 0, m_k run k's family mean (mean over suites of its suite means). The subtracted term is
             the item noise each run's mean carries, already in V_item (the ANOVA estimator of
             ``variance.delta_run_variance``, applied to the family mean); unpaired seeds, so conservative;
           - else: unknown. run_se is then NaN and se, mde come from V_item alone: the MDE leaves run-to-run
             variation out and is reported as a lower bound ("at least"; ``FamilyPower.lower_bound``), even
             though its item part is itself an upper bound, because run variation usually dominates.

Estimates from an A/A arm of one run or from few seeds have few degrees of freedom: an MDE from them is a rough
figure (a clipped A/A run variance can be 0 by chance), and clipping at 0 biases V_run up. Calibration (tests):
3 seeds, 4 suites of 40 0/1 items, run shift sd 0.02 shared by the suites; the true MDE is 9.4 points, the
computed one 10.1 on average from the seeds and 11.1 from an A/A arm; at each study's computed MDE the report's
significance test (sign-flip over seed pairs and items with the run variance in its null) detects 79-85% of the
effects, while the bootstrap CI, which also resamples the 3 seed pairs (conservative, see ``bootstrap``),
excludes 0 in only 57-67%. With ``runs_test`` the t-test over runs detects 86-93% of effects of its computed MDE
(run shift sd 0.02-0.08): the run variance, the larger of two clipped estimates, leans high.

``seeds_for``: the fewest seeds per arm at which a family's MDE would reach a target, both variances scaled as
1 / seeds from the study's own: what it would take, at this variance, to see an effect of that size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import brentq
from scipy.stats import nct, norm
from scipy.stats import t as t_dist

from xgen.analysis.pairs import Scores, common_suites, paired_arrays, seeds_of, split_suite
from xgen.analysis.replicates import satterthwaite
from xgen.analysis.transfer import aa_run_variance


@dataclass(frozen=True)
class FamilyPower:
  """The MDE of one eval family's pooled delta (scores in [0, 1]; se, item_se, run_se are standard errors)."""
  family: str
  group: str          # "alignment" or "capability"
  suites: int
  items: int          # over all the family's suites
  seeds: int          # the baseline's, and the condition's assumed
  item_se: float
  run_se: float       # NaN when unknown (one seed, no A/A arm)
  se: float
  mde: float
  run_source: str     # "a/a", "seeds" or "none"
  aa_seeds: int = 0   # the A/A arm's seeds (runs) when run_source is "a/a"
  alpha: float = 0.05
  power: float = 0.8
  df: float = math.inf  # the test's Welch-Satterthwaite degrees of freedom (inf: a z-test)
  runs_test: bool = False  # computed for Student's t over runs (``replicates``)

  @property
  def lower_bound(self) -> bool:
    """True when run-to-run variation is unknown and left out of se and mde."""
    return not math.isfinite(self.run_se)

  def text(self) -> str:
    """"6.1 points (items 3.2, runs 4.0 sd from the A/A arm's 3 runs; 3 seeds)"; "at least ..." without runs."""
    if self.lower_bound:
      return (f"at least {100 * self.mde:.1f} points (items {100 * self.item_se:.1f} sd; runs unknown: "
              f"{self.seeds} seed and no A/A arm)")
    source = (f"the A/A arm's {self.aa_seeds} run{'s' if self.aa_seeds != 1 else ''}" if self.run_source == "a/a"
              else "the baseline's seeds")
    test = "" if math.isinf(self.df) else f"; t-test over runs, {self.df:.1f} df"
    return (f"{100 * self.mde:.1f} points (items {100 * self.item_se:.1f}, runs {100 * self.run_se:.1f} sd "
            f"from {source}; {self.seeds} seed{'s' if self.seeds != 1 else ''}{test})")


def z_sum(alpha: float = 0.05, power: float = 0.8, df: float = math.inf) -> float:
  """z_{1-alpha/2} + z_{power}; with finite ``df``, its t-test analogue: the noncentrality of the noncentral t
  with df degrees of freedom whose upper tail beyond t_{df, 1-alpha/2} has probability ``power``."""
  if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
    raise ValueError(f"alpha and power must lie in (0, 1), got {alpha} and {power}")
  if not df > 0:
    raise ValueError(f"df must be positive (inf for the normal), got {df}")
  if math.isinf(df):
    return float(norm.ppf(1.0 - alpha / 2.0) + norm.ppf(power))
  critical = float(t_dist.ppf(1.0 - alpha / 2.0, df))
  # The noncentrality at which a two-sided t-test rejects upward with probability ``power`` (the lower tail
  # adds less than alpha / 2 there and is left out, as in the z formula).
  return float(brentq(lambda ncp: nct.sf(critical, df, ncp) - power, 0.0, 1000.0))


def minimum_detectable_effect(se: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
  """(z_{1-alpha/2} + z_{power}) x se: the true effect a two-sided level-alpha z-test detects with ``power``."""
  if not se >= 0.0:
    raise ValueError(f"se must be a non-negative number, got {se}")
  return z_sum(alpha, power) * se


def test_degrees(v_runs: float, run_df: float, v_item: float, item_df: float) -> float:
  """Welch-Satterthwaite degrees of freedom of v_runs + v_item, as ``replicates`` computes its own: v_runs the
  variance of the runs' mean difference (run variance plus the item noise each run's mean carries) with
  ``run_df``, v_item the item sampling's; inf when the run part has none (a z-test)."""
  if math.isinf(run_df):
    return math.inf
  df = satterthwaite([(v_runs, run_df), (v_item, max(item_df, 1.0))])
  return df if math.isfinite(df) else run_df


def residual_mean_square(runs: np.ndarray) -> float:
  """The run x item residual mean square of a [runs >= 2, items >= 2] array (an unbiased sigma_e^2)."""
  n_runs, n_items = runs.shape
  residual = runs - runs.mean(axis=0) - runs.mean(axis=1)[:, None] + runs.mean()
  return float((residual ** 2).sum()) / ((n_runs - 1) * (n_items - 1))


def rescale(aa_seeds: int, seeds: int) -> float:
  """c: a variance of an A/A delta (aa_seeds vs seeds) as that of a delta of two arms of ``seeds`` seeds."""
  return (2.0 / seeds) / (1.0 / aa_seeds + 1.0 / seeds)


def item_variance(base: np.ndarray, aa_diff: np.ndarray | None, c: float) -> float:
  """v_s / n_s: the item-sampling variance of one suite's delta (see the module docstring)."""
  n_seeds, n_items = base.shape
  if aa_diff is not None:
    return c * float(aa_diff.var(ddof=1)) / n_items
  if n_seeds >= 2:
    return 2.0 * residual_mean_square(base) / (n_seeds * n_items)
  return 2.0 * float(base[0].var(ddof=1)) / n_items


def seed_run_variance(bases: Sequence[np.ndarray]) -> float:
  """2 sigma_R^2 / K of the family mean from the baseline's seeds, clipped at 0; NaN with one seed."""
  n_seeds = bases[0].shape[0]
  if n_seeds < 2:
    return float("nan")
  family_means = np.mean([b.mean(axis=1) for b in bases], axis=0)  # [seeds]
  noise = float(np.mean([residual_mean_square(b) / b.shape[1] for b in bases])) / len(bases)
  return 2.0 * max(0.0, float(family_means.var(ddof=1)) - noise) / n_seeds


def run_variance(from_aa: float | None, from_seeds: float) -> tuple[float, str]:
  """(V_run, its source): the larger of the A/A arm's estimate (None without one) and the baseline seeds' (NaN
  with one seed), since each is a clipped estimate with few degrees of freedom that comes out 0 by chance where
  the other sees the runs differ; (NaN, "none") with neither."""
  candidates = [(value, source) for value, source in ((from_aa, "a/a"), (from_seeds, "seeds"))
                if value is not None and math.isfinite(value)]
  return max(candidates, key=lambda pair: pair[0]) if candidates else (float("nan"), "none")


def aa_item_diffs(scores: Scores, baseline: str, aa_condition: str | None) -> dict[str, np.ndarray]:
  """suite -> the A/A arm's per-item differences (mean over its seeds - mean over the baseline's)."""
  if aa_condition is None or aa_condition not in scores:
    return {}
  out = {}
  for suite in common_suites(scores, aa_condition, baseline):
    ids, aa, base = paired_arrays(scores, aa_condition, baseline, suite)
    if len(ids) >= 2:
      out[suite] = aa.mean(axis=0) - base.mean(axis=0)
  return out


def baseline_by_family(scores: Scores, baseline: str) -> dict[str, dict[str, np.ndarray]]:
  """family -> suite -> the baseline's [seeds, items] scores on the items every seed has (>= 2 items)."""
  out: dict[str, dict[str, np.ndarray]] = {}
  for suite in common_suites(scores, baseline, baseline):
    ids, base, _ = paired_arrays(scores, baseline, baseline, suite)
    if len(ids) >= 2:
      out.setdefault(split_suite(suite)[0], {})[suite] = base
  return dict(sorted(out.items()))


def detectable(v_item: float, v_run: float, *, seeds: int, item_df: float, runs_test: bool, alpha: float,
               power: float) -> tuple[float, float, float]:
  """(se, the test's degrees of freedom, mde) of a family delta with these item and run variances (v_run NaN:
  unknown, left out) for a condition and baseline of ``seeds`` seeds each (see the module docstring)."""
  run_df = float(seeds - 1) if runs_test and seeds >= 2 else math.inf
  known_run = v_run if math.isfinite(v_run) else 0.0
  se = math.sqrt((1.0 if math.isinf(run_df) else 2.0) * v_item + known_run)
  df = test_degrees(known_run + v_item, run_df, v_item, item_df)
  return se, df, z_sum(alpha, power, df) * se


def seeds_for(fp: FamilyPower, target: float, *, max_seeds: int = 1000) -> int | None:
  """The fewest seeds per arm at which ``fp``'s family would have an MDE of at most ``target``, its item and run
  variances scaled from its seeds to that many (both shrink as 1 / seeds); None when run variation is unknown or
  more than ``max_seeds`` would be needed."""
  if fp.lower_bound:
    return None
  for seeds in range(2, max_seeds + 1):
    scale = fp.seeds / seeds
    *_, mde = detectable(scale * fp.item_se ** 2, scale * fp.run_se ** 2, seeds=seeds, item_df=fp.items - fp.suites,
                         runs_test=fp.runs_test, alpha=fp.alpha, power=fp.power)
    if mde <= target:
      return seeds
  return None


def family_power(scores: Scores, baseline: str, *, aa_condition: str | None = "baseline-aa",
                 capability_families: Sequence[str] = ("capability",), alpha: float = 0.05,
                 power: float = 0.8, runs_test: bool = False) -> list[FamilyPower]:
  """One FamilyPower per eval family of the baseline (sorted by family); see the module docstring.
  ``runs_test``: the study tests by Student's t over its runs (df = seeds - 1, where there are two or more)."""
  if baseline not in scores:
    raise ValueError(f"baseline {baseline!r} not among the conditions {sorted(scores)}")
  seeds = len(seeds_of(scores, baseline))
  diffs = aa_item_diffs(scores, baseline, aa_condition)
  aa_seeds = len(seeds_of(scores, aa_condition)) if diffs else 0
  c = rescale(aa_seeds, seeds) if diffs else 1.0
  aa_runs = aa_run_variance(scores, baseline, aa_condition)
  out = []
  for family, bases in baseline_by_family(scores, baseline).items():
    v_item = sum(item_variance(b, diffs.get(s), c) for s, b in bases.items()) / len(bases) ** 2
    v_run, source = run_variance(c * aa_runs[family] if family in aa_runs else None,
                                 seed_run_variance(list(bases.values())))
    items = sum(b.shape[1] for b in bases.values())
    se, df, mde = detectable(v_item, v_run, seeds=seeds, item_df=items - len(bases), runs_test=runs_test,
                             alpha=alpha, power=power)
    out.append(FamilyPower(family=family, group="capability" if family in capability_families else "alignment",
                           suites=len(bases), items=items, seeds=seeds,
                           item_se=math.sqrt(v_item), run_se=math.sqrt(v_run), se=se, mde=mde,
                           run_source=source, aa_seeds=aa_seeds if source == "a/a" else 0, alpha=alpha,
                           power=power, df=df, runs_test=runs_test))
  return out
