"""From eval scores to results: per-suite deltas against the baseline, transfer matrices, win counts.

Input: ``scores[condition][seed][suite][item_id] = score`` (``Scores``), e.g. from ``load.load_scores``.
A suite is named "<family>.<domain>" (exactly one dot).

Pairing. A (condition, suite) comparison uses the suites present in every seed of both the condition
and the baseline, and within a suite the sorted item ids present in every seed of both arms; items
missing anywhere are dropped, so both arms are compared on exactly the same items. Seeds are taken in
sorted order, so row k of every suite's array is the same training run.

  suite_deltas     every non-baseline condition x every suite: paired bootstrap delta, CI, p-value;
                   q-values by Benjamini-Hochberg across the suites of each condition (one family of
                   tests per condition); significant means q < alpha.
  transfer_matrix  rows = conditions, columns = eval domains or eval families; a cell is the
                   stratified paired bootstrap over the suites in its column (strata = suites, the
                   statistic the mean of the suites' deltas); BH across all cells of the matrix.
  win_counts       how many of a condition's suites improved, and how many significantly.

Options of ``suite_deltas`` and ``transfer_matrix`` (the defaults keep the plain bootstrap):

  p_values        "bootstrap" (the bootstrap's centred p, floor 1/(n_resamples+1)), "permutation" (the
                  sign-flip test of ``permutation``, resolved far below alpha/N; the CI is the bootstrap's) or
                  "runs" (``replicates``: Student's t over the training runs, p-value and interval from the
                  seeds' own spread plus item sampling; where no arm has two seeds there is no run spread,
                  and that comparison falls back to "permutation"; ``p_method`` says which one ran).
  clusters        {item_id: cluster id} (e.g. ``clusters.twin_clusters``): twins are drawn and flipped together.
  pair_seeds      row k of both arms is one seed pair when the arms have the same seed ids (baseline.sK and
                  X.sK share a data stream and sampling key): drawn and flipped together. Arms with other
                  seeds (the pre-RL model's one seed against three) are compared unpaired.
  resample_seeds  False: the bootstrap draws items (clusters) only, an interval conditional on the trained
                  runs like the sign-flip p-value; True (default) also draws seeds (conservative with few
                  seeds, see ``bootstrap``).
  run_variance    None (default): the sign-flip p-value is conditional on the trained runs. "family" or
                  "condition": it also covers run-to-run variation, the delta's run variance estimated per
                  suite (``variance.delta_run_variance``) and pooled over the suites of the condition's
                  family, or of the whole condition (then clipped at 0; 0 where no arm has two seeds).
  aa_condition    the study's A/A arm (the baseline trained again on other seeds), if it has one: each other
                  condition's run variance is at least the A/A arm's per family (``aa_run_variance``), so a
                  one-seed study does not read run-to-run variation as an effect. The A/A arm itself is
                  tested without it: the suites it calls significant are the study's false positives.
  mode            the eval mode of the scores ("greedy", or "sampled": an item's score is the mean over its
                  samples); only recorded in the results, so both can be reported side by side.

Each bootstrap gets its own random stream, derived from ``seed`` and the names it compares, so a
result does not depend on which other conditions or suites are in the input.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence

import numpy as np

from xgen.analysis.bootstrap import BootstrapResult, benjamini_hochberg, paired_bootstrap_strata
from xgen.analysis.clusters import cluster_labels
from xgen.analysis.pairs import Scores, common_suites, paired_arrays, seeds_paired, split_suite
from xgen.analysis.permutation import sign_flip_test_strata
from xgen.analysis.replicates import run_t_test
from xgen.analysis.variance import delta_run_variance


VIEWS = ("domain", "family")
P_VALUES = ("bootstrap", "permutation", "runs")
RUN_VARIANCE = (None, "family", "condition")


@dataclass(frozen=True)
class SuiteDelta:
  """One condition against the baseline on one eval suite (n_seeds counts the condition's seeds)."""
  condition: str
  suite: str
  family: str
  domain: str
  baseline_mean: float
  condition_mean: float
  delta: float
  ci_low: float
  ci_high: float
  p_value: float
  q_value: float
  n_items: int
  n_seeds: int
  significant: bool
  p_method: str = "bootstrap"     # "bootstrap", "permutation" (sign-flip test) or "runs" (t over runs)
  mode: str = "greedy"            # eval mode of the scores: "greedy" or "sampled" (mean over samples)
  n_clusters: int | None = None   # resampling units when items were clustered
  paired_seeds: bool = False      # seeds resampled and flipped as pairs across arms
  seeds_resampled: bool = True    # the CI also draws seeds (False: conditional on the trained runs)
  run_variance: float = 0.0       # pooled run-level variance of the delta in the sign-flip null


@dataclass(frozen=True)
class MatrixCell:
  """One condition against the baseline on all suites of one eval domain (or family)."""
  row: str
  column: str
  delta: float
  ci_low: float
  ci_high: float
  p_value: float
  q_value: float
  significant: bool
  n_suites: int
  p_method: str = "bootstrap"


@dataclass(frozen=True)
class TransferMatrix:
  """Conditions (rows) x eval domains or families (columns); a cell is absent where no suite pairs up."""
  view: str
  baseline: str
  rows: tuple[str, ...]
  columns: tuple[str, ...]
  cells: dict[tuple[str, str], MatrixCell]
  alpha: float

  def cell(self, row: str, column: str) -> MatrixCell | None:
    return self.cells.get((row, column))

  def to_rows(self) -> list[dict]:
    """One flat dict per present cell, in row then column order (for CSV/JSON export)."""
    out = []
    for row in self.rows:
      for column in self.columns:
        cell = self.cell(row, column)
        if cell is not None:
          out.append({"view": self.view, "baseline": self.baseline, "alpha": self.alpha, "row": row,
                      "column": column, "delta": cell.delta, "ci_low": cell.ci_low, "ci_high": cell.ci_high,
                      "p_value": cell.p_value, "q_value": cell.q_value, "significant": cell.significant,
                      "n_suites": cell.n_suites})
    return out


@dataclass(frozen=True)
class WinCount:
  """How many of a condition's suites improved on the baseline (significant: improved and q < alpha)."""
  improved: int
  significant: int
  total: int
  text: str


def derived_seed(seed: int, *names: str) -> int:
  """A stable per-comparison seed from the caller's seed and the compared names."""
  digest = hashlib.sha256("\x1f".join([str(seed), *names]).encode()).digest()
  return int.from_bytes(digest[:8], "little")


def conditions_of(scores: Scores, baseline: str) -> list[str]:
  if baseline not in scores:
    raise ValueError(f"baseline {baseline!r} not among the conditions {sorted(scores)}")
  return sorted(c for c in scores if c != baseline)


def suite_deltas(scores: Scores, baseline: str, *, alpha: float = 0.05, n_resamples: int = 2000,
                 seed: int = 0, p_values: str = "bootstrap", clusters: Mapping[str, Hashable] | None = None,
                 pair_seeds: bool = False, mode: str = "greedy", max_resamples: int = 100_000,
                 min_hits: int = 100, resample_seeds: bool = True,
                 run_variance: str | None = None, aa_condition: str | None = None) -> list[SuiteDelta]:
  """Every non-baseline condition x every shared suite, sorted by (condition, suite); BH within a condition.

  ``max_resamples`` and ``min_hits`` set the sign-flip test's resolution (``permutation``).
  """
  _check_p_values(p_values, run_variance)
  floor = aa_run_variance(scores, baseline, aa_condition)
  out = []
  for condition in conditions_of(scores, baseline):
    paired = pair_seeds and seeds_paired(scores, condition, baseline)
    arrays = {suite: paired_arrays(scores, condition, baseline, suite)
              for suite in common_suites(scores, condition, baseline)}
    arrays = {suite: value for suite, value in arrays.items() if value[0]}
    own = floor if condition != aa_condition else {}
    pooled = _at_least(pooled_run_variance(arrays, paired, run_variance), own)
    raw = []
    for suite, (ids, cond, base) in arrays.items():
      labels = cluster_labels(ids, clusters)
      result, p_value, method = _test([arrays[suite]], seed=seed, names=(condition, baseline, suite),
                                      n_resamples=n_resamples, p_values=p_values, clusters=clusters,
                                      pair_seeds=paired, max_resamples=max_resamples, min_hits=min_hits,
                                      resample_seeds=resample_seeds, run_variance=pooled[suite])
      extra = dict(p_method=method, mode=mode, n_clusters=None if labels is None else int(labels.max()) + 1,
                   paired_seeds=paired, seeds_resampled=resample_seeds and method != "runs",
                   run_variance=pooled[suite] if method == "permutation" else 0.0)
      raw.append((suite, float(cond.mean()), float(base.mean()), result, p_value, extra))
    q_values = benjamini_hochberg([r[4] for r in raw])
    out.extend(_suite_delta(condition, suite, c_mean, b_mean, result, float(q), alpha, p_value=p_value, **extra)
               for (suite, c_mean, b_mean, result, p_value, extra), q in zip(raw, q_values))
  return out


def pooled_run_variance(arrays: Mapping[str, tuple], paired: bool, pooling: str | None) -> dict[str, float]:
  """suite -> the delta's run variance pooled over the suites of its family ("family") or all ("condition"),
  clipped at 0; 0 everywhere without pooling or where no estimate exists."""
  if pooling is None:
    return {suite: 0.0 for suite in arrays}
  estimates = {suite: delta_run_variance(cond, base, pair_seeds=paired) if len(ids) >= 2 else float("nan")
               for suite, (ids, cond, base) in arrays.items()}
  out = {}
  for suite in arrays:
    group = [v for other, v in estimates.items() if np.isfinite(v)
             and (pooling == "condition" or split_suite(other)[0] == split_suite(suite)[0])]
    out[suite] = max(0.0, float(np.mean(group))) if group else 0.0
  return out


def aa_run_variance(scores: Scores, baseline: str, aa_condition: str | None) -> dict[str, float]:
  """family -> the run variance of a suite delta, estimated from the A/A arm (two runs of one training, so
  every difference is run-to-run variation plus item sampling): the mean over the family's suites of
  (A/A delta^2 - the delta's item-sampling variance), clipped at 0. Item variance ignores twin clusters,
  which can only make the estimate larger. Empty without an A/A arm in ``scores``."""
  if aa_condition is None or aa_condition not in scores:
    return {}
  by_family: dict[str, list[float]] = {}
  for suite in common_suites(scores, aa_condition, baseline):
    ids, cond, base = paired_arrays(scores, aa_condition, baseline, suite)
    if len(ids) < 2:
      continue
    diff = cond.mean(axis=0) - base.mean(axis=0)  # per item, over seeds
    by_family.setdefault(split_suite(suite)[0], []).append(diff.mean() ** 2 - diff.var(ddof=1) / len(diff))
  return {family: max(0.0, float(np.mean(values))) for family, values in by_family.items()}


def _at_least(pooled: dict[str, float], floor: Mapping[str, float]) -> dict[str, float]:
  """Each suite's run variance raised to its family's floor (suite -> variance; floor: family -> variance)."""
  return {suite: max(value, floor.get(split_suite(suite)[0], 0.0)) for suite, value in pooled.items()}


def deltas_by_mode(scores_by_mode: Mapping[str, Scores], baseline: str, **options) -> dict[str, list[SuiteDelta]]:
  """{mode: suite_deltas(scores, baseline, mode=mode, **options)} for each eval mode's scores (e.g. from
  ``load.load_modes``: greedy, and sampled where an item's score is the mean over its samples)."""
  if "mode" in options:
    raise ValueError("deltas_by_mode takes the mode from scores_by_mode's keys, not from options")
  return {mode: suite_deltas(scores, baseline, mode=mode, **options) for mode, scores in scores_by_mode.items()}


def _check_p_values(p_values: str, run_variance: str | None = None) -> None:
  if p_values not in P_VALUES:
    raise ValueError(f"p_values must be one of {P_VALUES}, got {p_values!r}")
  if run_variance not in RUN_VARIANCE:
    raise ValueError(f"run_variance must be one of {RUN_VARIANCE}, got {run_variance!r}")


def _suite_delta(condition: str, suite: str, condition_mean: float, baseline_mean: float,
                 result: BootstrapResult, q_value: float, alpha: float, *, p_value: float | None = None,
                 **extra) -> SuiteDelta:
  family, domain = split_suite(suite)
  return SuiteDelta(condition=condition, suite=suite, family=family, domain=domain, baseline_mean=baseline_mean,
                    condition_mean=condition_mean, delta=result.delta, ci_low=result.ci_low,
                    ci_high=result.ci_high, p_value=result.p_value if p_value is None else p_value,
                    q_value=q_value, n_items=result.n_items, n_seeds=result.n_seeds_condition,
                    significant=q_value < alpha, **extra)


def column_of(suite: str, view: str) -> str:
  family, domain = split_suite(suite)
  return domain if view == "domain" else family


def transfer_matrix(scores: Scores, baseline: str, *, view: str = "domain", alpha: float = 0.05,
                    n_resamples: int = 2000, seed: int = 0, row_order: Sequence[str] | None = None,
                    column_order: Sequence[str] | None = None, p_values: str = "bootstrap",
                    clusters: Mapping[str, Hashable] | None = None, pair_seeds: bool = False,
                    max_resamples: int = 100_000, min_hits: int = 100,
                    resample_seeds: bool = True, run_variance: str | None = None,
                    aa_condition: str | None = None) -> TransferMatrix:
  """Conditions x domains (or families), each cell a stratified paired bootstrap over its column's suites.

  ``row_order``/``column_order`` fix the order and also select: rows or columns left out are not
  computed, and a name with no data raises ValueError. Without them, rows and columns are sorted.
  BH runs across all computed cells of the matrix. ``p_values``, ``clusters``, ``pair_seeds``,
  ``resample_seeds``, ``run_variance`` and ``aa_condition`` as in ``suite_deltas`` (the sign-flip test is
  stratified like the bootstrap; a cell's run variance is the mean of its suites', as if a run were better
  on all of them).
  """
  if view not in VIEWS:
    raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
  _check_p_values(p_values, run_variance)
  rows = _ordered(conditions_of(scores, baseline), row_order, "row")
  suites = {row: common_suites(scores, row, baseline) for row in rows}
  columns = _ordered(sorted({column_of(s, view) for row in rows for s in suites[row]}), column_order, "column")
  floor = aa_run_variance(scores, baseline, aa_condition)
  raw = {}
  for row in rows:
    paired = pair_seeds and seeds_paired(scores, row, baseline)
    arrays = {s: paired_arrays(scores, row, baseline, s) for s in suites[row]}
    arrays = {s: value for s, value in arrays.items() if value[0]}
    own = floor if row != aa_condition else {}
    pooled = _at_least(pooled_run_variance(arrays, paired, run_variance), own)
    for column in columns:
      mine = [s for s in arrays if column_of(s, view) == column]
      if mine:
        result, p_value, method = _test([arrays[s] for s in mine], seed=seed, names=(view, row, baseline, column),
                                        n_resamples=n_resamples, p_values=p_values, clusters=clusters,
                                        pair_seeds=paired, max_resamples=max_resamples, min_hits=min_hits,
                                        resample_seeds=resample_seeds,
                                        run_variance=float(np.mean([pooled[s] for s in mine])))
        raw[row, column] = result, p_value, len(mine), method
  q_values = benjamini_hochberg([p_value for _, p_value, _, _ in raw.values()])
  cells = {key: MatrixCell(row=key[0], column=key[1], delta=result.delta, ci_low=result.ci_low,
                           ci_high=result.ci_high, p_value=p_value, q_value=float(q),
                           significant=bool(q < alpha), n_suites=n_suites, p_method=method)
           for (key, (result, p_value, n_suites, method)), q in zip(raw.items(), q_values)}
  return TransferMatrix(view=view, baseline=baseline, rows=tuple(rows), columns=tuple(columns), cells=cells,
                        alpha=alpha)


def _test(strata: list, *, seed: int, names: tuple[str, ...], n_resamples: int, p_values: str,
          clusters: Mapping[str, Hashable] | None, pair_seeds: bool, max_resamples: int,
          min_hits: int, resample_seeds: bool, run_variance: float) -> tuple[BootstrapResult, float, str]:
  """(delta with its interval, p-value, the method that gave them) for one comparison over ``strata``
  (a suite's one (ids, condition, baseline), or a matrix cell's several)."""
  arrays = [(cond, base) for _, cond, base in strata]
  labels = None if clusters is None else [cluster_labels(ids, clusters) for ids, _, _ in strata]
  if p_values == "runs":
    by_runs = run_t_test(arrays, pair_seeds=pair_seeds, clusters=labels)
    if by_runs is not None:
      return by_runs, by_runs.p_value, "runs"
    p_values = "permutation"
  result = paired_bootstrap_strata(arrays, n_resamples=n_resamples, seed=derived_seed(seed, *names),
                                   clusters=labels, pair_seeds=pair_seeds, resample_seeds=resample_seeds)
  p_value = result.p_value
  if p_values == "permutation":
    p_value = sign_flip_test_strata(arrays, clusters=labels, pair_seeds=pair_seeds, max_resamples=max_resamples,
                                    min_hits=min_hits, run_variance=run_variance,
                                    seed=derived_seed(seed, "sign-flip", *names)).p_value
  return result, p_value, p_values


def _ordered(available: list[str], order: Sequence[str] | None, what: str) -> list[str]:
  if order is None:
    return available
  unknown = [name for name in order if name not in available]
  if unknown:
    raise ValueError(f"{what}_order names without data: {unknown} (available: {available})")
  if len(set(order)) != len(order):
    raise ValueError(f"{what}_order has duplicates: {list(order)}")
  return list(order)


def win_counts(deltas: Sequence[SuiteDelta], condition: str) -> WinCount:
  """Suites where ``condition`` beat the baseline (delta > 0), and of those how many significantly."""
  mine = [d for d in deltas if d.condition == condition]
  improved = sum(d.delta > 0 for d in mine)
  significant = sum(d.delta > 0 and d.significant for d in mine)
  return WinCount(improved=improved, significant=significant, total=len(mine),
                  text=f"{improved} of {len(mine)} improved ({significant} significant)")
