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
(cancels in the paired difference), r_k,s the run's shift on suite s (the runs of one family share some of it:
suites are NOT independent), e_k,i the run x item noise (independent over runs and items). The A/A arm (the
baseline trained again on other seeds) is the same training, so its runs and the baseline's are R = K + K'
runs of one condition; both variances are estimated from all R of them, on the items both arms have:

  SE^2 = V_item + V_run

  V_item = (1 / S^2) sum_s v_s / n_s   (the variance of a mean of S suite means, items independent across
           suites), v_s = 2 MS_res,s / K the variance of a per-item difference between two arms of K seeds,
           MS_res,s the run x item residual mean square of the suite's [R, n_s] scores (the two-way ANOVA of
           ``variance.run_component``), an unbiased sigma_e^2; with one run, 2 x its variance over items
           (ddof 1), which also holds the difficulty spread that pairing cancels: an upper bound.
  V_run  = 2 sigma_R^2 / K, sigma_R^2 the run variance of the family mean itself (not of each suite: a shift
           that differs between a family's suites averages down in their mean, one they share does not):
           var_r(m_r) (ddof 1) - (1 / S^2) sum_s MS_res,s / n_s, clipped at 0, m_r run r's family mean (mean
           over suites of its suite means), the subtracted term the item noise each run's mean carries, already
           in V_item. R - 1 degrees of freedom: 5 for 3 seeds and a 3-seed A/A arm, where the baseline's seeds
           alone have 2. Unpaired runs: a run component that a seed pair shares (data stream, sampling key) is
           not cancelled, so conservative for paired seeds. With one run and no A/A arm it is unknown: run_se
           is NaN and se, mde come from V_item alone, reported as a lower bound ("at least";
           ``FamilyPower.lower_bound``), because run variation usually dominates.

A family whose suites the A/A arm does not all have is estimated from the baseline's seeds alone. Estimates
from few runs have few degrees of freedom: an MDE from them is a rough figure, and clipping at 0 biases V_run
up. Calibration (tests): 3 seeds, 4 suites of 40 0/1 items, run shift sd 0.02 shared by the suites; the true MDE
is 9.4 points. With ``runs_test`` the t-test over runs detects 87% (run shift sd 0.02) and 81% (0.08) of effects of its
computed MDE (a 3-seed A/A arm); the sign-flip test over seed pairs and items with the run variance in its null,
85% (with an A/A arm) and 81% (the baseline's seeds alone); the bootstrap CI, which also resamples the 3 seed
pairs (conservative, see ``bootstrap``), about 60%.

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
from xgen.analysis.variance import residual_mean_square


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
  run_source: str     # "runs" (the baseline's and the A/A arm's), "seeds" (the baseline's) or "none"
  aa_seeds: int = 0   # the A/A arm's runs among them when run_source is "runs"
  alpha: float = 0.05
  power: float = 0.8
  df: float = math.inf  # the test's Welch-Satterthwaite degrees of freedom (inf: a z-test)
  runs_test: bool = False  # computed for Student's t over runs (``replicates``)

  @property
  def lower_bound(self) -> bool:
    """True when run-to-run variation is unknown and left out of se and mde."""
    return not math.isfinite(self.run_se)

  def text(self) -> str:
    """"6.1 points (items 3.2, runs 4.0 sd from the baseline's 3 runs and the A/A arm's 3; 3 seeds)"; "at least
    ..." without runs."""
    if self.lower_bound:
      return (f"at least {100 * self.mde:.1f} points (items {100 * self.item_se:.1f} sd; runs unknown: "
              f"{self.seeds} seed and no A/A arm)")
    mine = f"the baseline's {self.seeds} run{'s' if self.seeds != 1 else ''}"
    source = f"{mine} and the A/A arm's {self.aa_seeds}" if self.run_source == "runs" else mine
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


def item_variance(runs: np.ndarray, seeds: int) -> float:
  """v_s / n_s of one suite's delta between two arms of ``seeds`` seeds, from its [runs, items] scores."""
  n_runs, n_items = runs.shape
  if n_runs >= 2:
    return 2.0 * residual_mean_square(runs) / (seeds * n_items)
  return 2.0 * float(runs[0].var(ddof=1)) / n_items


def run_variance(suites: Sequence[np.ndarray], seeds: int) -> float:
  """V_run = 2 sigma_R^2 / seeds of a family mean from its suites' [runs, items] scores (the same runs in each),
  clipped at 0; NaN with one run."""
  n_runs = suites[0].shape[0]
  if n_runs < 2:
    return float("nan")
  family_means = np.mean([s.mean(axis=1) for s in suites], axis=0)  # [runs]
  noise = float(np.mean([residual_mean_square(s) / s.shape[1] for s in suites])) / len(suites)
  return 2.0 * max(0.0, float(family_means.var(ddof=1)) - noise) / seeds


def runs_by_family(scores: Scores, baseline: str, aa_condition: str | None) -> dict[str, tuple[dict, int]]:
  """family -> (suite -> [runs, items] scores, the A/A arm's runs among them): the baseline's seeds over the A/A
  arm's on the items both have where the A/A arm has every suite of the family, else the baseline's alone;
  suites with fewer than 2 such items are left out."""
  has_aa = aa_condition is not None and aa_condition in scores
  shared = set(common_suites(scores, aa_condition, baseline)) if has_aa else set()
  baseline_only: dict[str, dict[str, np.ndarray]] = {}
  pooled: dict[str, dict[str, np.ndarray]] = {}
  for suite in common_suites(scores, baseline, baseline):
    family = split_suite(suite)[0]
    ids, base, _ = paired_arrays(scores, baseline, baseline, suite)
    if len(ids) >= 2:
      baseline_only.setdefault(family, {})[suite] = base
    if suite in shared:
      ids, aa, base = paired_arrays(scores, aa_condition, baseline, suite)
      if len(ids) >= 2:
        pooled.setdefault(family, {})[suite] = np.vstack([base, aa])
  aa_runs = len(seeds_of(scores, aa_condition)) if has_aa else 0
  out = {}
  for family, suites in sorted(baseline_only.items()):
    together = pooled.get(family, {})
    out[family] = (together, aa_runs) if set(together) == set(suites) else (suites, 0)
  return out


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
  out = []
  for family, (suites, aa_runs) in runs_by_family(scores, baseline, aa_condition).items():
    arrays = list(suites.values())
    v_item = sum(item_variance(a, seeds) for a in arrays) / len(arrays) ** 2
    v_run = run_variance(arrays, seeds)
    source = "none" if not math.isfinite(v_run) else "runs" if aa_runs else "seeds"
    items = sum(a.shape[1] for a in arrays)
    se, df, mde = detectable(v_item, v_run, seeds=seeds, item_df=items - len(arrays), runs_test=runs_test,
                             alpha=alpha, power=power)
    out.append(FamilyPower(family=family, group="capability" if family in capability_families else "alignment",
                           suites=len(arrays), items=items, seeds=seeds,
                           item_se=math.sqrt(v_item), run_se=math.sqrt(v_run), se=se, mde=mde,
                           run_source=source, aa_seeds=aa_runs, alpha=alpha, power=power, df=df,
                           runs_test=runs_test))
  return out
