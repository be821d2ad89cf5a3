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

Each bootstrap gets its own random stream, derived from ``seed`` and the names it compares, so a
result does not depend on which other conditions or suites are in the input.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from xgen.analysis.bootstrap import BootstrapResult, benjamini_hochberg, paired_bootstrap, paired_bootstrap_strata

Scores = Mapping[str, Mapping[int, Mapping[str, Mapping[str, float]]]]

VIEWS = ("domain", "family")


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


def split_suite(suite: str) -> tuple[str, str]:
  """"<family>.<domain>" -> (family, domain)."""
  parts = suite.split(".")
  if len(parts) != 2 or not all(parts):
    raise ValueError(f"suite name must be '<family>.<domain>', got {suite!r}")
  return parts[0], parts[1]


def seeds_of(scores: Scores, condition: str) -> list[int]:
  if condition not in scores or not scores[condition]:
    raise ValueError(f"condition {condition!r} has no scores")
  return sorted(scores[condition])


def common_suites(scores: Scores, condition: str, baseline: str) -> list[str]:
  """Sorted suites present in every seed of both the condition and the baseline."""
  per_seed = [set(scores[c][s]) for c in (condition, baseline) for s in seeds_of(scores, c)]
  return sorted(set.intersection(*per_seed))


def paired_arrays(scores: Scores, condition: str, baseline: str,
                  suite: str) -> tuple[list[str], np.ndarray, np.ndarray]:
  """(item ids, condition[seeds, items], baseline[seeds, items]) on the items every seed of both arms has."""
  tables = {c: [scores[c][s][suite] for s in seeds_of(scores, c)] for c in (condition, baseline)}
  ids = sorted(set.intersection(*(set(t) for arm in tables.values() for t in arm)))
  arrays = [np.array([[t[i] for i in ids] for t in tables[c]], dtype=float).reshape(len(tables[c]), len(ids))
            for c in (condition, baseline)]
  return ids, arrays[0], arrays[1]


def derived_seed(seed: int, *names: str) -> int:
  """A stable per-comparison seed from the caller's seed and the compared names."""
  digest = hashlib.sha256("\x1f".join([str(seed), *names]).encode()).digest()
  return int.from_bytes(digest[:8], "little")


def conditions_of(scores: Scores, baseline: str) -> list[str]:
  if baseline not in scores:
    raise ValueError(f"baseline {baseline!r} not among the conditions {sorted(scores)}")
  return sorted(c for c in scores if c != baseline)


def suite_deltas(scores: Scores, baseline: str, *, alpha: float = 0.05, n_resamples: int = 2000,
                 seed: int = 0) -> list[SuiteDelta]:
  """Every non-baseline condition x every shared suite, sorted by (condition, suite); BH within a condition."""
  out = []
  for condition in conditions_of(scores, baseline):
    raw = []
    for suite in common_suites(scores, condition, baseline):
      ids, cond, base = paired_arrays(scores, condition, baseline, suite)
      if ids:
        result = paired_bootstrap(cond, base, n_resamples=n_resamples,
                                  seed=derived_seed(seed, condition, baseline, suite))
        raw.append((suite, float(cond.mean()), float(base.mean()), result))
    q_values = benjamini_hochberg([r.p_value for *_, r in raw])
    out.extend(_suite_delta(condition, suite, c_mean, b_mean, result, float(q), alpha)
               for (suite, c_mean, b_mean, result), q in zip(raw, q_values))
  return out


def _suite_delta(condition: str, suite: str, condition_mean: float, baseline_mean: float,
                 result: BootstrapResult, q_value: float, alpha: float) -> SuiteDelta:
  family, domain = split_suite(suite)
  return SuiteDelta(condition=condition, suite=suite, family=family, domain=domain, baseline_mean=baseline_mean,
                    condition_mean=condition_mean, delta=result.delta, ci_low=result.ci_low,
                    ci_high=result.ci_high, p_value=result.p_value, q_value=q_value, n_items=result.n_items,
                    n_seeds=result.n_seeds_condition, significant=q_value < alpha)


def column_of(suite: str, view: str) -> str:
  family, domain = split_suite(suite)
  return domain if view == "domain" else family


def transfer_matrix(scores: Scores, baseline: str, *, view: str = "domain", alpha: float = 0.05,
                    n_resamples: int = 2000, seed: int = 0, row_order: Sequence[str] | None = None,
                    column_order: Sequence[str] | None = None) -> TransferMatrix:
  """Conditions x domains (or families), each cell a stratified paired bootstrap over its column's suites.

  ``row_order``/``column_order`` fix the order and also select: rows or columns left out are not
  computed, and a name with no data raises ValueError. Without them, rows and columns are sorted.
  BH runs across all computed cells of the matrix.
  """
  if view not in VIEWS:
    raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
  rows = _ordered(conditions_of(scores, baseline), row_order, "row")
  suites = {row: common_suites(scores, row, baseline) for row in rows}
  columns = _ordered(sorted({column_of(s, view) for row in rows for s in suites[row]}), column_order, "column")
  raw = {}
  for row in rows:
    for column in columns:
      strata = [paired_arrays(scores, row, baseline, s) for s in suites[row] if column_of(s, view) == column]
      strata = [(cond, base) for ids, cond, base in strata if ids]
      if strata:
        raw[row, column] = (paired_bootstrap_strata(strata, n_resamples=n_resamples,
                                                    seed=derived_seed(seed, view, row, baseline, column)),
                            len(strata))
  q_values = benjamini_hochberg([result.p_value for result, _ in raw.values()])
  cells = {key: MatrixCell(row=key[0], column=key[1], delta=result.delta, ci_low=result.ci_low,
                           ci_high=result.ci_high, p_value=result.p_value, q_value=float(q),
                           significant=bool(q < alpha), n_suites=n_suites)
           for (key, (result, n_suites)), q in zip(raw.items(), q_values)}
  return TransferMatrix(view=view, baseline=baseline, rows=tuple(rows), columns=tuple(columns), cells=cells,
                        alpha=alpha)


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
